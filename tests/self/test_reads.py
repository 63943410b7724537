"""Consumer-weighted severity: drift only on fields the integration does not read (`--reads`) is a warning,
reported everywhere and failing the run only under --strict-drift; drift on a field it reads, and drift about the
whole response, stay breaking; a path the spec does not document is a usage error."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.core.findings import Finding, Kind
from panic_contract.core.ledger import WEIGHED_KINDS, Ledger, weighed
from panic_contract.settings import SETTINGS, SettingError, resolve
from tests.self.samples import DOCUMENTED_CALLOUT

READS_ID_STATUS = "$.id $.status"


def test_a_type_change_of_a_field_not_read_is_a_warning_and_ends_0(run_suite) -> None:
    run = run_suite("--mock-drift", "value-as-string", env={"PANIC_API_READS": READS_ID_STATUS})
    assert 0 == run.result.ret, run.output
    assert [("type-changed", "$.responseTypeId", "warning")] == [
        (f["kind"], f["field"], f["severity"]) for f in run.report["findings"]
    ]
    run.result.stdout.fnmatch_lines(
        [
            "warning  type-changed $.responseTypeId: *",
            "verdict: ok (exit 0): *1 warning(s): drift on fields the integration does not read (--reads; *",
        ]
    )
    assert "| type-changed | warning | $.responseTypeId |" in run.markdown


def test_a_type_change_of_a_field_read_is_breaking_and_ends_1(run_suite) -> None:
    run = run_suite("--mock-drift", "value-as-string", "--reads=$.responseTypeId")
    assert 1 == run.result.ret, run.output
    assert ["breaking"] == [f["severity"] for f in run.report["findings"]]


def test_a_warning_fails_the_run_under_strict_drift(run_suite) -> None:
    run = run_suite("--mock-drift", "value-as-string", "--strict-drift", env={"PANIC_API_READS": READS_ID_STATUS})
    assert 1 == run.result.ret, run.output
    assert "drift" == run.report["verdict"]


def test_findings_about_the_whole_response_stay_breaking_whatever_is_read(run_suite) -> None:
    run = run_suite("--mock-drift", "error-page", env={"PANIC_API_READS": READS_ID_STATUS})
    assert 1 == run.result.ret, run.output
    assert ["breaking"] == [f["severity"] for f in run.report["findings"]]


def test_a_path_the_spec_does_not_document_is_a_usage_error(run_suite) -> None:
    run = run_suite(env={"PANIC_API_READS": "$.id $.customerID"})
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines(
        ["*--reads (or PANIC_API_READS) names '$.customerID', which panic-api.openapi.yaml does not document*"]
    )


def test_the_ini_setting_is_read_too(run_suite) -> None:
    run = run_suite("--mock-drift", "value-as-string", "-o", f"panic_api_reads={READS_ID_STATUS}")
    assert 0 == run.result.ret, run.output
    assert ["warning"] == [f["severity"] for f in run.report["findings"]]


@pytest.mark.parametrize("text", ["id", "$..id", "$[x]", "status.id"])
def test_what_is_no_json_path_is_refused_naming_the_setting(text: str) -> None:
    with pytest.raises(SettingError, match=r"^--reads \(or PANIC_API_READS\) is .*not a JSON path"):
        resolve(SETTINGS["reads"], f"$.id {text}", {})


def _capture(tmp_path: Path) -> Path:
    body = {**DOCUMENTED_CALLOUT, "responseTypeId": "2"}
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/992011", "credentials": "valid"},
        "response": {"status": 200, "headers": {"Content-Type": "application/json"}, "body": body},
    }
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for _ in range(40)))
    return path


@pytest.mark.parametrize(
    ("reads", "code", "severity"), [(READS_ID_STATUS, 0, "warning"), ("$.responseTypeId", 1, "breaking")]
)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_audit_weighs_the_same_on_one_or_two_workers(
    reads: str, code: int, severity: str, jobs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("PANIC_CONTRACT_AUDIT_PART_BYTES", "512")  # cut the capture, so workers judge parts
    report = tmp_path / "audit.json"
    given_code = cli.main(
        ["audit", str(_capture(tmp_path)), "--reads", reads, "--jobs", jobs, f"--drift-report={report}"]
    )
    assert code == given_code, capsys.readouterr().out
    assert [severity] == [f["severity"] for f in json.loads(report.read_text())["findings"]]


def test_the_audit_refuses_a_path_the_spec_does_not_document(tmp_path: Path, capsys) -> None:
    assert 4 == cli.main(["audit", str(_capture(tmp_path)), "--reads", "$.nope"])
    assert "panic-contract audit: error: --reads (or PANIC_API_READS) names '$.nope'" in capsys.readouterr().err


# --- the weighing itself ------------------------------------------------------------------------------------------

FIELDS = st.sampled_from(["$.id", "$.status", "$.location", "$.location.latitude", "$.responders[0]", "$.a"])


@given(st.sampled_from(list(Kind)), FIELDS, st.frozensets(FIELDS, max_size=3))
def test_only_drift_on_a_field_not_read_is_a_warning(kind: Kind, field: str, reads: frozenset[str]) -> None:
    finding = Finding(kind, field, "integer", "null", "GET /")
    weight = weighed(finding, reads)
    related = any(
        field == p or field.startswith((p + ".", p + "[")) or p.startswith((field + ".", field + "[")) for p in reads
    )
    if kind in WEIGHED_KINDS and not related:
        assert "warning" == weight
    else:
        assert finding.severity == weight
    assert finding.severity == weighed(finding, None)  # nothing declared: every field is read


def test_a_merged_ledger_weighs_by_its_own_reads() -> None:
    worker = Ledger(reads=["$.id"])
    worker.add_findings([Finding(Kind.TYPE_CHANGED, "$.responseTypeId", "integer", 'string "2"', "GET /")])
    controller = Ledger(reads=["$.id"])
    controller.merge(worker.as_dict())
    assert ["warning"] == [entry.severity for entry in controller.sorted_entries()]


# Under -n 2 the workers weigh as one process does: test_coverage.py's
# test_workers_merge_one_coverage_sarif_log_weighing_and_accepted_drift.
