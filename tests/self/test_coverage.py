"""`--coverage`: what the traffic exercised, counted exactly on crafted captures, merged across processes, masked."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.capture import har, splitting
from panic_contract.capture.result import MAX_CAPTURE_SECRETS
from panic_contract.commands import cli
from panic_contract.core.contract import default_contract
from panic_contract.core.coverage import MAX_STATUS_VALUES, MAX_UNDOCUMENTED_FIELDS, MORE_FIELDS, MORE_VALUES, Coverage
from panic_contract.core.findings import inspect_fields
from panic_contract.redaction import register
from tests.self.test_accepted_drift_expiry import check_warned, soon_file
from tests.self.test_audit import Ex, callout, har_entry, write_har, write_jsonl
from tests.self.test_reads import READS_ID_STATUS

CONTRACT = default_contract()
OPTIONAL = ("predefinedLocationId", "status", "latitude", "longitude")  # in the generated bodies


def crafted() -> list[Ex]:
    """Ten exchanges whose every count is known: 7 callouts, 2 not-found, 1 undocumented 403."""
    return [
        Ex(callout()),
        Ex(callout(predefinedLocationId=None)),
        Ex(callout(predefinedLocationId=None, latitude=None, status="RESPONDER DISPATCHED")),
        Ex(callout(status="created")),
        Ex(callout(status="closed", responderEta=420)),  # an undocumented field: new-field
        Ex(callout(calloutClassificationId=...)),  # missing
        Ex(json.dumps(callout(status="responder dispatched"))),  # saved as text, not as JSON
        Ex({"message": "Not Found"}, status=404),
        Ex({"message": "Not Found"}, status=404),
        Ex({"message": "Forbidden"}, status=403),
    ]


@pytest.fixture
def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("PANIC_API_COVERAGE", "PANIC_API_DRIFT_REPORT", "PANIC_API_DRIFT_REPORT_MD"):
        monkeypatch.delenv(name, raising=False)

    def run(capture: Path, *args: str) -> tuple[int, str, dict[str, Any], str]:
        report, markdown = tmp_path / "drift.json", tmp_path / "drift.md"
        code = cli.main(["audit", str(capture), f"--drift-report={report}", f"--drift-report-md={markdown}", *args])
        out = capsys.readouterr()
        return code, out.out + out.err, json.loads(report.read_text()), markdown.read_text()

    return run


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_coverage_counts_a_crafted_capture_exactly(fmt: str, tmp_path: Path, audit: Any) -> None:
    write = write_jsonl if fmt == "jsonl" else write_har
    code, out, report, _ = audit(write(tmp_path / f"capture.{fmt}", crafted()), "--coverage")
    assert 1 == code  # the 403, the missing field
    coverage = report["coverage"]
    assert 10 == coverage["responses"]
    assert [
        {"code": 200, "documented": True, "seen": 7},
        {"code": 401, "documented": True, "seen": 0},
        {"code": 404, "documented": True, "seen": 2},
        {"code": 403, "documented": False, "seen": 1},
    ] == coverage["codes"]
    assert 7 == coverage["callout_bodies"]
    fields = {row["field"]: row for row in coverage["fields"]}
    assert {"present": 7, "absent": 0, "null": 2, "non_null": 5, "nullable": True} == {
        key: fields["predefinedLocationId"][key] for key in ("present", "absent", "null", "non_null", "nullable")
    }
    counts = ("present", "absent", "null", "non_null")
    assert (6, 1, 0, 6) == tuple(fields["calloutClassificationId"][k] for k in counts)
    assert (7, 0, 1, 6) == tuple(fields["latitude"][k] for k in counts)
    assert (False, 1, 6) == (
        fields["responderEta"]["documented"],
        fields["responderEta"]["present"],
        fields["responderEta"]["absent"],
    )
    values = {row["value"]: row for row in coverage["status_values"]}
    assert {"created": 1, "Responder Dispatched": 5, "closed": 1} == {k: row["count"] for k, row in values.items()}
    casings = {"Responder Dispatched": 3, "RESPONDER DISPATCHED": 1, "responder dispatched": 1}
    assert casings == values["Responder Dispatched"]["casings"]
    assert ["created", "Responder Dispatched", "closed"] == list(values)  # the spec's order
    assert [
        "401 never seen",
        "longitude never null in 7 callout responses",
        "status value Responder Cancelled never seen",
    ] == coverage["never_seen"]
    assert "coverage: 10 responses: 200 x7, 401 x0, 404 x2, 403 x1 (undocumented)" in out
    assert "coverage:   predefinedLocationId: 7, 0, 2, 5" in out
    assert (
        "coverage: not shown by this traffic: 401 never seen; longitude never null in 7 callout responses; "
        "status value Responder Cancelled never seen"
    ) in out


def test_the_summary_says_a_green_run_did_not_check_nullability(tmp_path: Path, audit: Any) -> None:
    capture = write_jsonl(tmp_path / "capture.jsonl", [Ex(callout(latitude=None)), Ex(callout(longitude=None))])
    code, out, report, markdown = audit(capture, "--coverage")
    assert 0 == code
    assert ["predefinedLocationId"] == report["coverage"]["nullability_unchecked"]
    line = (
        "coverage: this run passed without checking nullability: predefinedLocationId never null in the traffic, "
        "so whether a client copes with null was not tested"
    )
    assert line in out.splitlines()
    assert out.splitlines()[-1].startswith("verdict: ok (exit 0)")
    assert "This run passed without checking nullability: predefinedLocationId never null in the traffic." in markdown
    assert "| `predefinedLocationId` | 2 | 0 | 0 | 2 | yes |" in markdown
    assert "| 200 | yes | 2 |" in markdown
    assert "- 401 never seen" in markdown


def test_without_the_flag_nothing_is_counted_or_reported(tmp_path: Path, audit: Any) -> None:
    code, out, report, markdown = audit(write_jsonl(tmp_path / "capture.jsonl", crafted()))
    assert (1, False, False, False) == (code, "coverage" in report, "coverage:" in out, "Coverage:" in markdown)


def test_the_variable_turns_it_on(tmp_path: Path, audit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = write_jsonl(tmp_path / "capture.jsonl", crafted())
    monkeypatch.setenv("PANIC_API_COVERAGE", "1")
    assert 10 == audit(capture)[2]["coverage"]["responses"]


def test_a_coverage_value_that_is_not_a_switch_is_one_line_and_exit_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANIC_API_COVERAGE", "maybe")
    assert 4 == cli.main(["audit", str(write_jsonl(tmp_path / "capture.jsonl", crafted()))])
    err = capsys.readouterr().err.strip().splitlines()
    assert 1 == len(err)
    assert "--coverage (or PANIC_API_COVERAGE) is 'maybe'; allowed: 1 or 0" in err[0]


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_jobs_merge_into_the_coverage_of_one_pass(
    fmt: str, tmp_path: Path, audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(splitting, "MIN_PART_BYTES", 2048)  # cut even this small file into parts
    write = write_jsonl if fmt == "jsonl" else write_har
    capture = write(tmp_path / f"capture.{fmt}", crafted() * 30)
    assert len(splitting._plan(capture, 2)) > 2
    one = audit(capture, "--coverage", "--jobs", "1")[2]["coverage"]
    many = audit(capture, "--coverage", "--jobs", "2")[2]["coverage"]
    assert 300 == one["responses"]
    assert one == many


def test_a_har_read_again_from_its_start_keeps_its_coverage(
    tmp_path: Path, audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries holding arrays of objects keyed as an entry is make the fast reader's cut fall inside one: the
    HAR is read again from its start, into a fresh ledger that must count coverage as the first one did."""
    inner = {"_initiator": [{"startedDateTime": "x"}, {"startedDateTime": "y"}]}
    exchanges = crafted() * 30
    exchanges = exchanges[:60] + [dataclasses.replace(ex, extra=inner) for ex in exchanges[60:]]
    guards: list[object] = []
    make_guard = har._guard
    monkeypatch.setattr(har, "_guard", lambda *args: guards.append(1) or make_guard(*args))
    from_har = audit(write_har(tmp_path / "capture.har", exchanges), "--coverage")[2]["coverage"]
    assert len(guards) == 2  # the second pass, from the start
    assert audit(write_jsonl(tmp_path / "capture.jsonl", exchanges), "--coverage")[2]["coverage"] == from_har


# --- the counters themselves ------------------------------------------------------------------------------------

_values = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from(["created", "CLOSED", "Escalated", "x" * 120]))
_nullable = st.one_of(st.none(), st.integers(-90, 90))
_valid = st.builds(  # a callout the judge finds valid: the fast path's case
    lambda location, latitude, longitude, status: callout(
        predefinedLocationId=location, latitude=latitude, longitude=longitude, status=status
    ),
    _nullable,
    _nullable,
    _nullable,
    st.sampled_from(["created", "CLOSED", "Responder Dispatched", "responder cancelled"]),
)
_bodies = st.one_of(
    _valid,
    st.fixed_dictionaries(
        {name: st.integers(1, 9) for name in ("id", "customerId", "responseTypeId", "calloutClassificationId")}
        | {"createdAt": st.just("2024-04-20T14:45:00Z")},
        optional=dict.fromkeys((*OPTIONAL, "responderEta", "y" * 150), _values),
    ),
    st.dictionaries(st.text(max_size=4), _values, max_size=4),
    st.lists(st.integers(), max_size=2),
    st.none(),
)
_responses = st.lists(st.tuples(st.sampled_from([200, 200, 200, 401, 404, 503]), _bodies), max_size=30)


def _counted(responses: list[tuple[int, Any]]) -> Coverage:
    coverage = Coverage.of(CONTRACT)
    for status, body in responses:
        coverage.add(status, body)
    return coverage


@given(_responses, st.integers(0, 30))
def test_counts_merged_from_parts_are_the_counts_of_one_pass(responses: list[tuple[int, Any]], cut: int) -> None:
    """What pytest-xdist workers and the audit's parts do: count apart, send `as_dict()`, merge."""
    whole = _counted(responses)
    merged = Coverage.of(CONTRACT)
    for part in (responses[:cut], responses[cut:]):
        merged.merge(json.loads(json.dumps(_counted(part).as_dict())))
    assert whole.report() == merged.report()


@given(_responses)
def test_the_judged_fast_path_counts_what_the_plain_count_does(responses: list[tuple[int, Any]]) -> None:
    """`add_judged` takes the judge's VALIDATED as a shortcut; it must count exactly what `add` does."""
    plain, judged = Coverage.of(CONTRACT), Coverage.of(CONTRACT)
    for status, body in responses:
        plain.add(status, body)
        headers = {"content-type": "application/json"}
        path = "/panic-api/v2/callouts/1"
        inspection = inspect_fields(CONTRACT, "GET", path, status, headers, None, body, "valid", None)
        judged.add_judged(status, body, inspection)
    assert plain.report() == judged.report()


def test_the_counts_stay_bounded_whatever_the_bodies() -> None:
    coverage = Coverage.of(CONTRACT)
    for number in range(MAX_UNDOCUMENTED_FIELDS + 40):
        coverage.add(200, {**callout(), f"extra{number}": number, "z" * 200: 1, "status": f"value {number}"})
    rows = coverage.field_counts()
    assert len(rows) == len(CONTRACT.responses[200].properties) + MAX_UNDOCUMENTED_FIELDS + 1
    assert MORE_FIELDS == rows[-1]["field"]
    # every body had a field counted with the rest (the long name), the later ones two: each body once
    assert (MAX_UNDOCUMENTED_FIELDS + 40, 0) == (rows[-1]["present"], rows[-1]["absent"])
    assert len(coverage.status_values) == MAX_STATUS_VALUES + 1  # the first values seen, then the rest together
    assert 40 == coverage.status_values[MORE_VALUES]
    total = sum(row["count"] for row in coverage.status_value_counts())
    assert MAX_UNDOCUMENTED_FIELDS + 40 == total


def test_server_text_is_masked_in_what_travels_and_in_every_report(tmp_path: Path, audit: Any) -> None:
    secret = "sentinel-coverage-secret-71c3"
    register(secret)
    coverage = Coverage.of(CONTRACT)
    coverage.add(200, {**callout(), "status": f"held by {secret}", secret: 1})
    assert secret not in json.dumps(coverage.as_dict())
    capture = write_jsonl(
        tmp_path / "capture.jsonl", [Ex(callout(status=f"held by {secret}", **{f"x{secret}": 1})), Ex(callout())]
    )
    sarif = tmp_path / "drift.sarif"
    _, out, report, markdown = audit(capture, "--coverage", f"--drift-report-sarif={sarif}")
    assert "coverage" in report
    for text in (out, json.dumps(report), markdown, sarif.read_text()):
        assert secret not in text
        assert "***" in text


@pytest.mark.e2e
def test_workers_merge_one_coverage_sarif_log_weighing_and_accepted_drift(run_suite: Any, tmp_path: Path) -> None:
    """Under -n 2 the controller runs no test: every count, weight and warning it reports came back from the
    workers, merged. One run shows them all (each a drift of its own field): the coverage and the SARIF log
    (`new-field`), the reads' weighing as one process does it (`value-as-string` on a field not read), and an
    accepted drift expiring soon warned in every report (`unknown-status`, accepted for 3 days)."""
    sarif = tmp_path / "drift.sarif"
    run = run_suite(
        "-n",
        "2",
        "--coverage",
        "--mock-drift=new-field",
        "--mock-drift=value-as-string",
        "--mock-drift=unknown-status",
        f"--drift-report-sarif={sarif}",
        f"--accepted-drift={soon_file(tmp_path)}",
        env={"PANIC_API_READS": READS_ID_STATUS},
    )
    assert 0 == run.result.ret, run.output
    coverage = run.report["coverage"]
    seen = {row["code"]: row["seen"] for row in coverage["codes"]}
    assert all(seen[code] > 0 for code in (200, 401, 404)), seen
    assert coverage["responses"] == sum(seen.values())
    assert run.report["validated_bodies"] == coverage["callout_bodies"] == seen[200]
    fields = {row["field"]: row for row in coverage["fields"]}
    assert coverage["callout_bodies"] == fields["responderEta"]["present"]  # the drift: in every callout
    findings = {f["kind"]: f for f in run.report["findings"]}
    results = {r["ruleId"]: r for r in json.loads(sarif.read_text())["runs"][0]["results"]}
    assert {"new-field", "type-changed"} <= set(results), results
    for kind in ("new-field", "type-changed"):
        assert findings[kind]["count"] == results[kind]["properties"]["count"]
    assert 1 == run.output.count(f"coverage: {coverage['responses']:,} responses: 200 x{seen[200]:,}, ")  # one section
    # the workers weigh by the reads as one process does: a type change of a field not read is a warning
    assert ("$.responseTypeId", "warning") == (findings["type-changed"]["field"], findings["type-changed"]["severity"])
    check_warned(run.report, run.markdown, run.result.outlines)


def test_a_credential_past_the_registered_ones_is_masked_in_the_coverage_too(tmp_path: Path, audit: Any) -> None:
    """A HAR with more distinct tokens than are registered: each exchange's own still never shows."""
    # no two share a run of 12 characters: a registered one cannot mask another
    tokens = [hashlib.sha256(b"%d" % number).hexdigest()[:24] for number in range(MAX_CAPTURE_SECRETS + 6)]
    entries = []
    for number, token in enumerate(tokens):  # the last ones, past the registered, echo theirs
        entry = har_entry(Ex(callout(status=f"for {token}" if number >= MAX_CAPTURE_SECRETS else "closed")))
        entry["request"]["headers"] = [{"name": "Authorization", "value": f"Bearer {token}"}]
        entries.append(entry)
    _, out, report, markdown = audit(write_har(tmp_path / "capture.har", entries), "--coverage")
    values = report["coverage"]["status_values"]
    assert len(tokens) == sum(row["count"] for row in values)
    for text in (out, json.dumps(report), markdown):
        assert not [token for token in tokens if token in text]
