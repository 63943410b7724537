"""`panic-contract audit`: every finding kind from HAR and JSON Lines, counts, verdicts, reports, bad input."""

from __future__ import annotations

import base64
import fnmatch
import gzip
import io
import json
import os
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract.capture import reading, splitting
from panic_contract.capture.guard import MAX_DEPTH, DepthGuard, NestingError, outside_strings
from panic_contract.capture.result import PROGRESS_MASK
from panic_contract.commands import audit, cli
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Kind
from panic_contract.core.ledger import MAX_SAMPLES
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

SENTINEL_TOKEN = "sentinel-token-audit-4d2c"
PATH = "/panic-api/v2/callouts/{}"
HOST = "https://staging-panic.aura.services"
JSON = "application/json"


@dataclass
class Ex:
    """One exchange to write into a capture, whatever its format."""

    body: Any = None  # a dict/list is JSON; a str is sent as is
    status: int = 200
    callout_id: int = 992011
    media: str = JSON
    token: bool = True
    method: str = "GET"
    path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url_path(self) -> str:
        return self.path or PATH.format(self.callout_id)

    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


def callout(**changes: Any) -> dict[str, Any]:
    body = {**CALLOUT, **changes}
    return {k: v for k, v in body.items() if v is not ...}


# One exchange per finding kind, and the field it names.
DRIFTS: dict[Kind, tuple[Ex, str | None]] = {
    Kind.MISSING_FIELD: (Ex(callout(calloutClassificationId=...)), "$.calloutClassificationId"),
    Kind.TYPE_CHANGED: (Ex(callout(id="992011")), "$.id"),
    Kind.NULL_IN_NON_NULLABLE: (Ex(callout(customerId=None)), "$.customerId"),
    Kind.FORMAT_VIOLATED: (Ex(callout(createdAt="20/04/2024 14:45")), "$.createdAt"),
    Kind.UNKNOWN_STATUS: (Ex(callout(status="Escalated")), "$.status"),
    Kind.NEW_FIELD: (Ex(callout(responderEta=420)), "$.responderEta"),
    Kind.UNDOCUMENTED_STATUS_CODE: (Ex({"message": "Forbidden"}, status=403), None),
    Kind.SERVER_ERROR: (Ex({"message": "boom"}, status=500), None),
    Kind.WRONG_CONTENT_TYPE: (Ex("<html>maintenance</html>", media="text/html"), None),
    Kind.MALFORMED_BODY: (Ex(json.dumps(CALLOUT)[:30]), None),
    Kind.AUTH_NOT_ENFORCED: (Ex(callout(), token=False), None),
    Kind.ID_MISMATCH: (Ex(callout(), callout_id=992014), "$.id"),
}
CLEAN = Ex(callout())
OTHER = Ex({"events": []}, path="/panic-api/v2/callouts/992011/events")
OTHER_METHOD = Ex(callout(), method="POST")


def jsonl_record(ex: Ex) -> dict[str, Any]:
    response: dict[str, Any] = {"status": ex.status, "headers": {"Content-Type": ex.media}}
    if isinstance(ex.body, str):
        response["body_text"] = ex.body
    else:
        response["body"] = ex.body
    request = {"method": ex.method, "path": ex.url_path, "credentials": "valid" if ex.token else "missing"}
    return {"request": request, "response": response, **ex.extra}


def har_entry(ex: Ex) -> dict[str, Any]:
    text = ex.text()
    request_headers = [{"name": "Accept", "value": JSON}]
    if ex.token:
        request_headers.append({"name": "Authorization", "value": f"Bearer {SENTINEL_TOKEN}"})
    entry = {
        "startedDateTime": "2024-04-20T14:45:00.000Z",
        "time": 12.5,
        "request": {"method": ex.method, "url": HOST + ex.url_path, "headers": request_headers},
        "response": {
            "status": ex.status,
            "statusText": "",
            "headers": [{"name": "Content-Type", "value": ex.media}, {"name": "Set-Cookie", "value": SENTINEL_TOKEN}],
            "content": {"size": len(text), "mimeType": ex.media, "text": text},
        },
    }
    return {**entry, **ex.extra}


def write_jsonl(path: Path, exchanges: list[Ex]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(jsonl_record(ex)) + b"\n" for ex in exchanges))
    return path


def write_har(path: Path, exchanges: list[Ex] | list[dict[str, Any]]) -> Path:
    entries = [har_entry(ex) if isinstance(ex, Ex) else ex for ex in exchanges]
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}, indent=2))
    return path


WRITERS = {"jsonl": (write_jsonl, "capture.jsonl", "line"), "har": (write_har, "capture.har", "entry")}


@dataclass
class AuditRun:
    code: int
    out: str
    err: str
    report: dict[str, Any]
    markdown: str

    def findings(self, kind: Kind) -> list[dict[str, Any]]:
        return [f for f in self.report.get("findings", []) if f["kind"] == kind]


@pytest.fixture
def run_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("PANIC_API_STRICT_DRIFT", "PANIC_API_DRIFT_REPORT", "PANIC_API_DRIFT_REPORT_MD"):
        monkeypatch.delenv(name, raising=False)

    def run(capture: Path | list[str], *args: str) -> AuditRun:
        report, markdown = tmp_path / "drift.json", tmp_path / "drift.md"
        report.unlink(missing_ok=True)
        markdown.unlink(missing_ok=True)
        files = [str(capture)] if isinstance(capture, Path) else capture
        code = cli.main(["audit", *files, f"--drift-report={report}", f"--drift-report-md={markdown}", *args])
        captured = capsys.readouterr()
        return AuditRun(
            code,
            captured.out,
            captured.err,
            json.loads(report.read_text()) if report.exists() else {},
            markdown.read_text() if markdown.exists() else "",
        )

    return run


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_every_finding_kind_reaches_the_report(fmt: str, tmp_path: Path, run_audit: Any) -> None:
    """A HAR request without an Authorization header says nothing about auth (a sanitized export drops it):
    auth-not-enforced comes from JSON Lines records, which say `credentials: missing` outright."""
    write, name, unit = WRITERS[fmt]
    capture = write(tmp_path / name, [CLEAN, *(ex for ex, _ in DRIFTS.values())])
    run = run_audit(capture)
    assert 1 == run.code
    assert "drift" == run.report["verdict"]
    judged = {kind: field_ for kind, (_, field_) in DRIFTS.items() if fmt == "jsonl" or kind != Kind.AUTH_NOT_ENFORCED}
    assert {str(kind): field_ for kind, field_ in judged.items()} == {
        f["kind"]: f["field"] for f in run.report["findings"]
    }
    for position, kind in enumerate(DRIFTS, start=2):  # the clean exchange comes first
        if kind not in judged:
            continue
        (finding,) = run.findings(kind)
        assert 1 == finding["count"]
        assert [f"{unit} {position}"] == finding["samples"]
        assert f"first seen: {kind} {finding['field'] or '-'} at {unit} {position}" in run.out
    assert len(DRIFTS) + 1 == run.report["requests"]
    # the clean body and the seven drifted JSON callouts; in a HAR, also the callout sent without a token
    assert (8 if fmt == "jsonl" else 9) == run.report["validated_bodies"]
    assert ("auth not judged: 1 exchange carried no credential" in run.report["reason"]) is (fmt == "har")


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_a_clean_capture_is_ok_and_exits_0(fmt: str, tmp_path: Path, run_audit: Any) -> None:
    write, name, _ = WRITERS[fmt]
    run = run_audit(write(tmp_path / name, [CLEAN, Ex(callout(id=992012, status="CLOSED"), callout_id=992012)]))
    assert 0 == run.code
    assert "ok" == run.report["verdict"]
    assert [] == run.report["findings"]
    assert "verdict: ok (exit 0)" in run.out.splitlines()[-1]


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_findings_are_counted_with_the_first_few_positions(fmt: str, tmp_path: Path, run_audit: Any) -> None:
    write, name, unit = WRITERS[fmt]
    missing = DRIFTS[Kind.MISSING_FIELD][0]
    exchanges = [CLEAN, missing, CLEAN, missing, *[missing] * (MAX_SAMPLES + 2)]
    run = run_audit(write(tmp_path / name, exchanges))
    (finding,) = run.findings(Kind.MISSING_FIELD)
    assert MAX_SAMPLES + 4 == finding["count"]
    assert [f"{unit} {n}" for n in (2, 4, 5, 6, 7)] == finding["samples"]


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_other_exchanges_are_counted_and_skipped(fmt: str, tmp_path: Path, run_audit: Any) -> None:
    write, name, _ = WRITERS[fmt]
    run = run_audit(write(tmp_path / name, [OTHER, CLEAN, OTHER_METHOD, OTHER]))
    assert 0 == run.code
    assert 1 == run.report["requests"]
    assert "1 of 4 exchanges audited, 3 of other operations skipped" in run.report["reason"]
    assert "1 of 4 exchanges audited, 3 of other operations skipped" in run.out.splitlines()[0]


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_a_new_field_alone_passes_unless_drift_is_strict(
    fmt: str, tmp_path: Path, run_audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write, name, _ = WRITERS[fmt]
    capture = write(tmp_path / name, [CLEAN, DRIFTS[Kind.NEW_FIELD][0]])
    lenient = run_audit(capture)
    assert (0, "ok") == (lenient.code, lenient.report["verdict"])
    assert ["new-field"] == [f["kind"] for f in lenient.report["findings"]]
    strict = run_audit(capture, "--strict-drift")
    assert (1, "drift") == (strict.code, strict.report["verdict"])
    monkeypatch.setenv("PANIC_API_STRICT_DRIFT", "1")
    from_env = run_audit(capture)
    assert (1, "drift") == (from_env.code, from_env.report["verdict"])


def test_a_bad_strict_drift_variable_is_a_usage_error(
    tmp_path: Path, run_audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANIC_API_STRICT_DRIFT", "maybe")
    run = run_audit(write_jsonl(tmp_path / "capture.jsonl", [CLEAN]))
    assert 4 == run.code
    assert [
        "panic-contract audit: error: --strict-drift (or PANIC_API_STRICT_DRIFT) is 'maybe'; allowed: 1 or 0"
    ] == run.err.splitlines()


@pytest.mark.parametrize(
    ("exchanges", "verdict", "code"),
    [
        ([CLEAN, Ex({"message": "Unauthorized"}, status=401)], "auth", 11),
        ([CLEAN, Ex("<html>Bad Gateway</html>", status=502, media="text/html")], "outage", 10),
        ([OTHER], "inconclusive", 12),
    ],
    ids=["token-rejected", "gateway-errors", "no-exchange-of-the-operation"],
)
@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_verdicts_that_are_not_drift_keep_the_suites_exit_codes(
    fmt: str, exchanges: list[Ex], verdict: str, code: int, tmp_path: Path, run_audit: Any
) -> None:
    write, name, _ = WRITERS[fmt]
    run = run_audit(write(tmp_path / name, exchanges))
    assert (code, verdict) == (run.code, run.report["verdict"])
    assert [] == run.report["findings"]
    assert f"verdict: {verdict} (exit {code})" in run.out.splitlines()[-1]


def test_reports_name_the_audit_the_host_and_the_spec(tmp_path: Path, run_audit: Any) -> None:
    run = run_audit(write_har(tmp_path / "capture.har", [CLEAN, DRIFTS[Kind.NULL_IN_NON_NULLABLE][0]]))
    assert {"target": "audit", "base_url": HOST, "spec": "panic-api.openapi.yaml", "requests": 2} == {
        key: run.report[key] for key in ("target", "base_url", "spec", "requests")
    }
    assert run.markdown.startswith("## API drift: **drift** (exit 1)\n")
    assert (
        "| null-in-non-nullable | breaking | $.customerId | integer | null | 1 | "
        f"`GET {HOST}/panic-api/v2/callouts/992011` |" in run.markdown
    )
    assert f"""curl -H "Authorization: Bearer $PANIC_API_TOKEN" '{HOST}/panic-api/v2/callouts/992011'""" in run.markdown


def test_json_lines_without_a_host_name_the_file(tmp_path: Path, run_audit: Any) -> None:
    run = run_audit(write_jsonl(tmp_path / "capture.jsonl", [CLEAN]))
    assert "capture.jsonl" == run.report["base_url"]


def test_a_recorded_fixture_line_names_its_target(tmp_path: Path, run_audit: Any) -> None:
    provenance = {
        "source": "recorded",
        "target": "staging-panic.aura.services",
        "recorded_at": "2024-04-20T14:45:00Z",
        "tool_version": "0.1.0",
    }
    recorded = Ex(callout(), extra={"provenance": provenance})
    run = run_audit(write_jsonl(tmp_path / "capture.jsonl", [recorded]))
    assert HOST == run.report["base_url"]  # the documented server of that host: a reproducer that runs


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_the_format_is_sniffed_when_the_name_does_not_say(fmt: str, tmp_path: Path, run_audit: Any) -> None:
    write, _, unit = WRITERS[fmt]
    run = run_audit(write(tmp_path / "capture.json", [CLEAN, DRIFTS[Kind.UNKNOWN_STATUS][0]]))
    assert 1 == run.code
    assert [f"{unit} 2"] == run.findings(Kind.UNKNOWN_STATUS)[0]["samples"]
    assert f"({fmt})" in run.out.splitlines()[0]


def test_a_har_entry_without_a_response_from_the_browser_is_skipped(tmp_path: Path, run_audit: Any) -> None:
    aborted = har_entry(CLEAN)
    aborted["response"] = {"status": 0, "headers": [], "content": {"size": 0, "mimeType": ""}}
    run = run_audit(write_har(tmp_path / "capture.har", [CLEAN, aborted]))
    assert (0, []) == (run.code, run.report["findings"])
    assert "1 without a response (status 0) skipped" in run.report["reason"]


def test_a_query_string_never_reaches_the_report(tmp_path: Path, run_audit: Any) -> None:
    drift = DRIFTS[Kind.TYPE_CHANGED][0]
    with_query = Ex(drift.body, path=PATH.format(992011) + f"?access_token={SENTINEL_TOKEN}")
    for capture, host in (
        (write_jsonl(tmp_path / "q.jsonl", [with_query]), ""),
        (write_har(tmp_path / "q.har", [with_query]), HOST),
    ):
        run = run_audit(capture)
        assert [f"GET {host}/panic-api/v2/callouts/992011"] == [f["request"] for f in run.findings(Kind.TYPE_CHANGED)]
        assert SENTINEL_TOKEN not in run.out + run.err + json.dumps(run.report) + run.markdown


def test_a_sentinel_token_in_a_har_reaches_no_output_and_no_report(tmp_path: Path, run_audit: Any) -> None:
    entries = [har_entry(CLEAN), *(har_entry(ex) for ex, _ in DRIFTS.values())]
    entries[1]["request"]["url"] = f"https://user:{SENTINEL_TOKEN}@staging-panic.aura.services" + PATH.format(992011)
    run = run_audit(write_har(tmp_path / "capture.har", entries))
    assert 1 == run.code
    assert SENTINEL_TOKEN in (tmp_path / "capture.har").read_text()  # the test would prove nothing otherwise
    for text in (run.out, run.err, json.dumps(run.report), run.markdown):
        assert SENTINEL_TOKEN not in text
    assert "https://staging-panic.aura.services" == run.report["base_url"]


# --- bad input: one line naming the position, exit 4, no report ---------------------------------


def _truncated_har(tmp_path: Path) -> Path:
    path = write_har(tmp_path / "capture.har", [CLEAN, CLEAN, CLEAN])
    text = path.read_text()
    path.write_text(text[: text.rindex('"response"')])  # cut inside the third entry
    return path


def _har_without_response(tmp_path: Path) -> Path:
    entry = har_entry(CLEAN)
    del entry["response"]
    return write_har(tmp_path / "capture.har", [har_entry(CLEAN), har_entry(OTHER), entry])


def _non_json_line(tmp_path: Path) -> Path:
    path = write_jsonl(tmp_path / "capture.jsonl", [CLEAN, CLEAN])
    path.write_bytes(path.read_bytes() + b'{"request": {"method": "GET", "path": "/panic-api/v2/cal\n')
    return path


def _line_without_response(tmp_path: Path) -> Path:
    path = write_jsonl(tmp_path / "capture.jsonl", [CLEAN])
    record = {"request": {"method": "GET", "path": PATH.format(992011)}}
    path.write_bytes(path.read_bytes() + orjson.dumps(record) + b"\n")
    return path


def _not_a_har(tmp_path: Path) -> Path:
    path = tmp_path / "capture.har"
    path.write_text('{"entries": []}')
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_truncated_har, "capture.har: entry 3 (near byte *): the HAR ends early: the file is truncated; *"),
        (_har_without_response, "capture.har: entry 3: has no response with a status; export the HAR again*"),
        (_non_json_line, "capture.jsonl: line 3: not JSON (*); each line must be one exchange record"),
        (_line_without_response, "capture.jsonl: line 2: not an exchange record: at the top level: *response*"),
        (_not_a_har, "capture.har: not a HAR file: it has no log.entries array*"),
    ],
    ids=[
        "truncated-har",
        "entry-without-response",
        "non-json-line",
        "line-without-response",
        "not-a-har",
    ],
)
def test_bad_input_is_one_line_with_the_position_and_exit_4(
    make: Any, expected: str, tmp_path: Path, run_audit: Any
) -> None:
    capture = make(tmp_path)
    run = run_audit(capture)
    assert 4 == run.code
    assert 1 == len(run.err.splitlines())
    assert run.err.startswith("panic-contract audit: verdict: usage (exit 4): ")
    line = f"panic-contract audit: verdict: usage (exit 4): {capture.parent}/{expected}"
    assert fnmatch.fnmatchcase(run.err.strip(), line)
    assert "" == run.out
    assert ({}, "") == (run.report, run.markdown)


def test_a_missing_file_is_one_line_and_exit_4(tmp_path: Path, run_audit: Any) -> None:
    run = run_audit(tmp_path / "nowhere.har")
    assert 4 == run.code
    assert [
        f"panic-contract audit: verdict: usage (exit 4): {tmp_path}/nowhere.har: cannot read the capture: "
        "No such file or directory"
    ] == run.err.splitlines()


def test_blank_lines_in_json_lines_are_ignored(tmp_path: Path, run_audit: Any) -> None:
    path = write_jsonl(tmp_path / "capture.jsonl", [CLEAN, CLEAN])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n\n", 1) + b"\n")
    run = run_audit(path)
    assert (0, 2) == (run.code, run.report["requests"])


# --- streaming and the progress bar --------------------------------------------------------------


def test_progress_is_reported_while_reading_and_only_on_a_terminal(tmp_path: Path, run_audit: Any) -> None:
    count = 2 * (PROGRESS_MASK + 1) + 5
    path = write_jsonl(tmp_path / "capture.jsonl", [CLEAN] * count)
    calls: list[tuple[int, int]] = []
    result = reading.audit_file(path, default_contract(), progress=lambda done, entries: calls.append((done, entries)))
    assert count == result.audited
    assert [PROGRESS_MASK + 1, 2 * (PROGRESS_MASK + 1)] == [entries for _, entries in calls]
    assert calls[0][0] < calls[1][0] <= path.stat().st_size
    run = run_audit(path)  # captured stderr is not a terminal: no bar
    assert "\r" not in run.err


def test_the_progress_bar_is_one_line_redrawn_in_place() -> None:
    screen = io.StringIO()
    bar = audit.ProgressBar(screen, total_bytes=1000)
    bar(250, 16384)
    bar(500, 32768)
    bar.close()
    assert (
        "\rpanic-contract audit:  25% read, 16,384 exchanges\rpanic-contract audit:  50% read, 32,768 exchanges"
        "\r\x1b[K" == screen.getvalue()
    )


# --- every input handled ------------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [50_000, 100_000])
def test_a_har_nested_without_end_stops_in_one_line_with_flat_memory(
    levels: int, tmp_path: Path, run_audit: Any
) -> None:
    path = tmp_path / "capture.har"
    path.write_text('{"log": {"entries": [' + "[" * levels)
    tracemalloc.start()
    try:
        run = run_audit(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 4 == run.code
    assert [
        f"panic-contract audit: verdict: usage (exit 4): {path}: entry 1 (before byte {levels + 21:,}): "
        f"JSON nested deeper than {MAX_DEPTH} levels; no HAR is that deep: is this the capture you meant?"
    ] == run.err.splitlines()
    assert peak < 8 << 20  # was 6.2 GB at 50,000 levels


@pytest.mark.parametrize(
    "text",
    [
        '{"log": {"entries": [{"a": "]]]]" , "b": "\\"[[[[", "c": "\\\\"}]}}',
        '{"log": {"entries": [' + "[]," * 5000 + "1]}}",
    ],
    ids=["brackets-in-strings", "wide-not-deep"],
)
def test_brackets_in_strings_and_wide_arrays_are_not_depth(text: str) -> None:
    guard = DepthGuard(io.BytesIO(text.encode()), limit=4)
    while guard.read(7):
        pass
    assert 0 == guard.depth


@settings(max_examples=400)
@given(kept=st.binary().map(lambda raw: bytes(b'[]{}"'[byte % 5] for byte in raw)), in_string=st.booleans())
def test_brackets_outside_strings_are_what_splitting_on_every_quote_finds(kept: bytes, in_string: bool) -> None:
    """The guard takes `""` out before it splits (most of a HAR's quotes): the brackets outside strings and
    whether a string is open at the end are what splitting on every quote gives."""
    parts = kept.split(b'"')
    expected = (b"".join(parts[1::2] if in_string else parts[::2]), in_string != (len(parts) % 2 == 0))
    assert expected == outside_strings(kept, in_string)


def test_the_depth_guard_counts_across_chunks_and_escapes() -> None:
    text = json.dumps({"a": ['\\"[', {"b": [[["x\\\\"]]]}]}).encode()  # 6 levels deep at most
    for limit, passes in ((6, True), (5, False)):
        guard = DepthGuard(io.BytesIO(text), limit)
        try:
            while guard.read(1):
                pass
        except NestingError:
            assert not passes
        else:
            assert passes


def test_a_json_lines_record_nested_without_end_stops_in_one_line(tmp_path: Path, run_audit: Any) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_text('{"request": ' + "[" * 100_000 + "\n")
    run = run_audit(path)
    assert 4 == run.code
    assert run.err.startswith(f"panic-contract audit: verdict: usage (exit 4): {path}: line 1: not JSON (")
    assert 1 == len(run.err.splitlines())


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_a_body_nested_too_deep_to_parse_is_malformed_as_in_the_suite(fmt: str, tmp_path: Path, run_audit: Any) -> None:
    """The response's own fault, judged by the same code as the suite: malformed-body, not an input error."""
    write, name, _ = WRITERS[fmt]
    capture = write(tmp_path / name, [CLEAN, Ex("[" * 5000 + "]" * 5000)])
    run = run_audit(capture)
    assert 1 == run.code, run.err
    assert [("malformed-body", "JSON nested too deep")] == [(f["kind"], f["actual"]) for f in run.report["findings"]]
    assert "" == run.err


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_standard_input_is_read_for_a_dash(
    fmt: str, tmp_path: Path, run_audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write, name, _ = WRITERS[fmt]
    capture = write(tmp_path / name, [CLEAN, DRIFTS[Kind.NEW_FIELD][0], OTHER])
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(capture.read_bytes()))))
    run = run_audit(Path("-"))
    assert 0 == run.code, run.err
    assert run.out.startswith(f"panic-contract audit: standard input ({fmt}): 2 of 3 exchanges audited")
    assert ["new-field"] == [f["kind"] for f in run.report["findings"]]


def test_standard_input_holding_a_har_without_entries_says_so(run_audit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(b'{"log": {"pages": []}}'))))
    run = run_audit(Path("-"))
    assert 4 == run.code
    assert run.err.endswith(
        "standard input: not a HAR file: it has no log.entries array (for JSON Lines, name the file .jsonl)\n"
    )


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
@pytest.mark.parametrize("named", [True, False], ids=["named-gz", "magic-bytes"])
def test_a_gzip_capture_is_read_decompressed(fmt: str, named: bool, tmp_path: Path, run_audit: Any) -> None:
    write, name, _ = WRITERS[fmt]
    plain = write(tmp_path / name, [CLEAN, DRIFTS[Kind.NULL_IN_NON_NULLABLE][0]])
    packed = tmp_path / (f"{name}.gz" if named else f"capture-{fmt}.bin")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    if not named:  # no name to go by: the format is sniffed from the decompressed bytes
        plain.unlink()
    run = run_audit(packed)
    assert 1 == run.code, run.err
    assert ["null-in-non-nullable"] == [f["kind"] for f in run.report["findings"]]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (lambda data: gzip.compress(data)[: len(gzip.compress(data)) // 2], "the gzip stream ends early"),
        (lambda data: b"not gzip at all", "not a gzip stream, though it is named .gz"),
    ],
    ids=["truncated", "not-gzip"],
)
def test_a_broken_gzip_capture_is_one_line(content: Any, says: str, tmp_path: Path, run_audit: Any) -> None:
    plain = write_har(tmp_path / "capture.har", [CLEAN] * 200)
    packed = tmp_path / "capture.har.gz"
    packed.write_bytes(content(plain.read_bytes()))
    run = run_audit(packed)
    assert 4 == run.code
    assert 1 == len(run.err.splitlines())
    assert f"{packed}: {says}" in run.err


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
@pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(fmt: str, bom: bool, tmp_path: Path, run_audit: Any) -> None:
    write, name, _ = WRITERS[fmt]
    capture = write(tmp_path / name, [CLEAN, CLEAN])
    data = capture.read_bytes().replace(b"\n", b"\r\n")
    capture.write_bytes((reading.UTF8_BOM if bom else b"") + data)
    run = run_audit(capture)
    assert 0 == run.code, run.err
    assert "2 of 2 exchanges audited" in run.out


@pytest.mark.parametrize("name", ["capture.har", "capture.jsonl", "capture"])
@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"], ids=["0-bytes", "only-bom", "blank"])
def test_an_empty_capture_is_called_empty_not_truncated(
    name: str, content: bytes, tmp_path: Path, run_audit: Any
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    run = run_audit(path)
    assert 4 == run.code
    what = "empty (0 bytes)" if not content else "blank (nothing but white space)"
    assert [
        f"panic-contract audit: verdict: usage (exit 4): {path}: the capture is {what}: nothing to audit; "
        "export or copy the capture again"
    ] == run.err.splitlines()


def test_a_har_status_written_as_a_float_is_read_as_an_integer(tmp_path: Path, run_audit: Any) -> None:
    entries = [har_entry(CLEAN), har_entry(Ex({"message": "Callout not found"}, status=404))]
    for entry in entries:
        entry["response"]["status"] = float(entry["response"]["status"])
    run = run_audit(write_har(tmp_path / "capture.har", entries))
    assert 0 == run.code, run.err
    assert "2 of 2 exchanges audited" in run.out


@pytest.mark.parametrize(
    "record",
    [
        {"request": {"method": "GET", "path": PATH.format(1), "credentials": f"Bearer {SENTINEL_TOKEN}"}},
        {"request": SENTINEL_TOKEN},
        {"request": {"method": "GET", "path": PATH.format(1)}, "response": {"status": SENTINEL_TOKEN, "headers": {}}},
        {
            "request": {"method": "GET", "path": PATH.format(1)},
            "response": {"status": 200, "headers": {"authorization": [SENTINEL_TOKEN]}},
        },
        {
            "request": {"method": "GET", "path": PATH.format(1)},
            "response": {"status": 200, "headers": {}, "body": {}, "body_text": SENTINEL_TOKEN},
        },
    ],
    ids=["credentials", "request", "status", "header", "two-bodies"],
)
def test_an_error_line_never_prints_a_credential_from_the_file(
    record: dict[str, Any], tmp_path: Path, run_audit: Any
) -> None:
    record.setdefault("response", {"status": 200, "headers": {}})
    path = tmp_path / "capture.jsonl"
    path.write_text(json.dumps(record) + "\n")
    run = run_audit(path)
    assert 4 == run.code
    assert 1 == len(run.err.splitlines())
    assert "line 1: not an exchange record: at " in run.err
    assert SENTINEL_TOKEN not in run.err + run.out


def test_a_har_that_is_not_json_never_prints_the_text_around_the_error(tmp_path: Path, run_audit: Any) -> None:
    path = tmp_path / "capture.har"
    path.write_text('{"log": {"entries": [{"request": {"headers": [{"value": Bearer ' + SENTINEL_TOKEN + "}]}}]}}")
    run = run_audit(path)
    assert 4 == run.code
    assert "the HAR is not valid JSON (lexical error: invalid char in json text.)" in run.err
    assert SENTINEL_TOKEN not in run.err


@pytest.mark.parametrize("drifted", [True, False], ids=["drift", "ok"])
def test_reports_that_cannot_be_written_name_the_path_and_keep_the_findings_and_verdict(
    drifted: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = write_jsonl(tmp_path / "capture.jsonl", [CLEAN, *([DRIFTS[Kind.MISSING_FIELD][0]] if drifted else [])])
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code = cli.main(["audit", str(capture), f"--drift-report={folder}", f"--drift-report-md={blocker}/summary.md"])
    out, err = capsys.readouterr()
    assert (1 if drifted else 4) == code
    assert [
        f"panic-contract audit: cannot write the JSON report to {folder}: Is a directory (pick a writable path)",
        f"panic-contract audit: cannot write the Markdown summary to {blocker}/summary.md: Not a directory "
        "(pick a writable path)",
    ] == err.splitlines()
    assert out.splitlines()[-1].startswith("verdict: drift (exit 1)" if drifted else "verdict: ok (exit 0)")
    assert ("missing-field" in out) is drifted
    assert [blocker] == sorted(tmp_path.glob("blocker*"))
    assert [] == list(folder.iterdir())  # no temporary file left in the folder either


def test_reports_are_written_with_the_users_umask(tmp_path: Path, run_audit: Any) -> None:
    previous = os.umask(0o022)
    try:
        run_audit(write_jsonl(tmp_path / "capture.jsonl", [CLEAN]))
    finally:
        os.umask(previous)
    assert {0o644} == {(tmp_path / name).stat().st_mode & 0o777 for name in ("drift.json", "drift.md")}


def test_json_lines_may_carry_a_body_that_is_not_utf8_as_base64(tmp_path: Path, run_audit: Any) -> None:
    record = jsonl_record(CLEAN)
    record["response"].pop("body")
    record["response"]["body_base64"] = base64.b64encode(json.dumps(CALLOUT).encode("utf-16")).decode()
    bad = jsonl_record(CLEAN)
    bad["response"].pop("body")
    bad["response"]["body_base64"] = base64.b64encode(b'{"id": "\xff"}').decode()
    path = tmp_path / "capture.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(bad) + "\n")
    run = run_audit(path)
    assert 1 == run.code, run.err
    assert ["malformed-body"] == [f["kind"] for f in run.report["findings"]]


# --- every core: --jobs, several files ------------------------------------------------------------


def _spread(count: int = 240) -> list[Ex]:
    """Every finding kind many times over, spread over the whole capture, with skipped exchanges."""
    drifts = [ex for ex, _ in DRIFTS.values()]
    return [drifts[n // 3 % len(drifts)] if n % 3 == 1 else OTHER if n % 7 == 0 else CLEAN for n in range(count)]


def _same_run(one: AuditRun, many: AuditRun) -> None:
    for report in (one.report, many.report):
        report.pop("duration_s", None)
        report.pop("started_at", None)
    assert (one.code, one.out, one.err, one.report) == (many.code, many.out, many.err, many.report)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut even the tests' small files into parts, as a large file is cut."""
    monkeypatch.setattr(splitting, "MIN_PART_BYTES", 2048)


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_jobs_give_the_report_of_one_pass(fmt: str, tmp_path: Path, run_audit: Any, small_parts: None) -> None:
    write, name, unit = WRITERS[fmt]
    capture = write(tmp_path / name, _spread())
    assert len(splitting._plan(capture, 2)) == 8
    one, many = run_audit(capture, "--jobs", "1"), run_audit(capture, "--jobs", "2")
    assert 1 == one.code
    assert 5 == len(one.report["findings"][0]["samples"])
    assert one.report["findings"][0]["count"] > MAX_SAMPLES
    assert all(sample.startswith(f"{unit} ") for finding in one.report["findings"] for sample in finding["samples"])
    _same_run(one, many)


def test_a_har_cut_inside_an_entry_is_audited_in_one_pass(tmp_path: Path, run_audit: Any, small_parts: None) -> None:
    """The bytes a HAR is cut at may also start an object in an array inside an entry: still one pass's report."""
    nested = [{"startedDateTime": "2024-04-20T14:45:00.000Z", "n": n} for n in range(400)]
    entries = [{**har_entry(ex), "_nested": nested} for ex in _spread(12)]
    capture = write_har(tmp_path / "capture.har", entries)
    one, many = run_audit(capture, "--jobs", "1"), run_audit(capture, "--jobs", "2")
    assert 1 == one.code
    _same_run(one, many)


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_an_error_in_the_second_half_names_the_position_of_one_pass(
    fmt: str, tmp_path: Path, run_audit: Any, small_parts: None
) -> None:
    write, name, unit = WRITERS[fmt]
    exchanges = _spread()
    if fmt == "jsonl":
        capture = write(tmp_path / name, exchanges)
        lines = capture.read_bytes().splitlines(keepends=True)
        lines[200] = b'{"request": {"method": "GET", "path": "/panic-api/v2/cal\n'
        capture.write_bytes(b"".join(lines))
    else:
        entries = [har_entry(ex) for ex in exchanges]
        del entries[200]["response"]
        capture = write(tmp_path / name, entries)
    one, many = run_audit(capture, "--jobs", "1"), run_audit(capture, "--jobs", "2")
    assert 4 == one.code
    assert f"{capture}: {unit} 201: " in one.err
    _same_run(one, many)


def test_a_truncated_har_names_the_position_of_one_pass(tmp_path: Path, run_audit: Any, small_parts: None) -> None:
    capture = write_har(tmp_path / "capture.har", _spread())
    capture.write_bytes(capture.read_bytes()[:-5000])
    one, many = run_audit(capture, "--jobs", "1"), run_audit(capture, "--jobs", "2")
    assert 4 == one.code
    assert "the HAR ends early" in one.err
    _same_run(one, many)


def test_several_files_and_a_pattern_make_one_audit_naming_the_files(
    tmp_path: Path, run_audit: Any, small_parts: None
) -> None:
    first = write_jsonl(tmp_path / "a.jsonl", [CLEAN, DRIFTS[Kind.NULL_IN_NON_NULLABLE][0]])
    second = write_har(tmp_path / "b.har", _spread())
    logs = tmp_path / "logs"
    logs.mkdir()
    for day in (1, 2):
        plain = write_jsonl(tmp_path / f"day{day}.jsonl", [CLEAN, OTHER, DRIFTS[Kind.NULL_IN_NON_NULLABLE][0]])
        (logs / f"day{day}.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    pattern = f"{logs}/*.jsonl.gz"
    files = [str(first), pattern, str(second)]
    one = run_audit(files, "--jobs", "1")
    assert 1 == one.code, one.err
    (null,) = one.findings(Kind.NULL_IN_NON_NULLABLE)
    assert [f"{first} line 2", f"{logs}/day1.jsonl.gz line 3", f"{logs}/day2.jsonl.gz line 3"] == null["samples"][:3]
    assert null["samples"][3].startswith(f"{second} entry ")
    assert one.out.startswith("panic-contract audit: 4 files (jsonl, har): ")
    assert "of 248 exchanges audited" in one.out.splitlines()[0]
    _same_run(one, run_audit(files, "--jobs", "2"))


def test_a_pattern_that_matches_nothing_is_one_line_and_exit_4(tmp_path: Path, run_audit: Any) -> None:
    run = run_audit(Path(f"{tmp_path}/logs/*.jsonl.gz"))
    assert 4 == run.code
    assert [
        f"panic-contract audit: verdict: usage (exit 4): {tmp_path}/logs/*.jsonl.gz: no file matches this pattern"
    ] == run.err.splitlines()


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", ""])
def test_a_bad_jobs_value_is_one_line_and_exit_4(value: str, tmp_path: Path, run_audit: Any) -> None:
    run = run_audit(write_jsonl(tmp_path / "capture.jsonl", [CLEAN]), f"--jobs={value}")
    assert 4 == run.code
    assert 1 == len(run.err.splitlines())
    assert run.err.startswith("panic-contract audit: error: argument --jobs: ")
    assert "" == run.out


def test_standard_input_among_several_files_is_named_as_such(
    tmp_path: Path, run_audit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = write_jsonl(tmp_path / "piped.jsonl", [DRIFTS[Kind.NEW_FIELD][0]])
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(piped.read_bytes()))))
    other = write_har(tmp_path / "b.har", [CLEAN, DRIFTS[Kind.NEW_FIELD][0]])
    run = run_audit(["-", str(other)], "--jobs", "2")
    assert 0 == run.code, run.err
    (new_field,) = run.findings(Kind.NEW_FIELD)
    assert ["standard input line 1", f"{other} entry 2"] == new_field["samples"]
    assert run.out.startswith("panic-contract audit: 2 files (jsonl, har): 3 of 3 exchanges audited")


def test_a_response_echoing_the_requests_token_never_shows_it(tmp_path: Path, run_audit: Any) -> None:
    """The server echoes the Authorization value into a drifted field and a header: findings show `***`."""
    entry = har_entry(Ex(callout(id=f"Bearer {SENTINEL_TOKEN}")))
    entry["response"]["headers"].append({"name": "X-Echo", "value": f"Bearer {SENTINEL_TOKEN}"})
    run = run_audit(write_har(tmp_path / "capture.har", [entry]))
    assert 1 == run.code, run.err
    assert [("type-changed", 'string "Bearer ***"')] == [(f["kind"], f["actual"]) for f in run.report["findings"]]
    for where in (run.out, run.err, json.dumps(run.report), run.markdown):
        assert SENTINEL_TOKEN not in where
