"""The property tests on their own send our token on positive cases, and judge 200 bodies."""

from __future__ import annotations

from tests.self.conftest import SUITE


def test_property_tests_alone_validate_callout_bodies_with_our_token(run_suite) -> None:
    """Schemathesis fills in an Authorization value for the bearer scheme: we must send our token instead."""
    run = run_suite(suite=SUITE / "test_properties.py")
    assert 0 == run.result.ret, run.output
    assert "ok" == run.report["verdict"]
    assert run.report["validated_bodies"] > 0


def test_property_tests_alone_catch_a_body_drift(run_suite) -> None:
    run = run_suite("--mock-drift", "null-in-non-nullable", suite=SUITE / "test_properties.py")
    assert 1 == run.result.ret, run.output
    assert "$.customerId" == run.kinds["null-in-non-nullable"]
