"""`panic-contract accept REPORT.json`: accepted-drift entries for a drift report's findings, ready to paste."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from panic_contract.core.accepted import today_utc
from panic_contract.core.verdict import Decision, Verdict, command_stopped
from panic_contract.errors import AcceptedDriftError

PROG = "panic-contract accept"
DEFAULT_DAYS = 30


def entries_for(findings: Sequence[Mapping[str, Any]], expires: date) -> str:
    """YAML entries for a report's findings, with `reason: TODO`, ready to paste into the file."""
    lines = [f"# accepted drift, printed by {PROG}: replace each TODO with why (a ticket), keep what you accept"]
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
        "--days", type=int, default=DEFAULT_DAYS, help=f"days until the entries expire (default {DEFAULT_DAYS})"
    )


def run(args: argparse.Namespace) -> int:
    problem = f"--days is {args.days}; give a whole number of days >= 1" if args.days < 1 else None
    try:
        findings = read_report(args.report)
    except AcceptedDriftError as exc:
        problem = problem or str(exc)
    if problem is not None:
        return command_stopped(PROG, Decision(Verdict.USAGE, problem))
    sys.stdout.write(entries_for(findings, today_utc() + timedelta(days=args.days)))
    return 0
