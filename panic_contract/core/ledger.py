"""The ledger of a run: findings deduplicated and counted, each classified once against the accepted drift.

A finding folded in meets the accepted drift there (`Acceptance.classify`) and nowhere else; the
signals seen and the bodies validated are counted beside. The ledgers of one run's processes (pytest-xdist
workers, the audit's parts) merge into one, keeping each finding's classification.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from panic_contract.core.accepted import Acceptance, Entry, Status
from panic_contract.core.coverage import Coverage
from panic_contract.core.findings import Finding, Inspection, Kind, Severity

# A ledger entry's key: kind, field, and the line of the accepted-drift entry that covers it (None: none).
# Findings of one kind and field that entries classify differently (an accepted "Escalated", an open
# "Paused") stay apart, so one never hides the other.
LedgerKey = tuple[str, str | None, int | None]

# A finding's weight in this run: its kind's severity, or `warning` for drift only on fields the integration does
# not read (`--reads`): reported everywhere, failing the run only under --strict-drift, as additive findings do.
Weight = Severity | Literal["warning"]
# The kinds about one field's value; every other kind is about the whole response (status code, content type,
# body, auth, id mismatch) and stays breaking whatever is read.
WEIGHED_KINDS = frozenset(
    {Kind.MISSING_FIELD, Kind.TYPE_CHANGED, Kind.NULL_IN_NON_NULLABLE, Kind.FORMAT_VIOLATED, Kind.UNKNOWN_STATUS}
)


def weighed(finding: Finding, reads: frozenset[str] | None) -> Weight:
    """`finding`'s weight when the integration reads `reads` (JSON paths; None: every field, as undeclared)."""
    severity = finding.severity
    if reads is None or severity != "breaking" or finding.kind not in WEIGHED_KINDS or finding.field is None:
        return severity
    return "breaking" if any(_related(finding.field, path) for path in reads) else "warning"


def _related(one: str, other: str) -> bool:
    """One JSON path is the other, or inside it: drift on `$.location` is drift on `$.location.latitude`."""
    return _within(one, other) or _within(other, one)


def _within(inner: str, outer: str) -> bool:
    return inner == outer or (inner.startswith(outer) and inner[len(outer)] in ".[")


@dataclass
class LedgerEntry:
    """One deduplicated finding: the first occurrence, how many responses showed it, where.

    Its classification (`acceptance`, `accepted_by`, `accepted_line`) is decided once, when the ledger
    first folds a finding in under this key; every later reading (the verdict, each test's failure
    lines, the reports, a merge into another ledger) reads it from here.
    """

    first: Finding
    count: int = 0
    samples: list[str] = field(default_factory=list)
    actuals: list[str] = field(default_factory=list)
    acceptance: str | None = None  # "accepted" or "expired" when an accepted-drift entry covers it
    accepted_by: str | None = None  # that entry, as a person reads it
    accepted_line: int | None = None
    severity: Weight = "breaking"  # weighed once, as classified: the read set's say on its field (`weighed`)

    @property
    def key(self) -> LedgerKey:
        return (str(self.first.kind), self.first.field, self.accepted_line)

    @property
    def fails(self) -> bool:
        """Counts toward drift: not covered by an unexpired accepted-drift entry."""
        return self.acceptance != "accepted"

    def counts(self, strict_drift: bool) -> bool:
        """Fails the run: not accepted, and breaking (or additive, or a warning, under --strict-drift)."""
        return self.fails and (strict_drift or self.severity == "breaking")

    def as_dict(self) -> dict[str, Any]:
        finding = self.first
        extra = {"acceptance": self.acceptance, "accepted_by": self.accepted_by, "accepted_line": self.accepted_line}
        return {
            "kind": str(finding.kind),
            "severity": self.severity,
            "field": finding.field,
            "expected": finding.expected,
            "actual": finding.actual,
            "request": finding.request,
            "credentials": finding.credentials,
            "count": self.count,
            "message": finding.message(),
            "samples": list(self.samples),
            "actual_values": list(self.actuals),
            **({"evidence": list(finding.evidence)} if finding.evidence else {}),
            **({key: value for key, value in extra.items() if value is not None}),
        }


_WEIGHT_ORDER: dict[str, int] = {"breaking": 0, "warning": 1, "additive": 2}
MAX_SAMPLES = 5
MAX_ANSWERED = 10


class Ledger:
    """Findings deduplicated by kind, field and accepted-drift entry, with counts; the signals seen; what was
    validated.

    The ledger is the one place findings are classified against accepted drift: each finding as it is
    folded in (`add`, `add_findings`), by `acceptance`. `merge` takes another ledger's classification as
    it is, so the workers of one run (pytest-xdist, the audit's parts), each given the same acceptance,
    add up to what one process would have found.
    """

    def __init__(
        self,
        acceptance: Acceptance | None = None,
        reads: Iterable[str] | None = None,
        *,
        coverage: Coverage | None = None,
    ) -> None:
        self.acceptance = acceptance
        # the JSON paths the integration reads (`--reads`); None: every field is read
        self.reads = frozenset(reads) if reads is not None else None
        self.coverage = coverage  # with --coverage: what the responses exercised, counted beside the findings
        self.entries: dict[LedgerKey, LedgerEntry] = {}
        self.signals: dict[str, int] = {}
        self.validated_bodies = 0
        self.requests = 0
        self.answered: list[int] = []  # callout ids that answered 200 with a body (the first few)

    def add(self, inspection: Inspection, sample: str | None = None, times: int = 1) -> list[LedgerEntry]:
        """Count `inspection`, seen `times` responses (the audit folds its clean ones in at once).

        Returns the entry each of its findings went to, in order.
        """
        self.requests += times
        if inspection.validated_body:
            self.validated_bodies += times
        if inspection.signal is not None:
            name = str(inspection.signal)  # a plain str: xdist cannot serialise an enum
            self.signals[name] = self.signals.get(name, 0) + times
        return self.add_findings(inspection.findings, sample, times)

    def add_findings(self, findings: Iterable[Finding], sample: str | None = None, times: int = 1) -> list[LedgerEntry]:
        """Fold findings in without counting a response (more findings about one already counted)."""
        return [
            self._classify_and_put(finding, times, [sample or finding.request], [finding.actual])
            for finding in findings
        ]

    def classify(self, finding: Finding) -> tuple[Status, Entry] | None:
        """Whether an accepted-drift entry covers `finding`, and how: the ledger's one question to it."""
        return self.acceptance.classify(finding) if self.acceptance is not None else None

    def merge(self, data: Mapping[str, Any]) -> None:
        """Fold in another ledger's `as_dict()` (an xdist worker's, a part of an audit), classified as it was there."""
        self.requests += data["requests"]
        self.validated_bodies += data["validated_bodies"]
        for name, count in data["signals"].items():
            self.signals[name] = self.signals.get(name, 0) + count
        self.note_answered(*data.get("answered", ()))
        if self.coverage is not None and "coverage" in data:
            self.coverage.merge(data["coverage"])
        for item in [*data["findings"], *data.get("accepted", ())]:
            kind, credentials = Kind(item["kind"]), item.get("credentials", "valid")
            evidence = tuple(item.get("evidence", ()))
            finding = Finding(
                kind, item["field"], item["expected"], item["actual"], item["request"], credentials, evidence
            )
            line = item.get("accepted_line")
            covered = (item["acceptance"], item["accepted_by"], line) if line is not None else None
            self._put(finding, item["count"], item["samples"], item["actual_values"], covered)

    def note_answered(self, *callout_ids: int) -> None:
        for callout_id in callout_ids:
            if callout_id not in self.answered and len(self.answered) < MAX_ANSWERED:
                self.answered.append(callout_id)

    def _classify_and_put(
        self, finding: Finding, count: int, samples: Iterable[str], actuals: Iterable[str]
    ) -> LedgerEntry:
        """Put `finding` in, classified here: the one place a finding meets the accepted drift."""
        found = self.classify(finding)
        covered = (found[0], found[1].describe(), found[1].line) if found else None
        return self._put(finding, count, samples, actuals, covered)

    def _put(
        self,
        finding: Finding,
        count: int,
        samples: Iterable[str],
        actuals: Iterable[str],
        covered: tuple[str, str, int] | None,
    ) -> LedgerEntry:
        """Fold `finding` in under the classification `covered` (status, entry as read, entry line)."""
        key = (str(finding.kind), finding.field, covered[2] if covered else None)
        entry = self.entries.get(key)
        if entry is None:
            # weighed here, by this ledger's reads: a pure function of the finding, so a merged worker's entry
            # weighs the same in every process of a run that reads the same setting
            entry = self.entries[key] = LedgerEntry(finding, severity=weighed(finding, self.reads))
            if covered:
                entry.acceptance, entry.accepted_by, entry.accepted_line = covered
        entry.count += count
        for bucket, values in ((entry.samples, samples), (entry.actuals, actuals)):
            for value in values:
                if len(bucket) < MAX_SAMPLES and value not in bucket:
                    bucket.append(value)
        return entry

    def sorted_entries(self) -> list[LedgerEntry]:
        """The findings that count (all but accepted ones): breaking, then warnings, then additive; then by kind
        and field."""
        return self._sorted(entry for entry in self.entries.values() if entry.fails)

    def accepted_entries(self) -> list[LedgerEntry]:
        """Findings an unexpired accepted-drift entry covers: reported, never failing."""
        return self._sorted(entry for entry in self.entries.values() if not entry.fails)

    def stale_acceptances(self) -> list[Entry]:
        """Accepted-drift entries that covered nothing (meaningful only when bodies were validated)."""
        if self.acceptance is None:
            return []
        return self.acceptance.stale(e.accepted_line for e in self.entries.values() if e.accepted_line is not None)

    @staticmethod
    def _sorted(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
        return sorted(
            entries,
            key=lambda e: (
                _WEIGHT_ORDER[e.severity],
                str(e.first.kind),
                e.first.field or "",
                e.accepted_line or 0,
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "validated_bodies": self.validated_bodies,
            "signals": dict(self.signals),
            "answered": list(self.answered),
            "findings": [entry.as_dict() for entry in self.sorted_entries()],
            "accepted": [entry.as_dict() for entry in self.accepted_entries()],
            **({"coverage": self.coverage.as_dict()} if self.coverage is not None else {}),
        }
