"""`panic-contract accept REPORT.json`: accepted-drift entries for a drift report's findings, ready to paste.

The entries expire `--days` from today (30 by default), and never beyond the cap the loader holds them to
(`--accept-max-days` or `PANIC_API_ACCEPT_MAX_DAYS`): under a cap the default is the cap when that is
sooner, and a `--days` beyond it is refused, so what it prints is never refused once its TODOs are written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from panic_contract import settings
from panic_contract.commands.cli import option_error
from panic_contract.core.accepted import today_utc
from panic_contract.core.verdict import Decision, Verdict, command_stopped
from panic_contract.errors import AcceptedDriftError, OptionError

PROG = "panic-contract accept"
DEFAULT_DAYS = 30
CAP = settings.SETTINGS["accept_max_days"]


def entries_for(findings: Sequence[Mapping[str, Any]], expires: date, note: str = "") -> str:
    """YAML entries for a report's findings, with `reason: TODO`, ready to paste into the file."""
    lines = [f"# accepted drift, printed by {PROG}: replace each TODO with why (a ticket), keep what you accept"]
    lines += [f"# {note}"] if note else []
    for finding in findings:
        lines += [
            f"- kind: {finding['kind']}",
            f"  field: {json.dumps(finding['field'])}" if finding.get("field") else "  field: null",
            f"  # seen: {', '.join(finding.get('actual_values') or [finding.get('actual', '')])}"[:200],
            "  reason: TODO",
            f"  expires: {expires.isoformat()}",
        ]
    return "\n".join(lines) + "\n"


def read_report(path: Path) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AcceptedDriftError(f"{path}: cannot read the drift report: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise AcceptedDriftError(f"{path} line {exc.lineno}: not a JSON drift report: {exc.msg}") from None
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list) or not all(isinstance(f, dict) and "kind" in f for f in findings):
        raise AcceptedDriftError(f"{path}: not a drift report (no findings list): write one with --drift-report")
    return findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", type=Path, metavar="REPORT", help="a JSON drift report (--drift-report)")
    parser.add_argument(
        "--days",
        metavar="N",
        help=f"days until the entries expire (default {DEFAULT_DAYS}, or the --accept-max-days cap when it is "
        "sooner; never beyond the cap)",
    )
    settings.add_arguments(parser, ["accept_max_days"])


def expiry_days(given: str | None, cap: int | None) -> tuple[int, str]:
    """How many days ahead the entries expire, and a note when the cap chose it; OptionError beyond the cap."""
    if given is None:
        if cap is not None and cap < DEFAULT_DAYS:
            return cap, f"expiring in {cap} day(s), the cap set by {CAP.origin()}"
        return DEFAULT_DAYS, ""
    try:
        days = settings.days(given)
    except ValueError as exc:
        raise OptionError(f"--days is {given[:20]!r}; {exc}") from None
    if cap is not None and days > cap:
        raise OptionError(
            f"--days is {days}, beyond the {cap}-day cap set by {CAP.origin()}, so the loader would refuse the "
            f"entries: give --days {cap} or fewer, or leave --days out"
        )
    return days, ""


def run(args: argparse.Namespace) -> int:
    try:
        cap = settings.from_namespace(args, ["accept_max_days"], os.environ)["accept_max_days"]
        days, note = expiry_days(args.days, cap)
    except OptionError as exc:  # a setting, --days: the command line
        return option_error(PROG, str(exc))
    try:
        findings = read_report(args.report)
    except AcceptedDriftError as exc:
        return command_stopped(PROG, Decision(Verdict.USAGE, str(exc)))
    sys.stdout.write(entries_for(findings, today_utc() + timedelta(days=days), note))
    return 0
