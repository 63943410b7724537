"""The ledger classifies each finding against accepted drift once, as it folds it in; everything else reads that.

An accepted "Escalated" never hides an open "Paused" of the same kind and field, whichever comes first;
a merge of another ledger's data keeps the classification made there; a test's failure lines and the
run's verdict count the same findings.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from panic_contract.core.accepted import Acceptance, loads
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Finding, Kind
from panic_contract.core.fixtures import CONTRACTS_DIR
from panic_contract.core.ledger import Ledger
from panic_contract.core.verdict import Verdict, decide
from panic_contract.pytest.probes import record_findings
from panic_contract.pytest.run import SuiteRun
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits
from panic_contract.target import mock_target

TODAY = date(2026, 11, 28)
ACCEPTED_DRIFT = b"""\
- kind: unknown-status
  field: $.status
  value: Escalated
  reason: ticket 4411
  expires: 2026-12-31
- kind: null-in-non-nullable
  field: $.customerId
  reason: ticket 4412, the provider promised a fix by October
  expires: 2026-10-31
- kind: new-field
  field: $.responderEta
  value: 420
  reason: ticket 4413
  expires: 2026-12-31
- kind: missing-field
  field: $.calloutClassificationId
  reason: ticket 4414, fixed since
  expires: 2026-12-31
"""
ACCEPTANCE = loads(ACCEPTED_DRIFT, "accepted-drift.yaml", TODAY)


def status(value: str, callout_id: int = 992011) -> Finding:
    return Finding(Kind.UNKNOWN_STATUS, "$.status", "one of ...", f'string "{value}"', f"GET /x/{callout_id}")


NULL = Finding(Kind.NULL_IN_NON_NULLABLE, "$.customerId", "integer", "null", "GET /x/992011")


def new_field(value: int) -> Finding:
    actual = f"an undocumented field (integer {value})"
    return Finding(Kind.NEW_FIELD, "$.responderEta", "no such field", actual, "GET /x/992011")


POOL = [status("Escalated"), status("ESCALATED", 992012), status("Paused"), NULL, new_field(420), new_field(421)]


def sets(ledger: Ledger) -> dict[str, set[tuple[str, str | None, int | None, str]]]:
    """What a report tells apart: accepted, expired and open findings, by key and value; stale entries."""

    def keyed(entries: Any) -> set[tuple[str, str | None, int | None, str]]:
        return {(*entry.key, actual) for entry in entries for actual in entry.actuals}

    return {
        "accepted": keyed(ledger.accepted_entries()),
        "expired": keyed(e for e in ledger.sorted_entries() if e.acceptance == "expired"),
        "open": keyed(e for e in ledger.sorted_entries() if e.acceptance is None),
        "stale": {(entry.kind, entry.field, entry.line, "") for entry in ledger.stale_acceptances()},
    }


def test_an_accepted_value_never_hides_another_value_of_the_same_field() -> None:
    for order in ([status("Escalated"), status("Paused")], [status("Paused"), status("Escalated")]):
        ledger = Ledger(ACCEPTANCE)
        ledger.add_findings(order)
        assert [('string "Escalated"', 1)] == [(e.first.actual, e.count) for e in ledger.accepted_entries()]
        assert [('string "Paused"', 1)] == [(e.first.actual, e.count) for e in ledger.sorted_entries()]
        decision = decide(ledger)
        assert (Verdict.DRIFT, "1 finding(s) of kind unknown-status") == (decision.verdict, decision.reason)


def test_an_expired_entry_fails_the_run_and_an_unused_one_is_stale() -> None:
    ledger = Ledger(ACCEPTANCE)
    ledger.add_findings([NULL, new_field(420)])
    assert {
        "accepted": {("new-field", "$.responderEta", 10, "an undocumented field (integer 420)")},
        "expired": {("null-in-non-nullable", "$.customerId", 6, "null")},
        "open": set(),
        "stale": {("unknown-status", "$.status", 1, ""), ("missing-field", "$.calloutClassificationId", 15, "")},
    } == sets(ledger)
    assert "accepted drift expired: null-in-non-nullable $.customerId (line 6" in decide(ledger).reason


def test_a_merge_keeps_the_classification_made_where_the_findings_were_folded() -> None:
    """The merging ledger's own acceptance (here: none) never re-classifies what it is given."""
    part = Ledger(ACCEPTANCE)
    part.add_findings([status("Escalated"), status("Paused"), NULL])
    merged = Ledger()
    merged.merge(json.loads(json.dumps(part.as_dict())))
    assert sets(part) | {"stale": set()} == sets(merged)


def test_a_merge_of_an_older_ledger_without_a_classification_is_open_drift() -> None:
    data = Ledger().as_dict()
    data["findings"] = [_item(status("Escalated"))]
    merged = Ledger(ACCEPTANCE)
    merged.merge(data)
    assert [] == merged.accepted_entries()
    assert ['string "Escalated"'] == [e.first.actual for e in merged.sorted_entries()]


def _item(finding: Finding) -> dict[str, Any]:
    ledger = Ledger()
    ledger.add_findings([finding])
    (item,) = ledger.as_dict()["findings"]
    return dict(item)


@given(
    findings=st.lists(st.sampled_from(POOL), max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=4),
)
def test_parts_folded_apart_and_merged_report_what_one_ledger_does(findings: list[Finding], cuts: list[int]) -> None:
    """As under pytest -n N and audit --jobs N: each part classified where it is folded, merged in order."""
    one = Ledger(ACCEPTANCE)
    for finding in findings:
        one.add_findings([finding], sample=finding.request)
    bounds = [0, *sorted(min(cut, len(findings)) for cut in cuts), len(findings)]
    merged = Ledger(ACCEPTANCE)
    for start, end in itertools.pairwise(bounds):
        part = Ledger(ACCEPTANCE)
        for finding in findings[start:end]:
            part.add_findings([finding], sample=finding.request)
        merged.merge(json.loads(json.dumps(part.as_dict())))  # as it arrives from a worker
    assert one.as_dict() == merged.as_dict()
    assert sets(one) == sets(merged)
    assert decide(one) == decide(merged)


def suite_run(acceptance: Acceptance, strict_drift: bool = False) -> SuiteRun:
    target = mock_target((), (), CONTRACTS_DIR)
    ledger = Ledger(acceptance)
    return SuiteRun(target, default_contract(), strict_drift, Limits(), Quota(), ledger=ledger)


@given(findings=st.lists(st.sampled_from(POOL), min_size=1, max_size=12), strict_drift=st.booleans())
def test_a_tests_failure_lines_count_what_the_verdict_counts(findings: list[Finding], strict_drift: bool) -> None:
    run = suite_run(ACCEPTANCE, strict_drift)
    run.tally.begin()
    record_findings(run, findings)
    lines = run.tally.failing_lines(strict_drift=strict_drift)
    counted = [entry for entry in run.ledger.sorted_entries() if entry.counts(strict_drift)]
    expected = [f"{entry.first.message()} (x{entry.count})" for entry in counted]
    assert sorted(expected) == sorted(line.split(" (accepted drift expired:")[0] for line in lines)
    assert (Verdict.DRIFT if counted else Verdict.OK) == decide(run.ledger, strict_drift=strict_drift).verdict
    assert all("Escalated" not in line and "ESCALATED" not in line for line in lines)
    expired = [line for line in lines if "(accepted drift expired: null-in-non-nullable $.customerId (line 6" in line]
    assert (NULL in findings) == bool(expired)
