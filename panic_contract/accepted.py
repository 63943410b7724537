"""Accepted drift: findings a team has reported to the provider, acknowledged until a date.

`--accepted-drift FILE` names a YAML list of entries, keyed by what a person reads, not by a hash:

    - kind: unknown-status
      field: $.status
      value: Escalated              # optional: only this value is accepted
      reason: reported to the provider as ticket 4411
      expires: 2026-12-31

A finding that matches an unexpired entry is reported as accepted and does not fail the run; one
that matches an expired entry fails it, naming the entry and its reason; an entry that matched
nothing in a run that validated bodies is reported as stale (the provider fixed it: delete it).
`panic-contract accept REPORT.json` prints entries for a drift report's findings, ready to paste.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from panic_contract.findings import Finding, Kind, describe_value
from panic_contract.verdict import Decision, Verdict, command_stopped

PROG = "panic-contract accept"
DEFAULT_DAYS = 30
_KEYS = frozenset({"kind", "field", "value", "reason", "expires"})

Status = Literal["accepted", "expired"]


class AcceptedDriftError(Exception):
    """The accepted-drift file cannot be used; the message is one line naming the file and line."""


@dataclass(frozen=True)
class Entry:
    kind: str
    field: str | None
    reason: str
    expires: date
    line: int
    value: Any = None
    has_value: bool = False

    def matches(self, finding: Finding) -> bool:
        if str(finding.kind) != self.kind or finding.field != self.field:
            return False
        return not self.has_value or finding.actual in {str(self.value), describe_value(self.value)}

    def label(self) -> str:
        value = f" = {describe_value(self.value)}" if self.has_value else ""
        return f"{self.kind} {self.field or '-'}{value}"

    def describe(self) -> str:
        return f"{self.label()} (line {self.line}, until {self.expires.isoformat()}: {self.reason})"


@dataclass(frozen=True)
class Acceptance:
    """The entries of one file, judged against one day."""

    entries: tuple[Entry, ...]
    today: date

    def classify(self, finding: Finding) -> tuple[Status, Entry] | None:
        """Whether an entry covers `finding`: accepted while it lasts, expired after."""
        for entry in self.entries:
            if entry.matches(finding):
                return ("expired" if entry.expires < self.today else "accepted"), entry
        return None

    def stale(self, used_lines: Iterable[int]) -> list[Entry]:
        used = set(used_lines)
        return [entry for entry in self.entries if entry.line not in used]


def today_utc() -> date:
    return datetime.now(UTC).date()


def load(path: Path, today: date | None = None) -> Acceptance:
    """Read and check the file; AcceptedDriftError (one line naming the line) for anything malformed."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AcceptedDriftError(f"{where}: cannot read the accepted-drift file: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise AcceptedDriftError(f"{where}{line}: not valid YAML: {problem}") from None
    if root is None:
        return Acceptance((), today or today_utc())
    if not isinstance(root, yaml.SequenceNode):
        raise AcceptedDriftError(f"{where} line {root.start_mark.line + 1}: expected a list of entries (- kind: ...)")
    entries = tuple(_entry(node, where) for node in root.value)
    return Acceptance(entries, today or today_utc())


def _entry(node: yaml.Node, where: str) -> Entry:
    line = node.start_mark.line + 1
    at = f"{where} line {line}"
    if not isinstance(node, yaml.MappingNode):
        raise AcceptedDriftError(f"{at}: an entry is a mapping with kind, field, reason and expires")
    data: dict[str, Any] = yaml.SafeLoader("").construct_document(node)
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise AcceptedDriftError(f"{at}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_KEYS))}")
    kind = data.get("kind")
    if kind not in {str(k) for k in Kind}:
        raise AcceptedDriftError(f"{at}: kind {kind!r} is not a finding kind; allowed: {', '.join(map(str, Kind))}")
    field = data.get("field")
    if field is not None and not isinstance(field, str):
        raise AcceptedDriftError(f"{at}: field must be a JSON path like $.status, or left out")
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise AcceptedDriftError(f"{at}: reason is required: say why this drift is accepted (a ticket, a date)")
    expires = data.get("expires")
    if isinstance(expires, datetime):
        expires = expires.date()
    if not isinstance(expires, date):
        raise AcceptedDriftError(f"{at}: expires must be a date, e.g. expires: 2026-12-31")
    return Entry(str(kind), field, reason.strip(), expires, line, data.get("value"), "value" in data)


# --- `panic-contract accept REPORT.json` ----------------------------------------------------------


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
