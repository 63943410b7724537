"""Reports to draw as HTML pages in the project's own tests: a drifted run with a history, and one of any size.

No history store exists for these tests to read, so the history is crafted: each finding gets the fields a
store adds to the JSON report (`fingerprint`, `history_status`, `first_seen`, `runs_seen`, `flapping`), and
the stored runs say, run by run, which fingerprints they saw.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from panic_contract.core.findings import Finding, Inspection, Kind
from panic_contract.core.html_report import HistoryRun
from panic_contract.core.ledger import Ledger
from panic_contract.core.reports import RunInfo, as_json
from panic_contract.core.verdict import decide

STARTED = datetime(2026, 12, 1, 6, 17, tzinfo=UTC)
RUN = RunInfo(
    target="staging",
    base_url="https://staging-panic.aura.services",
    spec="panic-api.openapi.yaml",
    started_at=STARTED,
    duration_s=41.2,
    json_report="drift.json",
)
CALLOUT = "GET /panic-api/v2/callouts/{}"

# kind, field, expected, actual, in which of N runs (oldest first) it was seen, its history status
DRIFTED: list[tuple[Kind, str, str, str, Callable[[int, int], bool], str, bool]] = [
    (Kind.MISSING_FIELD, "$.calloutClassificationId", "integer (required)", "missing", lambda r, n: r >= n - 12,
     "persisting", False),
    (Kind.TYPE_CHANGED, "$.id", "integer", 'string "992011"', lambda r, n: r == n - 1, "new", False),
    (Kind.UNKNOWN_STATUS, "$.status", "one of the documented statuses", 'string "Escalated"',
     lambda r, n: r % 3 != 1 or r == n - 1, "returned", True),
    (Kind.NEW_FIELD, "$.responderEta", "no such field", "an undocumented field (integer 420)",
     lambda r, n: r >= n - 9, "persisting", False),
]  # fmt: skip


def ledger_of(findings: list[tuple[Finding, int]], *, bodies: int) -> Ledger:
    """A ledger that judged `bodies` valid bodies, then saw each finding `times` times."""
    ledger = Ledger()
    ledger.add(Inspection(validated_body=True), times=bodies)
    for finding, times in findings:
        ledger.add(Inspection(findings=(finding,)), sample=finding.request, times=times)
    return ledger


def drifted_with_history(runs: int = 30) -> tuple[dict[str, Any], list[HistoryRun], dict[str, list[bool]]]:
    """A drifted staging run's JSON report with the history fields, its stored runs (this run the last), and
    for each fingerprint whether each run saw it."""
    findings = [
        (Finding(kind, field, expected, actual, CALLOUT.format(992011 + i)), 12 + 7 * i)
        for i, (kind, field, expected, actual, *_) in enumerate(DRIFTED)
    ]
    ledger = ledger_of(findings, bodies=60)
    report = as_json(ledger, decide(ledger, host="staging-panic.aura.services"), RUN)
    seen: dict[str, list[bool]] = {}
    for item in report["findings"]:
        i = next(i for i, row in enumerate(DRIFTED) if row[1] == item["field"])
        _, _, _, _, in_run, status, flapping = DRIFTED[i]
        fingerprint = f"{item['kind']}:{item['field']}"
        seen[fingerprint] = [in_run(r, runs) for r in range(runs)]
        first = seen[fingerprint].index(True)
        item |= {
            "fingerprint": fingerprint,
            "history_status": status,
            "first_seen": run_time(first, runs).isoformat(),
            "runs_seen": sum(seen[fingerprint]),
            "flapping": flapping,
        }
    report["history"] = {"store": ".panic-contract/history", "runs": runs, "previous_run": run_time(runs - 2, runs)}
    report["history"]["previous_run"] = report["history"]["previous_run"].isoformat()
    return report, stored_runs(seen, runs), seen


def run_time(index: int, runs: int) -> datetime:
    """Two runs a day (06:17 and 12:17 UTC), the last one at STARTED."""
    back = runs - 1 - index
    return STARTED - timedelta(days=(back + 1) // 2) + (timedelta(hours=6) if back % 2 else timedelta())


def stored_runs(seen: dict[str, list[bool]], runs: int) -> list[HistoryRun]:
    stored: list[HistoryRun] = []
    for r in range(runs):
        fingerprints = [fp for fp, marks in seen.items() if marks[r]]
        breaking = any(not fp.startswith("new-field") for fp in fingerprints)
        verdict = "outage" if r == runs // 3 else "drift" if breaking else "ok"
        stored.append(
            {"started_at": run_time(r, runs).isoformat(), "verdict": verdict, "seen_fingerprints": fingerprints}
        )
    return stored


def large(findings: int, runs: int) -> tuple[dict[str, Any], list[HistoryRun], dict[str, list[bool]]]:
    """`findings` distinct findings over `runs` stored runs, each seen in a pattern of its own."""
    kinds = [Kind.MISSING_FIELD, Kind.TYPE_CHANGED, Kind.NULL_IN_NON_NULLABLE, Kind.FORMAT_VIOLATED, Kind.NEW_FIELD]
    made = [
        (Finding(kinds[i % len(kinds)], f"$.items[{i}].assignedResponderName", "string", "null", CALLOUT.format(i)), i)
        for i in range(findings)
    ]
    ledger = ledger_of([(finding, 1 + times % 40) for finding, times in made], bodies=5000)
    report = as_json(ledger, decide(ledger, host="staging-panic.aura.services"), RUN)
    seen: dict[str, list[bool]] = {}
    for n, item in enumerate(report["findings"]):
        fingerprint = f"fp{n:04d}"
        seen[fingerprint] = [(r * (n % 7 + 1) + n) % 5 != 0 for r in range(runs)]  # gaps everywhere: worst case
        item |= {
            "fingerprint": fingerprint,
            "history_status": "persisting",
            "first_seen": run_time(0, runs).isoformat(),
        }
        item |= {"runs_seen": sum(seen[fingerprint]), "flapping": True}
    return report, stored_runs(seen, runs), seen
