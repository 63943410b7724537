"""What the runs before this one say of its findings: new, persisting or returned, flapping, and what was fixed.

A run belongs to a line, its command and its target (`mock` for the embedded mock, else the host): it is
compared with the earlier runs of its line only (an audit judges what was captured, a suite what it sent, so
one would call fixed what the other never looked at). Of each finding, by fingerprint:

- `new`: no earlier run of the line showed it;
- `persisting`: the previous run that validated bodies showed it too (since its first sighting, in so many of
  the runs since);
- `returned`: seen before, absent from that previous run;
- flapping: seen in some but not all of the last `WINDOW` runs since it was first seen (with that rate).

A finding of the previous run that this one (having validated bodies) did not show is `fixed`. The run is
then appended. A store that cannot be used is one line (`Past.note`), and the verdict stands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from panic_contract.core.fingerprint import fingerprint
from panic_contract.core.ledger import Ledger, LedgerEntry
from panic_contract.core.verdict import Decision
from panic_contract.history.records import WINDOW, FindingRow, Location, Recollection, RunRow, StoreError
from panic_contract.redaction import redact

HistoryStatus = Literal["new", "persisting", "returned"]
Command = Literal["suite", "record", "audit"]
# Findings a response can show only when its body was validated: their rate is over validated bodies; the
# others' (status codes, content types, bodies that do not parse, auth) over every response judged.
BODY_KINDS = frozenset(
    {"missing-field", "type-changed", "null-in-non-nullable", "format-violated", "unknown-status", "new-field",
     "id-mismatch"}
)  # fmt: skip


def iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def _short(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def fingerprint_of(entry: LedgerEntry) -> str:
    first = entry.first
    return fingerprint(str(first.kind), first.field, first.expected)


def line_target(target_name: str, base_url: str) -> str:
    """The target a run's line names: `mock` for the embedded mock (whatever its port), else the host."""
    if target_name == "mock":
        return "mock"
    parts = urlsplit(base_url)
    return (parts.hostname or base_url) + (f":{parts.port}" if parts.port else "") if parts.scheme else base_url


def rate_of(kind: str, count: int, ledger: Ledger) -> float | None:
    responses = ledger.validated_bodies if kind in BODY_KINDS else ledger.requests
    return round(min(1.0, count / responses), 6) if responses else None


@dataclass(frozen=True)
class Annotation:
    fingerprint: str
    status: HistoryStatus
    first_seen: float
    runs_seen: int  # this run included
    runs_checked: int  # runs since it was first seen, this one included
    flapping: bool
    window_seen: int  # of the last runs since first seen (at most WINDOW), how many showed it
    window_runs: int

    def tag(self) -> str:
        """How a line reads it: `new`, `persisting since ... (3 of 4 runs)`, `returned ...`, and flapping."""
        if self.status == "new":
            text = "new"
        else:
            seen = f"in {self.runs_seen} of {self.runs_checked} runs"
            text = f"{self.status}, first seen {_short(self.first_seen)}, {seen}"
        if self.flapping:
            text += f"; flapping: {self.window_seen} of the last {self.window_runs} runs"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "first_seen": iso(self.first_seen),
            "runs_seen": self.runs_seen,
            "runs_checked": self.runs_checked,
            "history_status": self.status,
            "flapping": self.flapping,
            "flapping_rate": round(self.window_seen / self.window_runs, 3) if self.flapping else None,
        }


@dataclass(frozen=True)
class Past:
    """A run's findings against its line's history; `note` is the one line when the store could not be used."""

    store: str | None  # shown, password masked; None: history off
    runs: int = 0  # runs of the line, this one included once kept
    previous_run: float | None = None
    annotations: Mapping[str, Annotation] = field(default_factory=dict)
    fixed: tuple[FindingRow, ...] = ()
    fixed_since: float | None = None  # the previous run that validated bodies, whose findings these are
    note: str | None = None
    # The runs of the line a timeline draws, oldest first, this one last: {started_at (ISO 8601), verdict,
    # seen_fingerprints}; the last WINDOW runs that validated bodies, as the store recalled them.
    timeline: tuple[dict[str, Any], ...] = ()

    def of(self, entry: LedgerEntry) -> Annotation | None:
        return self.annotations.get(fingerprint_of(entry))

    def finding_json(self, entry: LedgerEntry) -> dict[str, Any]:
        annotation = self.of(entry)
        if annotation is not None:
            return annotation.as_json()
        empty = {"first_seen": None, "runs_seen": None, "runs_checked": None, "history_status": None}
        return {"fingerprint": fingerprint_of(entry), **empty, "flapping": None, "flapping_rate": None}

    def fixed_json(self) -> list[dict[str, Any]]:
        return [
            {
                "fingerprint": row.fingerprint,
                "kind": row.kind,
                "severity": row.severity,
                "field": row.field,
                "expected": row.expected,
                "message": row.message,
                "count": row.count,
                "rate": row.rate,
                "last_seen": iso(self.fixed_since),
            }
            for row in self.fixed
        ]

    def summary_json(self) -> dict[str, Any] | None:
        if self.store is None:
            return None
        summary = {"store": self.store, "runs": self.runs, "previous_run": iso(self.previous_run)}
        return {**summary, "error": self.note} if self.note else summary

    def fixed_lines(self) -> list[str]:
        when = f" ({_short(self.fixed_since)})" if self.fixed_since is not None else ""
        return [
            f"fixed since the previous run{when}: {row.kind} {row.field or '-'}: {row.message}" for row in self.fixed
        ]


OFF = Past(store=None)


def _annotate(recollection: Recollection, fp: str, started_at: float) -> Annotation:
    seen = recollection.seen.get(fp)
    if seen is None:
        return Annotation(fp, "new", started_at, 1, 1, False, 1, 1)
    status: HistoryStatus = "persisting" if recollection.window and fp in recollection.window[0][1] else "returned"
    runs_checked = recollection.checked_since(seen.first_seen) + 1
    runs_seen = seen.runs_seen + 1
    # the last runs since first seen (newest first), this one in front
    earlier = [fp in fps for at, fps in recollection.window if at >= seen.first_seen]
    window = [True, *earlier[: WINDOW - 1]]
    runs_checked = max(runs_checked, runs_seen)
    return Annotation(fp, status, seen.first_seen, runs_seen, runs_checked, not all(window), sum(window), len(window))


def compare(recollection: Recollection, ledger: Ledger, started_at: float) -> Past:
    """This run's findings against what the store recalled (nothing is written here)."""
    present = {fingerprint_of(entry) for entry in ledger.entries.values()}
    annotations = {fp: _annotate(recollection, fp, started_at) for fp in present}
    fixed: tuple[FindingRow, ...] = ()
    if ledger.validated_bodies:
        fixed = tuple(row for row in recollection.previous if row.fingerprint not in present and not row.accepted)
    return Past(
        store=None,
        runs=recollection.runs,
        previous_run=recollection.previous_run,
        annotations=annotations,
        fixed=fixed,
        fixed_since=recollection.previous_at if fixed else None,
    )


@dataclass(frozen=True)
class Keeping:
    """Where a run is kept, and as what: the caller's setting (`where` None: `--no-history`)."""

    where: Location | None
    command: Command
    problem: str | None = None  # the store could not even be named (a bad default folder): the one line

    @property
    def shown(self) -> str | None:
        return self.where.shown if self.where is not None else None


@dataclass(frozen=True)
class RunFacts:
    target_name: str
    base_url: str
    spec_path: Path
    started_at: datetime


def look_back(keeping: Keeping, target: str, started_at: float) -> Recollection | str:
    """The line's history before `started_at`, or the one line saying why the store cannot be read."""
    if keeping.where is None:
        return "history off"
    path = keeping.where.sqlite_path
    if path is not None and not path.exists():  # nothing kept yet: reading makes no file (a run's end does)
        return Recollection(runs=0, previous_run=None, window=(), previous=())
    from panic_contract.history.store import Store  # SQLAlchemy, imported only when a store is used

    try:
        with Store(keeping.where) as store:
            return store.recall(keeping.command, target, started_at)
    except StoreError as exc:
        return _note(str(exc))


def keep(
    keeping: Keeping, ledger: Ledger, decision: Decision, facts: RunFacts, recollection: Recollection | None = None
) -> Past:
    """Compare this run with its line's history, append it, and say how its findings stand.

    `recollection`: the history read when the run started (the suite's, which its tests' lines quote), else
    read here. Never raises for the store: a failure is `Past.note`, one line, and the verdict stands.
    """
    if keeping.where is None:
        return OFF
    if keeping.problem:
        return Past(store=keeping.shown, note=_note(keeping.problem))
    started_at = facts.started_at.timestamp()
    target = line_target(facts.target_name, facts.base_url)
    from panic_contract.history.store import Store  # SQLAlchemy, imported only when a store is used

    try:
        with Store(keeping.where) as store:
            if recollection is None:
                recollection = store.recall(keeping.command, target, started_at)
            past = compare(recollection, ledger, started_at)
            store.append(_run_row(keeping.command, target, ledger, decision, facts), list(_finding_rows(ledger)))
    except StoreError as exc:
        return Past(store=keeping.shown, note=_note(str(exc)))
    recalled = [
        {"started_at": iso(moment), "verdict": verdict, "seen_fingerprints": sorted(seen)}
        for (moment, seen), verdict in zip(recollection.window, recollection.window_verdicts, strict=False)
    ]
    this_run = {
        "started_at": iso(started_at),
        "verdict": str(decision.verdict),
        "seen_fingerprints": sorted(fingerprint_of(entry) for entry in ledger.entries.values()),
    }
    timeline = (*reversed(recalled), this_run)
    return Past(
        keeping.shown, past.runs + 1, past.previous_run, past.annotations, past.fixed, past.fixed_since, None, timeline
    )


def tag_for(recollection: Recollection, entry: LedgerEntry, started_at: float) -> str:
    """A finding's history as a test's failure line (the JUnit message) gives it, from the history read at the
    run's start: the one the run's reports compare with."""
    return _annotate(recollection, fingerprint_of(entry), started_at).tag()


def _note(problem: str) -> str:
    return f"history not kept: {problem} (the verdict stands; fix the store, or pass --no-history)"


def _run_row(command: str, target: str, ledger: Ledger, decision: Decision, facts: RunFacts) -> RunRow:
    return RunRow(
        command=command,
        target=redact(target),
        target_name=facts.target_name,
        started_at=facts.started_at.timestamp(),
        ended_at=datetime.now(UTC).timestamp(),
        spec_digest=spec_digest(facts.spec_path),
        tool_version=tool_version(),
        verdict=str(decision.verdict),
        exit_code=decision.exit_code,
        reason=redact(decision.reason),
        requests=ledger.requests,
        validated_bodies=ledger.validated_bodies,
    )


def _finding_rows(ledger: Ledger) -> Iterable[FindingRow]:
    """One row per fingerprint (entries of one field that accepted drift splits are summed), every text
    masked: what a server sent is data, and may echo a credential."""
    rows: dict[str, FindingRow] = {}
    for entry in [*ledger.sorted_entries(), *ledger.accepted_entries()]:
        fp, first = fingerprint_of(entry), entry.first
        count = entry.count + (rows[fp].count if fp in rows else 0)
        rows[fp] = FindingRow(
            fingerprint=fp,
            kind=str(first.kind),
            field=redact(first.field) if first.field is not None else None,
            expected=redact(first.expected),
            severity=first.severity,
            message=redact(first.message()),
            request=redact(first.request),
            count=count,
            rate=rate_of(str(first.kind), count, ledger),
            accepted=not entry.fails and (fp not in rows or rows[fp].accepted),
        )
    return rows.values()


def spec_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "unreadable"


def tool_version() -> str:
    from importlib import metadata  # here, not at the top: it costs every command tens of ms to start

    try:
        return metadata.version("panic-contract")
    except metadata.PackageNotFoundError:
        return "0+unknown"
