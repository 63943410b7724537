"""One reading of a body for every path: the suite's judge, the audit (HAR text, HAR base64, JSON Lines) and the
recorder read the same bytes the same way (`findings.read_body`: strict UTF-8 JSON, RFC 8259)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panic_contract.capture import reading
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Exchange, Kind, Unreadable, inspect, read_body
from panic_contract.core.fixtures import exchange_from_record
from panic_contract.recording.scrub import body_entry
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

PATH = "/panic-api/v2/callouts/992011"
CALLOUT_TEXT = json.dumps(CALLOUT)

# (body as received, what a malformed-body finding says): each was judged a clean callout by the audit or
# the recorder before, or `$.latitude is null`.
UNREADABLE: list[tuple[bytes, str]] = [
    (CALLOUT_TEXT.encode("utf-16"), "not JSON (UTF-16 text with a byte order mark; JSON is UTF-8)"),
    (CALLOUT_TEXT.encode("utf-16-le"), "not JSON (UTF-16 text; JSON is UTF-8)"),
    (CALLOUT_TEXT.encode("utf-32"), "not JSON (UTF-32 text with a byte order mark; JSON is UTF-8)"),
    (CALLOUT_TEXT.encode("utf-32-be"), "not JSON (UTF-32 text; JSON is UTF-8)"),
    (b"\xef\xbb\xbf" + CALLOUT_TEXT.encode(), "not JSON (a byte order mark before the JSON)"),
    (CALLOUT_TEXT.replace("-33.9258", "NaN").encode(), "not JSON (NaN is not a JSON number)"),
    (CALLOUT_TEXT.replace("-33.9258", "Infinity").encode(), "not JSON (Infinity is not a JSON number)"),
    (CALLOUT_TEXT.replace("-33.9258", "-Infinity").encode(), "not JSON (Infinity is not a JSON number)"),
    (CALLOUT_TEXT.replace("-33.9258", "1e400").encode(), "not JSON (a number too large for a double)"),
    (CALLOUT_TEXT.replace("Responder", "Resp\xffonder").encode("latin-1"), "not JSON (not UTF-8 text)"),
    (b"", "not JSON (an empty body)"),
    (b"[" * 2000 + b"]" * 2000, "JSON nested too deep"),
]
IDS = ["utf16-bom", "utf16", "utf32-bom", "utf32", "utf8-bom", "nan", "infinity", "minus-infinity", "1e400",
       "latin1", "empty", "deep"]  # fmt: skip


RAW = "the body, as received, goes here"


def judged_by_the_suite(raw: bytes) -> set[tuple[str, str | None, str]]:
    exchange = Exchange("GET", PATH, 200, {"content-type": "application/json"}, raw)
    return {(str(f.kind), f.field, f.actual) for f in inspect(exchange, default_contract()).findings}


def judged_by_the_recorder(raw: bytes) -> set[tuple[str, str | None, str]]:
    response = {"status": 200, "headers": {"content-type": "application/json"}, **body_entry(raw, None)}
    record = {"request": {"method": "GET", "path": PATH}, "response": response}
    return {
        (str(f.kind), f.field, f.actual) for f in inspect(exchange_from_record(record), default_contract()).findings
    }


def judged_by_the_audit(raw: bytes, folder: Path) -> dict[str, set[tuple[str, str | None, str]]]:
    """Every way a capture can hold the body: HAR base64, HAR text (when it is text), JSON Lines."""
    captures: dict[str, Path] = {}
    content: dict[str, Any] = {"size": len(raw), "mimeType": "application/json"}
    ways = [("har-base64", {**content, "text": base64.b64encode(raw).decode(), "encoding": "base64"})]
    lines = [("jsonl-base64", {"body_base64": base64.b64encode(raw).decode()})]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        ways.append(("har-text", {**content, "text": text}))
        lines.append(("jsonl-text", {"body_text": text}))
        if not isinstance(read_body(raw), Unreadable):
            lines.append(("jsonl-body", {"body": RAW}))
    for name, saved in ways:
        entry = {
            "request": {"method": "GET", "url": "https://staging-panic.aura.services" + PATH, "headers": []},
            "response": {"status": 200, "headers": [{"name": "Content-Type", "value": "application/json"}]},
        }
        entry["response"]["content"] = saved
        captures[name] = folder / f"{name}.har"
        captures[name].write_bytes(orjson.dumps({"log": {"entries": [entry]}}))
    for name, body in lines:
        response = {"status": 200, "headers": {"content-type": "application/json"}, **body}
        captures[name] = folder / f"{name}.jsonl"
        record = json.dumps({"request": {"method": "GET", "path": PATH}, "response": response})
        captures[name].write_bytes(record.encode().replace(json.dumps(RAW).encode(), raw))  # the body as it came
    found = {}
    for name, path in captures.items():
        ledger = reading.audit_file(path, default_contract()).ledger
        found[name] = {(e.first.kind, e.first.field, e.first.actual) for e in ledger.entries.values()}
    return found


@pytest.mark.parametrize(("raw", "reason"), UNREADABLE, ids=IDS)
def test_a_body_that_is_not_strict_json_is_malformed_on_every_path(raw: bytes, reason: str, tmp_path: Path) -> None:
    expected = {(str(Kind.MALFORMED_BODY), None, reason)}
    assert expected == judged_by_the_suite(raw)
    assert expected == judged_by_the_recorder(raw)
    for way, found in judged_by_the_audit(raw, tmp_path).items():
        assert expected == found, way


@pytest.mark.parametrize(("raw", "reason"), UNREADABLE, ids=IDS)
def test_the_recorder_never_writes_such_a_body_as_a_clean_fixture(raw: bytes, reason: str) -> None:
    """`record` wrote `"body": {...}` for a UTF-16 or BOM body (and NaN read as a number): a clean fixture."""
    for scrub_key in (None, b"key"):
        assert "body" not in body_entry(raw, scrub_key), reason


def test_an_escaped_lone_surrogate_is_json_on_every_path(tmp_path: Path) -> None:
    """JSON's grammar allows `"\\ud800"` (RFC 8259 section 8.2); orjson refuses it: read by the standard library."""
    raw = CALLOUT_TEXT.replace('"Responder', '"\\ud800Responder').encode()
    assert read_body(raw)["status"].startswith("\ud800")
    expected = {("unknown-status", "$.status", 'string "\ud800Responder Dispatched"')}  # escaped where it lands
    assert expected == judged_by_the_suite(raw)
    assert expected == judged_by_the_recorder(raw)
    for way, found in judged_by_the_audit(raw, tmp_path).items():
        assert expected == found, way


def test_a_number_beyond_64_bits_reads_as_a_double_on_every_path(tmp_path: Path) -> None:
    """orjson's reading (RFC 8259 section 6 lets a reader limit numbers): the same everywhere."""
    raw = CALLOUT_TEXT.replace("178921", "123456789012345678901234567890").encode()
    assert 1.2345678901234568e29 == read_body(raw)["customerId"]
    found = judged_by_the_suite(raw)
    assert found == judged_by_the_recorder(raw)
    assert all(found == seen for seen in judged_by_the_audit(raw, tmp_path).values())


JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
).map(lambda value: json.dumps(value).encode())
CALLOUTS = st.fixed_dictionaries(
    {},
    optional={name: st.sampled_from([value, None, str(value), [value]]) for name, value in CALLOUT.items()},
).map(lambda body: json.dumps(body).encode())
ENCODED = st.tuples(CALLOUTS, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32-le"])).map(
    lambda pair: pair[0].decode().encode(pair[1])
)
MUTATED = st.tuples(CALLOUTS, st.integers(0, 400), st.binary(min_size=1, max_size=3)).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
)
BODIES = st.one_of(st.binary(max_size=64), JSON_TEXT, CALLOUTS, ENCODED, MUTATED)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=BODIES)
def test_the_suite_the_audit_and_the_recorder_read_any_body_alike(raw: bytes, tmp_path: Path) -> None:
    """Any bytes: the same findings (kind, field, what arrived) from the suite's judge, from every way the audit
    can find the body in a capture, and from the fixture the recorder would write for it."""
    suite = judged_by_the_suite(raw)
    assert suite == judged_by_the_recorder(raw)
    for way, found in judged_by_the_audit(raw, tmp_path).items():
        assert suite == found, way


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_value_nested_too_deep_for_the_validator_is_malformed_on_every_path(depth: int, tmp_path: Path) -> None:
    """JSON, but nested deeper than the schema validator takes in (it raised ValueError: a traceback)."""
    raw = CALLOUT_TEXT.replace('"id": 992011', '"id": ' + "[" * depth + "]" * depth).encode()
    expected = {(str(Kind.MALFORMED_BODY), None, "JSON nested too deep")}
    assert expected == judged_by_the_suite(raw)
    assert expected == judged_by_the_recorder(raw)
    for way, found in judged_by_the_audit(raw, tmp_path).items():
        assert expected == found, way
