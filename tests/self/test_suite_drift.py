"""The suite, pointed at a drifting mock, fails and names the drift; the clean mock passes."""

from __future__ import annotations

import pytest

from tests.self.samples import DRIFT_FINDINGS

BREAKING = {drift: found for drift, found in DRIFT_FINDINGS.items() if drift != "new-field"}


def test_clean_mock_passes_with_verdict_ok(run_suite) -> None:
    run = run_suite()
    assert run.result.ret == 0, run.output
    assert run.report["verdict"] == "ok"
    assert run.report["findings"] == []
    assert run.report["validated_bodies"] > 0
    run.result.stdout.fnmatch_lines(["*= API drift =*", "no findings", "verdict: ok (exit 0)*"])


@pytest.mark.parametrize("drift", sorted(BREAKING))
def test_breaking_drift_fails_the_run_naming_kind_and_field(drift: str, run_suite) -> None:
    kind, field = BREAKING[drift]
    run = run_suite("--mock-drift", drift)
    assert run.result.ret == 1, run.output
    assert run.report["verdict"] == "drift"
    assert field == run.kinds[kind]
    run.result.stdout.fnmatch_lines(
        [
            "*= API drift =*",
            f"breaking {kind} {field or '-'}: * /panic-api/v2/callouts/*",
            '    reproduce: curl *-H "Authorization: Bearer $PANIC_API_TOKEN" *',
            "verdict: drift (exit 1)*",
        ]
    )
    assert f"| {kind} | breaking | {field or '-'} |" in run.markdown
    assert kind in run.junit


def test_new_field_is_reported_but_passes(run_suite) -> None:
    run = run_suite("--mock-drift", "new-field")
    assert run.result.ret == 0, run.output
    assert run.report["verdict"] == "ok"
    assert {"new-field": "$.responderEta"} == run.kinds
    run.result.stdout.fnmatch_lines(["additive new-field $.responderEta: *", "verdict: ok (exit 0)*additive*"])


def test_new_field_fails_under_strict_drift(run_suite) -> None:
    run = run_suite("--mock-drift", "new-field", "--strict-drift")
    assert run.result.ret == 1, run.output
    assert run.report["verdict"] == "drift"


def test_strict_drift_also_comes_from_the_environment(run_suite) -> None:
    run = run_suite("--mock-drift", "new-field", env={"PANIC_API_STRICT_DRIFT": "1"})
    assert run.result.ret == 1, run.output


def test_wrapped_shape_is_drift_with_missing_and_new_fields(run_suite) -> None:
    run = run_suite("--mock-drift", "wrapped")
    assert run.result.ret == 1, run.output
    assert {"$.callout", "$.message"} == run.fields("new-field")
    assert {"$.id", "$.status", "$.customerId", "$.createdAt"} <= run.fields("missing-field")


def test_rejected_token_is_an_auth_verdict_not_drift(run_suite) -> None:
    run = run_suite("--mock-drift", "auth-rejected")
    assert run.result.ret == 11, run.output
    assert run.report["verdict"] == "auth"
    assert run.report["findings"] == []
    run.result.stdout.fnmatch_lines(["verdict: auth (exit 11)*refresh PANIC_API_TOKEN*"])


def test_gateway_errors_are_an_outage_not_drift(run_suite) -> None:
    run = run_suite("--mock-drift", "gateway-502")
    assert run.result.ret == 10, run.output
    assert run.report["verdict"] == "outage"
    assert run.report["findings"] == []


def test_findings_are_deduplicated_with_counts(run_suite) -> None:
    run = run_suite("--mock-drift", "null-in-non-nullable")
    (finding,) = run.report["findings"]
    assert finding["count"] > 1
    assert finding["reproducer"].startswith("""curl -H "Authorization: Bearer $PANIC_API_TOKEN" 'http""")


# Under -n 2 the workers' findings end up in one report: test_history.py's
# test_the_suite_under_xdist_remembers_clean_drifted_drifted_clean.
