"""On a live target a run costs requests (the provider's rate limit): a complete verdict within twice the
minimal probe set, the probes sent first, and a verdict built on them when the request budget runs out."""

from __future__ import annotations

import pytest

from panic_contract.mock import Drift, known_callout_ids
from panic_contract.suite import minimal_probe_count
from tests.self.conftest import LIVE_ENV, SuiteResult, live_args
from tests.self.samples import DRIFT_FINDINGS

FAULTS = {Drift.AUTH_REJECTED, Drift.RATE_LIMITED, Drift.GATEWAY_502}  # verdicts of their own, not drift
# Every breaking drift switch of the mock, with the finding that names it: a new switch fails here until it has one.
EXPECTED = {**DRIFT_FINDINGS, "wrapped": ("missing-field", "$.id")}
BREAKING = sorted(str(d) for d in Drift if d not in FAULTS and d is not Drift.NEW_FIELD)
IDS = known_callout_ids()[:3]  # what live_args passes
MINIMAL = minimal_probe_count(IDS)  # 3 ids + no token, a wrong token, an unknown id, a non-integer id, TRACE


def found(run: SuiteResult) -> set[tuple[str, str | None]]:
    return {(f["kind"], f["field"]) for f in run.report["findings"]}


def test_the_minimal_probe_set_is_each_id_once_and_five_probes() -> None:
    assert 8 == MINIMAL


def test_a_clean_live_run_is_judged_within_twice_the_minimal_probe_set(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock()), env=LIVE_ENV)
    assert 0 == run.result.ret, run.output
    assert "ok" == run.report["verdict"]
    assert MINIMAL < run.report["requests"] <= 2 * MINIMAL  # the probes, and generated cases on top
    assert run.report["validated_bodies"] > len(IDS)  # positive generated cases use the known ids


@pytest.mark.parametrize("drift", BREAKING)
def test_a_live_run_detects_every_breaking_drift_within_twice_the_minimal_probe_set(
    drift: str, run_suite, live_mock
) -> None:
    assert drift in EXPECTED, f"mock drift {drift} has no expected finding in tests/self/samples.py"
    run = run_suite(*live_args(live_mock(drift)), env=LIVE_ENV)
    assert 1 == run.result.ret, run.output
    assert "drift" == run.report["verdict"]
    assert EXPECTED[drift] in found(run), run.report["findings"]
    assert run.report["requests"] <= 2 * MINIMAL


def test_a_live_run_reports_a_new_field_within_twice_the_minimal_probe_set(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock("new-field")), env=LIVE_ENV)
    assert 0 == run.result.ret, run.output
    assert {EXPECTED["new-field"]} == found(run)
    assert run.report["requests"] <= 2 * MINIMAL


def test_a_budget_of_the_minimal_probe_set_leaves_a_verdict_built_on_every_probe(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock()), f"--request-budget={MINIMAL}", "-v", env=LIVE_ENV)
    assert 0 == run.result.ret, run.output
    assert MINIMAL == run.report["requests"]
    assert "ok" == run.report["verdict"]
    assert len(IDS) == run.report["validated_bodies"]
    assert f"stopped at the request budget of {MINIMAL}" in run.report["reason"]
    # every probe passed; only the property test, sent last, met the spent budget
    run.result.stdout.fnmatch_lines(["*test_known_callouts.py::*PASSED*", "*test_probes.py::*PASSED*"])
    assert 1 == run.result.parseoutcomes()["skipped"], run.output
    run.result.stdout.fnmatch_lines(["*test_properties.py::test_get_callout_honours_the_contract SKIPPED*"])


def test_a_budget_of_the_minimal_probe_set_still_names_the_drift_the_probes_saw(run_suite, live_mock) -> None:
    base_url = live_mock("null-in-non-nullable", "schemathesis-check")
    run = run_suite(*live_args(base_url), f"--request-budget={MINIMAL}", env=LIVE_ENV)
    assert 1 == run.result.ret, run.output
    assert MINIMAL == run.report["requests"]
    assert "drift" == run.report["verdict"]
    assert {EXPECTED["null-in-non-nullable"], EXPECTED["schemathesis-check"]} == found(run)
