"""One run reports every drift it meets, with counts: one finding never hides the next."""

from __future__ import annotations

import json
from pathlib import Path

from tests.self.conftest import LIVE_ENV
from tests.self.samples import DOCUMENTED_CALLOUT

# Three callouts, each drifting its own way, on a server that also answers other methods without `Allow`.
DRIFTED = {
    101: ("customerId", None, "null-in-non-nullable", "$.customerId"),
    102: ("status", "Escalated", "unknown-status", "$.status"),
    103: ("createdAt", "yesterday", "format-violated", "$.createdAt"),
}


def drifted_fixtures(folder: Path) -> Path:
    folder.mkdir()
    for callout_id, (field, value, _, _) in DRIFTED.items():
        body = {**DOCUMENTED_CALLOUT, "id": callout_id, field: value}
        fixture = {
            "description": f"callout {callout_id} with {field} drifted",
            "operation": "getCallout",
            "provenance": {"source": "synthetic"},
            "request": {"method": "GET", "path": f"/panic-api/v2/callouts/{callout_id}", "credentials": "valid"},
            "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": body},
        }
        (folder / f"callout-{callout_id}.json").write_text(json.dumps(fixture))
    return folder


def test_one_run_reports_three_independent_drifts_and_a_method_probe_with_counts(
    run_suite, live_mock, tmp_path: Path
) -> None:
    base_url = live_mock("schemathesis-check", contracts_dir=drifted_fixtures(tmp_path / "contracts"))
    ids = ",".join(map(str, DRIFTED))
    run = run_suite("--base-url", base_url, "--callout-ids", ids, "--rate-limit", "0", env=LIVE_ENV)
    assert 1 == run.result.ret, run.output
    found = {(f["kind"], f["field"]): f["count"] for f in run.report["findings"]}
    expected = {(kind, field) for _, _, kind, field in DRIFTED.values()} | {
        ("schemathesis-check", "unsupported_method")
    }
    assert expected <= set(found), found
    assert all(count >= 1 for count in found.values())
    # each drifted callout is fetched once on its own and again by the property test: counted every time
    assert all(found[(kind, field)] >= 2 for _, _, kind, field in DRIFTED.values()), found
    # the property test fails once, listing every distinct finding, without a traceback
    output = run.output
    assert "Traceback" not in output
    assert "SuiteRun(" not in output
    for _, _, kind, _ in DRIFTED.values():
        assert f"[{kind}] (x" in output


def test_a_failing_property_test_prints_finding_lines_not_tracebacks(run_suite) -> None:
    run = run_suite("--mock-drift", "null-in-non-nullable")
    assert 1 == run.result.ret, run.output
    failures = run.result.stdout.str().split("= FAILURES =", 1)[1].split("= API drift =", 1)[0]
    assert len(failures.splitlines()) < 80, failures
    assert "Exception Group" not in failures
