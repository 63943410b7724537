"""On a live target a run costs requests (the provider's rate limit): a complete verdict within twice the
minimal probe set, the probes sent first, and a verdict built on them when the request budget runs out.
A budget too small for the probes is a usage error, and a live run that judged less than the probes promise
(nothing at all, or not the auth probes) is inconclusive: never a pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from panic_contract.core.findings import Kind
from panic_contract.mock import DRIFTS, MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, Extra, create_app, known_callout_ids, serve
from panic_contract.pytest.probes import minimal_probe_count
from tests.self.conftest import LIVE_ENV, SUITE, SuiteResult, live_args
from tests.self.samples import DRIFT_FINDINGS, PATTERN_DRIFTS

FAULTS = {Extra.AUTH_REJECTED, Extra.RATE_LIMITED, Extra.GATEWAY_502}  # verdicts of their own, not drift
# Every breaking drift switch of the mock, with the finding that names it: a new switch fails here until it has one.
EXPECTED = {
    **DRIFT_FINDINGS,
    **{drift: finding for drift, (_, _, finding) in PATTERN_DRIFTS.items()},
    "wrapped": ("missing-field", "$.id"),
}
BREAKING = sorted(str(d) for d in DRIFTS if d not in FAULTS and d != Kind.NEW_FIELD)
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


# --- the gate never passes on less than it promises ------------------------------------------------


@pytest.fixture
def open_server() -> Iterator[tuple[str, Any]]:
    """A server that serves callouts without a token: only the auth probes can tell it apart; and its app."""
    app = create_app(drift=["auth-not-enforced"])
    with serve(app) as base_url:
        yield base_url, app.router.default


@pytest.mark.parametrize(
    ("ids", "budget", "env", "line"),
    [
        (
            IDS,
            "3",
            LIVE_ENV,
            "ERROR: --request-budget (or PANIC_API_REQUEST_BUDGET) is 3; "
            "the probes alone need 8 requests for 3 ids: give at least 8",
        ),
        (
            list(range(1, 401)),
            None,
            LIVE_ENV,
            "ERROR: --request-budget (or PANIC_API_REQUEST_BUDGET) is 400 (the default); "
            "the probes alone need 405 requests for 400 ids: give at least 405",
        ),
        (
            IDS,
            str(MINIMAL),
            {"PANIC_API_CLIENT_ID": MOCK_CLIENT_ID, "PANIC_API_CLIENT_SECRET": MOCK_CLIENT_SECRET},
            "ERROR: --request-budget (or PANIC_API_REQUEST_BUDGET) is 8; "
            "the probes alone need 9 requests for 3 ids and the token exchange: give at least 9",
        ),
    ],
    ids=["below-the-probes", "the-default-with-400-ids", "no-room-for-the-token-exchange"],
)
def test_a_budget_below_the_probes_is_a_usage_error_naming_the_minimum(
    ids: list[int], budget: str | None, env: dict[str, str], line: str, run_suite, open_server
) -> None:
    base_url, server = open_server
    args = ["--base-url", base_url, "--callout-ids", ",".join(map(str, ids)), "--rate-limit", "0"]
    run = run_suite(*args, *([f"--request-budget={budget}"] if budget else []), env=env)
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([line])
    assert (0, {}) == (server.requests_seen, run.report)  # nothing was sent


def test_a_budget_of_the_probes_catches_a_target_that_serves_callouts_without_a_token(run_suite, open_server) -> None:
    base_url, _ = open_server
    run = run_suite(*live_args(base_url), f"--request-budget={MINIMAL}", env=LIVE_ENV)
    assert 1 == run.result.ret, run.output
    assert ("auth-not-enforced", None) in found(run)


def test_a_live_run_that_deselects_the_auth_probes_is_inconclusive(run_suite, open_server) -> None:
    base_url, _ = open_server
    run = run_suite(*live_args(base_url), "-k", "not needs_a_valid_token", env=LIVE_ENV)
    assert 12 == run.result.ret, run.output
    assert "inconclusive" == run.report["verdict"]
    run.result.stdout.fnmatch_lines(
        [
            "verdict: inconclusive (exit 12): the auth probes with no token and with a wrong token got no judged "
            "response, so whether 127.0.0.1:* enforces its token is unknown: run tests/contract/"
            "test_known_callouts.py::test_callout_needs_a_valid_token too *"
        ]
    )


@pytest.mark.parametrize(
    "xdist", [pytest.param((), id="one-process"), pytest.param(("-n", "2"), id="xdist", marks=pytest.mark.e2e)]
)
def test_a_live_run_of_the_fixture_tests_alone_is_inconclusive(xdist: tuple[str, ...], run_suite, open_server) -> None:
    """They check the recorded fixtures and send nothing: a live run that judged no response passes nothing."""
    base_url, server = open_server
    run = run_suite(*live_args(base_url), *xdist, env=LIVE_ENV, suite=SUITE / "test_fixtures.py")
    assert 12 == run.result.ret, run.output
    assert (0, "inconclusive", 0) == (server.requests_seen, run.report["verdict"], run.report["requests"])
    run.result.stdout.fnmatch_lines(
        [
            "verdict: inconclusive (exit 12): no response from 127.0.0.1:* was judged: the tests selected send "
            "nothing to it (tests/contract/test_fixtures.py checks the recorded fixtures only); run the whole suite*"
        ]
    )


def test_the_fixture_tests_alone_on_the_embedded_mock_end_without_a_verdict(run_suite) -> None:
    """Offline, they are the fixture check they say they are: their own exit code, no drift verdict."""
    run = run_suite(suite=SUITE / "test_fixtures.py")
    assert 0 == run.result.ret, run.output
    assert {} == run.report
