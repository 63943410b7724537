"""Accepted drift: accepted, expired, stale and malformed entries, in the suite and in `panic-contract accept`."""

from __future__ import annotations

import json
from datetime import date, timedelta
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from panic_contract.commands import cli
from panic_contract.core.accepted import load
from panic_contract.core.findings import Finding, Kind
from panic_contract.core.ledger import Ledger
from panic_contract.errors import AcceptedDriftError
from tests.self.samples import DOCUMENTED_CALLOUT

TODAY = date(2026, 11, 28)
LATER = (date.today() + timedelta(days=30)).isoformat()
EARLIER = (date.today() - timedelta(days=1)).isoformat()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accepted-drift.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def entry(kind: str, field: str, expires: str, reason: str = "reported as ticket 4411", value: str = "") -> str:
    value_line = f"  value: {value}\n" if value else ""
    return f"- kind: {kind}\n  field: {field}\n{value_line}  reason: {reason}\n  expires: {expires}\n"


UNKNOWN_STATUS = Finding(Kind.UNKNOWN_STATUS, "$.status", "one of ...", 'string "Escalated"', "GET /x/1")


def test_an_unexpired_entry_accepts_a_finding_by_kind_field_and_value(tmp_path: Path) -> None:
    acceptance = load(write(tmp_path, entry("unknown-status", "$.status", "2026-12-31", value="Escalated")), TODAY)
    covered = acceptance.classify(UNKNOWN_STATUS)
    assert covered is not None
    assert "accepted" == covered[0]
    other_value = Finding(Kind.UNKNOWN_STATUS, "$.status", "one of ...", 'string "Paused"', "GET /x/1")
    assert acceptance.classify(other_value) is None


def test_an_entry_past_its_date_is_expired(tmp_path: Path) -> None:
    acceptance = load(write(tmp_path, entry("unknown-status", "$.status", "2026-11-27")), TODAY)
    covered = acceptance.classify(UNKNOWN_STATUS)
    assert covered is not None
    assert "expired" == covered[0]


def test_the_ledger_keeps_accepted_findings_apart_and_finds_stale_entries(tmp_path: Path) -> None:
    text = entry("unknown-status", "$.status", "2026-12-31") + entry("missing-field", "$.id", "2026-12-31")
    ledger = Ledger(load(write(tmp_path, text), TODAY))
    ledger.add_findings([UNKNOWN_STATUS], "GET /x/1", times=3)
    assert [] == ledger.sorted_entries()
    assert [3] == [e.count for e in ledger.accepted_entries()]
    assert ["missing-field"] == [e.kind for e in ledger.stale_acceptances()]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("kind: unknown-status\n", "line 1: expected a list of entries*"),
        ("- kind: unknown-status\n  field: $.status\n  expires: 2026-12-31\n", "line 1: reason is required*"),
        (
            "- kind: unknown-status\n  field: $.status\n  reason: x\n  expires: soon\n",
            "line 1: expires must be a date*",
        ),
        ("- kind: nope\n  reason: x\n  expires: 2026-12-31\n", "line 1: kind 'nope' is not a finding kind*"),
        (
            entry("new-field", "$.a", "2026-12-31") + "- kind: new-field\n  colour: red\n",
            "line 6: unknown key 'colour'*",
        ),
        ('- kind: "unclosed\n', "line 2: not valid YAML*"),
    ],
    ids=["not-a-list", "no-reason", "bad-date", "bad-kind", "unknown-key", "bad-yaml"],
)
def test_a_malformed_file_is_one_line_naming_the_line(tmp_path: Path, text: str, line: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(AcceptedDriftError) as caught:
        load(path, TODAY)
    assert fnmatchcase(str(caught.value), f"{path} {line}"), str(caught.value)


# --- in a run of the suite ------------------------------------------------------------------------


def test_accepted_drift_does_not_fail_the_run_and_is_reported(run_suite, tmp_path: Path) -> None:
    path = write(tmp_path, entry("unknown-status", "$.status", LATER, value="Escalated"))
    run = run_suite("--mock-drift", "unknown-status", f"--accepted-drift={path}")
    assert 0 == run.result.ret, run.output
    assert ("ok", []) == (run.report["verdict"], run.report["findings"])
    assert ["unknown-status"] == [f["kind"] for f in run.report["accepted"]]
    run.result.stdout.fnmatch_lines(
        ["accepted unknown-status $.status: *", "    accepted by: unknown-status $.status = *reported as ticket 4411*"]
    )
    assert "Accepted drift (does not fail the run):" in run.markdown


def test_an_expired_entry_fails_the_run_naming_it_and_its_reason(run_suite, tmp_path: Path) -> None:
    path = write(tmp_path, entry("unknown-status", "$.status", EARLIER, reason="provider promised a fix"))
    run = run_suite("--mock-drift", "unknown-status", f"--accepted-drift={path}")
    assert 1 == run.result.ret, run.output
    assert "drift" == run.report["verdict"]
    assert "accepted drift expired: unknown-status $.status (line 1" in run.report["reason"]
    assert "provider promised a fix" in run.report["reason"]


def test_an_entry_that_matched_nothing_is_reported_stale(run_suite, tmp_path: Path) -> None:
    path = write(tmp_path, entry("missing-field", "$.calloutClassificationId", LATER))
    run = run_suite(env={"PANIC_API_ACCEPTED_DRIFT": str(path)})
    assert 0 == run.result.ret, run.output
    assert 1 == len(run.report["stale_acceptances"])
    run.result.stdout.fnmatch_lines(["stale accepted drift (matched nothing; delete it): missing-field *"])


def test_a_malformed_accepted_drift_file_is_a_usage_error(run_suite, tmp_path: Path) -> None:
    path = write(tmp_path, "- kind: unknown-status\n  field: $.status\n  expires: 2026-12-31\n")
    run = run_suite(f"--accepted-drift={path}")
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([f"ERROR: {path} line 1: reason is required*"])


def test_accepted_expired_and_new_findings_in_one_run(run_suite, tmp_path: Path) -> None:
    text = entry("unknown-status", "$.status", LATER) + entry("null-in-non-nullable", "$.customerId", EARLIER)
    path = write(tmp_path, text)
    drifts = ("unknown-status", "null-in-non-nullable", "missing-field")
    run = run_suite(*(arg for d in drifts for arg in ("--mock-drift", d)), f"--accepted-drift={path}")
    assert 1 == run.result.ret, run.output
    open_kinds = {f["kind"]: f.get("acceptance") for f in run.report["findings"]}
    assert {"null-in-non-nullable": "expired", "missing-field": None} == open_kinds
    assert ["unknown-status"] == [f["kind"] for f in run.report["accepted"]]


# --- panic-contract accept --------------------------------------------------------------------------


def test_accept_prints_entries_ready_to_paste(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "drift.json"
    finding = {"kind": "unknown-status", "field": "$.status", "actual_values": ['string "Escalated"']}
    report.write_text(json.dumps({"verdict": "drift", "findings": [finding]}))
    assert 0 == cli.main(["accept", str(report)])
    out = capsys.readouterr().out
    assert "reason: TODO" in out
    pasted = write(tmp_path, out.replace("TODO", "reported as ticket 4411"))
    (loaded,) = load(pasted).entries
    assert ("unknown-status", "$.status") == (loaded.kind, loaded.field)
    assert 30 == (loaded.expires - date.today()).days


def test_accept_with_a_malformed_report_is_one_line_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "drift.json"
    report.write_text('{\n  "findings": [\n    {"kind": \n')
    assert 4 == cli.main(["accept", str(report)])
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"panic-contract accept: verdict: usage (exit 4): {report} line 4: not a JSON drift report")


def test_the_audit_takes_accepted_drift_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = {**DOCUMENTED_CALLOUT, "status": "Escalated"}
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/992011"},
        "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": body},
    }
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps(record) + "\n")
    assert 1 == cli.main(["audit", str(capture)])
    path = write(tmp_path, entry("unknown-status", "$.status", LATER))
    capsys.readouterr()
    assert 0 == cli.main(["audit", str(capture), f"--accepted-drift={path}"])
    assert "accepted unknown-status $.status" in capsys.readouterr().out
