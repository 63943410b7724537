"""The audit's quick checks agree with its full reading: a record or body they pass is one the full reading
passes too, and everything else is read in full.

`Contract.conforming_callout` (one compiled check of a 200 body: valid, no undocumented field, a known status
in any ASCII casing) and the JSON Lines reader's quick check of the common record shape are what make a
clean capture fast; a wrong one would let drift through unseen. Hypothesis generates records near the
common shape and bodies near a conforming callout, and each is read both ways.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panic_contract.capture import har, jsonl
from panic_contract.capture.reading import audit_file
from panic_contract.capture.result import AuditInputError
from panic_contract.core.contract import _any_ascii_case, default_contract
from panic_contract.core.findings import VALIDATED, _inspect_in_full
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

CONTRACT = default_contract()
PATH = "/panic-api/v2/callouts/{}"
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
_VALUE = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False) | _TEXT


def _flip_case(draw: st.DrawFn, text: str) -> str:
    return "".join(char.upper() if draw(st.booleans()) else char.lower() for char in text)


@st.composite
def _status_text(draw: st.DrawFn) -> str:
    known = draw(st.sampled_from(CONTRACT.known_statuses))
    return draw(
        st.sampled_from(
            [known, known.upper(), known.lower(), known + " ", "\u212a" + known[1:], known.replace(" ", "_")]
        )
        | st.just(_flip_case(draw, known))
        | _TEXT
    )


@st.composite
def _body(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = dict(CALLOUT, id=draw(st.sampled_from([992011, 992012, 7, 0, -1])))
    for name in draw(st.lists(st.sampled_from(sorted(CALLOUT)), max_size=2, unique=True)):
        change = draw(st.integers(0, 2))
        if change == 0:
            del body[name]
        else:
            body[name] = draw(_VALUE)
    if draw(st.booleans()):
        body["status"] = draw(_status_text())
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.sampled_from(["responderEta", "ID", "Status", ""]))] = draw(_VALUE)
    if draw(st.integers(0, 7)) == 0 and type(body.get("id")) is int:
        body["id"] = draw(st.sampled_from([str(body["id"]), float(body["id"]), True]))
    return body if draw(st.integers(0, 12)) else draw(st.sampled_from([[], "text", None, 5]))


@settings(max_examples=300)
@given(body=_body())
def test_a_body_the_compiled_check_passes_is_one_the_full_reading_passes(body: Any) -> None:
    if not CONTRACT.conforming_callout(body):
        return
    raw_id = str(body["id"]) if isinstance(body, dict) and "id" in body else None
    headers = {"content-type": "application/json"}
    judged = _inspect_in_full(CONTRACT, "GET", PATH.format(raw_id), 200, headers, None, body, "valid", raw_id)
    assert judged is VALIDATED


def test_the_compiled_check_passes_a_conforming_callout_and_refuses_each_drift() -> None:
    assert CONTRACT.conforming_callout(CALLOUT)
    assert CONTRACT.conforming_callout(dict(CALLOUT, status="RESPONDER DISPATCHED"))
    assert not CONTRACT.conforming_callout(dict(CALLOUT, status="Escalated"))  # unknown status
    assert not CONTRACT.conforming_callout(dict(CALLOUT, responderEta=420))  # an undocumented field
    assert not CONTRACT.conforming_callout(dict(CALLOUT, customerId=None))  # null where not nullable
    assert not CONTRACT.conforming_callout({k: v for k, v in CALLOUT.items() if k != "createdAt"})


@settings(max_examples=300)
@given(value=st.sampled_from(["created", "Responder Dispatched", "a-b]c\\^[d", "São Paulo", "x.y*"]), text=_TEXT)
def test_a_status_pattern_matches_what_casefolds_to_its_value_and_every_ascii_casing(value: str, text: str) -> None:
    pattern = jsonschema_rs.Draft202012Validator({"pattern": "^(?:" + _any_ascii_case(value) + ")$"})
    for candidate in (text, value, value.upper(), value.lower(), value.swapcase(), text + value, value + "\n"):
        if pattern.is_valid(candidate):
            assert candidate.casefold() == value.casefold()
        elif candidate.isascii() and value.isascii():
            assert candidate.casefold() != value.casefold()


# ---------------------------------------------------------------------------------------------
# JSON Lines: the quick check of the common record shape against the full reading


_PERTURBATIONS = (
    "body", "id", "query", "method", "credentials", "status", "headers", "body_text", "response_key",
    "record_key", "request_key",
)  # fmt: skip


@st.composite
def _record(draw: st.DrawFn) -> Any:
    """A clean record of the common shape, changed in up to two ways, each one the quick check must notice."""
    callout_id = draw(st.sampled_from([992011, 7, 0]))
    body: Any = dict(CALLOUT, id=callout_id)
    request: dict[str, Any] = {"method": "GET", "path": PATH.format(callout_id)}
    if draw(st.booleans()):
        request["credentials"] = "valid"
    response: dict[str, Any] = {"status": 200, "headers": {"content-type": "application/json"}, "body": body}
    record: dict[str, Any] = {"request": request, "response": response}
    for change in draw(st.lists(st.sampled_from(_PERTURBATIONS), max_size=2, unique=True)):
        if change == "body":
            response["body"] = changed = draw(_body())
            if isinstance(changed, dict) and type(changed.get("id")) is int:  # asked for: only the body differs
                request["path"] = PATH.format(changed["id"])
        elif change == "id":
            request["path"] = PATH.format(draw(st.sampled_from([f"0{callout_id}", str(callout_id + 1), "abc", "-0"])))
        elif change == "query":
            request["path"] += draw(st.sampled_from(["?access_token=sentinel-0123456789", "/events", "#x", "\n"]))
        elif change == "method":
            request["method"] = draw(st.sampled_from(["get", "POST", "HEAD"]))
        elif change == "credentials":
            request["credentials"] = draw(st.sampled_from(["missing", "invalid", "unknown"]))
        elif change == "status":
            response["status"] = draw(st.sampled_from([200.0, 201, 404, 500, 401, 302]))
        elif change == "headers":
            response["headers"] = draw(
                st.sampled_from(
                    [{"Content-Type": "application/json"}, {"content-type": "application/json; charset=utf-8"},
                     {"content-type": "application/json", "x-request-id": "1"}, {"content-type": "text/html"}, {}]
                )
            )  # fmt: skip
        elif change == "body_text":
            response["body_text"] = json.dumps(response.pop("body"))
        elif change == "response_key":
            response[draw(st.sampled_from(["extra", "body_base64"]))] = "e30="
        elif change == "record_key":
            record[draw(st.sampled_from(["description", "operation", "provenance", "note"]))] = draw(
                st.sampled_from(["a capture", "", {"source": "recorded", "target": "staging-panic.aura.services"}])
            )
        else:
            request[draw(st.sampled_from(["headers", "body", "query"]))] = {}
    return record


def _read(path: Path, quick: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """What auditing `path` gives with the quick checks on or off: everything a report or a verdict reads."""
    monkeypatch.setattr(jsonl, "QUICK_LINES", quick)
    monkeypatch.setattr(har, "QUICK_ENTRIES", quick)
    try:
        result = audit_file(path, CONTRACT)
    except AuditInputError as exc:
        return ("error", str(exc))
    counted = (result.entries, result.skipped, result.unanswered, result.unsaved, result.no_credential)
    return (result.ledger.as_dict(), counted, result.base_url, result.other_hosts, sorted(result.secrets))


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_record(), min_size=1, max_size=8), pretty=st.booleans())
def test_the_quick_check_and_the_full_reading_give_the_same_audit(
    records: list[Any], pretty: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = tmp_path / "capture.jsonl"
    dump = (lambda record: json.dumps(record).encode()) if pretty else orjson.dumps
    capture.write_bytes(b"\n".join(map(dump, records)) + b"\n")
    assert _read(capture, True, monkeypatch) == _read(capture, False, monkeypatch)


def test_a_clean_capture_is_judged_by_the_quick_check_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this, a quick check that never passed anything would leave every test above green."""
    capture = tmp_path / "clean.jsonl"
    lines = []
    for callout_id in range(1, 51):
        request = {"method": "GET", "path": PATH.format(callout_id), "credentials": "valid"}
        response = {
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": dict(CALLOUT, id=callout_id),
        }
        lines.append(orjson.dumps({"request": request, "response": response}))
    capture.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(jsonl._Lines, "judge", lambda *_: pytest.fail("a clean line was read in full"))
    result = audit_file(capture, CONTRACT)
    assert (result.entries, result.ledger.validated_bodies, result.ledger.entries) == (50, 50, {})


def test_a_drifting_line_among_clean_ones_is_found_at_its_line(tmp_path: Path) -> None:
    capture = tmp_path / "one-drift.jsonl"
    lines = []
    for callout_id in range(1, 21):
        body = dict(CALLOUT, id=callout_id, **({"status": "Escalated"} if callout_id == 13 else {}))
        request = {"method": "GET", "path": PATH.format(callout_id)}
        lines.append(
            orjson.dumps(
                {
                    "request": request,
                    "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": body},
                }
            )
        )
    capture.write_bytes(b"\n".join(lines))  # no newline after the last line
    result = audit_file(capture, CONTRACT)
    (entry,) = result.ledger.entries.values()
    assert (str(entry.first.kind), entry.count, entry.samples) == ("unknown-status", 1, ["line 13"])
    assert (result.entries, result.ledger.validated_bodies) == (20, 20)


# ---------------------------------------------------------------------------------------------
# HAR: the quick check of the common entry against the full reading

STAGING = "https://staging-panic.aura.services"
_ENTRY_CHANGES = ("body", "id", "url", "method", "status", "headers", "content", "credentials")


@st.composite
def _entry(draw: st.DrawFn) -> Any:
    """A clean HAR entry as browsers export it, changed in up to two ways, each one the quick check must notice."""
    callout_id = draw(st.sampled_from([992011, 7]))
    body: Any = dict(CALLOUT, id=callout_id)
    url = f"{STAGING}{PATH.format(callout_id)}"
    request_headers = [
        {"name": "Authorization", "value": "Bearer sentinel-token-0123456789"},
        {"name": "Accept", "value": "*/*"},
    ]
    response_headers = [{"name": "content-type", "value": "application/json"}]
    status: Any = 200
    method = "GET"
    content: dict[str, Any] = {"size": 1, "mimeType": "application/json"}
    text_of: Any = json.dumps
    for change in draw(st.lists(st.sampled_from(_ENTRY_CHANGES), max_size=2, unique=True)):
        if change == "body":
            body = draw(_body())
            if isinstance(body, dict) and type(body.get("id")) is int:
                url = f"{STAGING}{PATH.format(body['id'])}"
        elif change == "id":
            url = f"{STAGING}{PATH.format(draw(st.sampled_from([f'0{callout_id}', str(callout_id + 1), 'abc'])))}"
        elif change == "url":
            url = draw(
                st.sampled_from(
                    [url.replace(STAGING, "https://STAGING-panic.aura.services"),
                     url.replace(STAGING, STAGING + ":443"),
                     url.replace(STAGING, "https://example.com"), url.replace(STAGING, "http://staging-panic.aura.services"),
                     url.replace(STAGING, ""), url + "?access_token=sentinel-query-0123456789", url + "#x", url + "/",
                     url.replace(STAGING, "https://user:sentinel-password-0123@staging-panic.aura.services")]
                )
            )  # fmt: skip
        elif change == "method":
            method = draw(st.sampled_from(["get", "POST"]))
        elif change == "status":
            status = draw(st.sampled_from([200.0, 404, 500, 0, 302, 401]))
        elif change == "headers":
            response_headers = draw(
                st.sampled_from(
                    [[], [{"name": "Content-Type", "value": "application/json; charset=utf-8"}],
                     [{"name": "content-type", "value": "text/html"}],
                     [{"name": "content-type", "value": "text/plain"},
                      {"name": "Content-Type", "value": "application/json"}],
                     [{"name": "content-type", "value": "application/json"}, {"name": "x", "value": "1"}]]
                )
            )  # fmt: skip
            content["mimeType"] = draw(st.sampled_from(["application/json", "text/html", ""]))
        elif change == "content":
            how = draw(st.sampled_from(["base64", "utf8", "x-unknown", "none", "empty", "not json"]))
            if how == "x-unknown":  # an encoding HAR does not name: the text cannot be read back
                content["encoding"] = "x-unknown"
            elif how == "base64":
                content["encoding"] = "base64"
                text_of = lambda value: base64.b64encode(json.dumps(value).encode()).decode()  # noqa: E731
            elif how == "utf8":
                content["encoding"] = "utf8"
            elif how == "none":
                text_of = None
            elif how == "empty":
                content["size"], text_of = 0, None
            else:
                text_of = lambda value: json.dumps(value)[:-1]  # noqa: E731
        else:
            request_headers = draw(
                st.sampled_from(
                    [[], [{"name": "Authorization", "value": ""}],
                     [{"name": "authorization", "value": "Bearer sentinel-other-0123456789"}],
                     [*request_headers, {"name": "Cookie", "value": "session=sentinel-cookie-0123456789"}],
                     [{"name": "X-Api-Key", "value": "sentinel-key-0123456789"}]]
                )
            )  # fmt: skip
    if text_of is not None:
        content["text"] = text_of(body)
    return {
        "startedDateTime": "2024-04-20T14:45:00.000Z",
        "request": {"method": method, "url": url, "headers": request_headers, "cookies": [], "queryString": []},
        "response": {"status": status, "headers": response_headers, "content": content, "redirectURL": ""},
        "timings": {"wait": 1.0},
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(_entry(), min_size=1, max_size=6), indent=st.booleans())
def test_the_quick_entry_check_and_the_full_reading_give_the_same_audit(
    entries: list[Any], indent: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = tmp_path / "capture.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}, indent=2 if indent else None))
    assert _read(capture, True, monkeypatch) == _read(capture, False, monkeypatch)


def test_a_clean_har_is_judged_by_the_quick_check_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without this, a quick check that never passed anything would leave the test above green."""
    entries = [
        {
            "request": {"method": "GET", "url": f"{STAGING}{PATH.format(n)}",
                        "headers": [{"name": "Authorization", "value": "Bearer sentinel-token-0123456789"}]},
            "response": {"status": 200, "headers": [{"name": "Content-Type", "value": "application/json"}],
                         "content": {"mimeType": "application/json", "text": json.dumps(dict(CALLOUT, id=n))}},
        }
        for n in range(1, 41)
    ]  # fmt: skip
    capture = tmp_path / "clean.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    monkeypatch.setattr(har._HarReading, "exchange", lambda *_: pytest.fail("a clean entry was read in full"))
    result = audit_file(capture, CONTRACT)
    assert (result.entries, result.ledger.validated_bodies, result.ledger.entries) == (40, 40, {})
    assert (result.base_url, result.secrets) == (STAGING, {"sentinel-token-0123456789"})
