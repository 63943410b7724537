"""`findings.inspect` turns one exchange into findings of the fixed vocabulary; `Ledger` deduplicates them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract.core import findings
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import NOT_PARSED, Exchange, Finding, Inspection, Kind, inspect
from panic_contract.core.ledger import MAX_SAMPLES, Ledger
from panic_contract.faults import Credentials, Signal, signal_of
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

PATH = "/panic-api/v2/callouts/992011"
REQUEST = f"GET {PATH}"
JSON_HEADERS = {"content-type": "application/json"}
KNOWN = "one of created, Responder Dispatched, Responder Cancelled, closed (any casing)"


def exchange(
    body: Any = NOT_PARSED,
    *,
    status: int = 200,
    method: str = "GET",
    headers: Mapping[str, str] = JSON_HEADERS,
    raw: bytes | str | None = None,
    credentials: Credentials = "valid",
) -> Exchange:
    return Exchange(method, PATH, status, headers, body=raw, parsed=body, credentials=credentials)


def judge(ex: Exchange) -> Inspection:
    return inspect(ex, default_contract())


def callout(**changes: Any) -> dict[str, Any]:
    return CALLOUT | changes


def without(name: str) -> dict[str, Any]:
    return {key: value for key, value in CALLOUT.items() if key != name}


@dataclass(frozen=True)
class Case:
    name: str
    exchange: Exchange
    kind: Kind
    field: str | None
    expected: str
    actual: str


CASES = [
    Case(
        "required-field-absent",
        exchange(without("createdAt")),
        Kind.MISSING_FIELD,
        "$.createdAt",
        "string (date-time) (required)",
        "missing",
    ),
    Case(
        "integer-became-string",
        exchange(callout(customerId="178921")),
        Kind.TYPE_CHANGED,
        "$.customerId",
        "integer",
        'string "178921"',
    ),
    Case(
        "nullable-coordinate-became-string",
        exchange(callout(latitude="-33.9258")),
        Kind.TYPE_CHANGED,
        "$.latitude",
        "number or null",
        'string "-33.9258"',
    ),
    Case(
        "null-in-integer",
        exchange(callout(customerId=None)),
        Kind.NULL_IN_NON_NULLABLE,
        "$.customerId",
        "integer",
        "null",
    ),
    Case(
        "created-at-not-a-date-time",
        exchange(callout(createdAt="yesterday")),
        Kind.FORMAT_VIOLATED,
        "$.createdAt",
        "string (date-time)",
        'string "yesterday"',
    ),
    Case(
        "status-never-seen",
        exchange(callout(status="Escalated")),
        Kind.UNKNOWN_STATUS,
        "$.status",
        KNOWN,
        'string "Escalated"',
    ),
    Case(
        "undocumented-field",
        exchange(callout(incidentInformation={"priority": 1})),
        Kind.NEW_FIELD,
        "$.incidentInformation",
        "no such field",
        "an undocumented field (an object)",
    ),
    Case(
        "forbidden-is-not-documented",
        exchange({"message": "Forbidden"}, status=403),
        Kind.UNDOCUMENTED_STATUS_CODE,
        None,
        "one of 200, 401, 404",
        "403",
    ),
    Case(
        "internal-server-error",
        exchange({"message": "boom"}, status=500),
        Kind.SERVER_ERROR,
        None,
        "no 5xx for a well-formed request",
        "500",
    ),
    Case(
        "html-instead-of-json",
        exchange(raw=b"<html></html>", headers={"content-type": "text/html; charset=utf-8"}),
        Kind.WRONG_CONTENT_TYPE,
        None,
        "application/json",
        "text/html",
    ),
    Case(
        "content-type-absent",
        exchange(raw=json.dumps(CALLOUT), headers={}),
        Kind.WRONG_CONTENT_TYPE,
        None,
        "application/json",
        "missing",
    ),
    Case(
        "body-not-json",
        exchange(raw=b"{not json"),
        Kind.MALFORMED_BODY,
        None,
        "a JSON object",
        "not JSON (unexpected character, expected a string key)",
    ),
    Case(
        "body-an-array",
        exchange([CALLOUT]),
        Kind.MALFORMED_BODY,
        None,
        "a JSON object",
        "an array",
    ),
    Case(
        "callout-served-without-a-token",
        exchange(CALLOUT, credentials="missing"),
        Kind.AUTH_NOT_ENFORCED,
        None,
        "401 for a request without a valid token",
        "200 for a request with no token",
    ),
    Case(
        "callout-served-for-a-wrong-token",
        exchange(CALLOUT, credentials="invalid"),
        Kind.AUTH_NOT_ENFORCED,
        None,
        "401 for a request without a valid token",
        "200 for a request with a wrong token",
    ),
    Case(
        "another-callout-returned",
        exchange(callout(id=992012)),
        Kind.ID_MISMATCH,
        "$.id",
        "the requested id 992011",
        "integer 992012",
    ),
    Case(
        "error-message-not-a-string",
        exchange({"message": 5}, status=404),
        Kind.TYPE_CHANGED,
        "$.message",
        "string",
        "integer 5",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_case_produces_exactly_its_finding(case: Case) -> None:
    expected = Finding(case.kind, case.field, case.expected, case.actual, REQUEST)
    assert (expected,) == judge(case.exchange).findings


def test_every_kind_has_a_case() -> None:
    """A new Kind without a case here fails this test, so no kind goes untested.

    `schemathesis-check` is made by the suite from schemathesis's failures, not by `inspect`: test_suite_drift
    covers it through the mock's switch of the same name."""
    assert set(Kind) - {Kind.SCHEMATHESIS_CHECK} == {case.kind for case in CASES}


@pytest.mark.parametrize(
    ("message", "ex"),
    [
        (
            "GET /panic-api/v2/callouts/992011: $.customerId is null, contract says integer [null-in-non-nullable]",
            exchange(callout(customerId=None)),
        ),
        (
            "GET /panic-api/v2/callouts/992011: $.createdAt is missing, "
            "contract says string (date-time) (required) [missing-field]",
            exchange(without("createdAt")),
        ),
        (
            "GET /panic-api/v2/callouts/992011: status code is 403, "
            "contract says one of 200, 401, 404 [undocumented-status-code]",
            exchange({"message": "Forbidden"}, status=403),
        ),
        (
            "GET /panic-api/v2/callouts/992011: Content-Type is text/html, "
            "contract says application/json [wrong-content-type]",
            exchange(raw=b"<p>", headers={"content-type": "text/html"}),
        ),
        (
            f'GET /panic-api/v2/callouts/992011: $.status is string "Escalated", contract says {KNOWN} '
            "[unknown-status]",
            exchange(callout(status="Escalated")),
        ),
    ],
    ids=["null", "missing", "status-code", "content-type", "unknown-status"],
)
def test_message_names_request_field_actual_and_contract(message: str, ex: Exchange) -> None:
    assert [message] == [finding.message() for finding in judge(ex).findings]


def test_severity_is_additive_only_for_new_fields() -> None:
    assert {Kind.NEW_FIELD} == {case.kind for case in CASES if judge(case.exchange).findings[0].severity == "additive"}


def test_wrapped_callout_shape_is_caught_as_missing_and_new_fields() -> None:
    """The newer docs' `{"message", "callout": {...}}` shape: every field missing, two new ones."""
    findings = judge(exchange({"message": "ok", "callout": CALLOUT})).findings
    assert {(Kind.MISSING_FIELD, f"$.{name}") for name in CALLOUT} | {
        (Kind.NEW_FIELD, "$.message"),
        (Kind.NEW_FIELD, "$.callout"),
    } == {(finding.kind, finding.field) for finding in findings}


def test_boolean_id_is_a_type_change_not_also_an_id_mismatch() -> None:
    """`true` is not an integer in JSON: one type-changed finding explains it; the id was never compared."""
    findings = judge(exchange(callout(id=True))).findings
    assert [(Kind.TYPE_CHANGED, "$.id")] == [(finding.kind, finding.field) for finding in findings]


# What passes.


def test_documented_example_is_validated_without_findings() -> None:
    inspection = judge(exchange(CALLOUT))
    assert ((), None, True) == (inspection.findings, inspection.signal, inspection.validated_body)


def test_raw_json_body_is_parsed_when_not_given_parsed() -> None:
    inspection = judge(exchange(raw=json.dumps(CALLOUT).encode()))
    assert ((), True) == (inspection.findings, inspection.validated_body)


def test_all_nullable_fields_may_be_null() -> None:
    inspection = judge(exchange(callout(predefinedLocationId=None, latitude=None, longitude=None)))
    assert () == inspection.findings


@pytest.mark.parametrize("status", ["CLOSED", "responder dispatched", "Created", "rESPONDER cANCELLED"])
def test_known_statuses_compare_case_insensitively(status: str) -> None:
    inspection = judge(exchange(callout(status=status)))
    assert ((), True) == (inspection.findings, inspection.validated_body)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;"])
def test_json_content_type_with_parameters_or_casing_is_accepted(content_type: str) -> None:
    assert () == judge(exchange(CALLOUT, headers={"content-type": content_type})).findings


@pytest.mark.parametrize(
    "ex",
    [
        exchange({"message": "boom"}, method="POST", status=500),
        exchange([1, 2], method="DELETE"),
        exchange(raw=b"<html>", method="PUT", headers={"content-type": "text/html"}),
        exchange(CALLOUT, method="PATCH", credentials="missing"),
    ],
    ids=["post-500", "delete-array", "put-html", "patch-without-token"],
)
def test_other_methods_are_not_judged(ex: Exchange) -> None:
    assert Inspection() == judge(ex)


# Signals: what a response says about the target rather than its contract.


@pytest.mark.parametrize(
    ("status", "signal"),
    [(429, Signal.RATE_LIMITED), (502, Signal.GATEWAY_ERROR), (503, Signal.GATEWAY_ERROR), (504, Signal.GATEWAY_ERROR)],
)
def test_rate_limit_and_gateway_errors_are_signals_not_findings(status: int, signal: Signal) -> None:
    inspection = judge(exchange(raw=b"<html>busy</html>", status=status, headers={"content-type": "text/html"}))
    assert (signal, ()) == (inspection.signal, inspection.findings)


def test_401_with_the_token_we_were_given_is_auth_rejected() -> None:
    inspection = judge(exchange({"message": "Unauthorized"}, status=401))
    assert (Signal.AUTH_REJECTED, ()) == (inspection.signal, inspection.findings)


@given(
    status=st.integers(100, 599),
    credentials=st.sampled_from(["valid", "missing", "invalid", "unknown"]),
    method=st.sampled_from(["GET", "POST", "TRACE", "DELETE", "get"]),
)
def test_only_a_401_to_our_token_for_the_documented_method_is_our_token_refused(
    status: int, credentials: Credentials, method: str
) -> None:
    """The one reading of a status: the sender halts on it and the judge counts it, so both agree on every one."""
    ours = status == 401 and credentials == "valid" and method == "GET"
    signal = signal_of(status, credentials, method, "GET")
    assert ours == (signal is Signal.AUTH_REJECTED)
    assert (signal is Signal.RATE_LIMITED) == (status == 429)
    assert (signal is Signal.GATEWAY_ERROR) == (status in {502, 503, 504})
    inspection = judge(exchange({"message": "x"}, status=status, credentials=credentials, method=method))
    assert ours == (inspection.signal is Signal.AUTH_REJECTED)


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_401_without_a_valid_token_is_the_expected_answer(credentials: Credentials) -> None:
    inspection = judge(exchange({"message": "Unauthorized"}, status=401, credentials=credentials))
    assert Inspection() == inspection


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_401_without_a_valid_token_still_has_its_error_body_checked(credentials: Credentials) -> None:
    inspection = judge(exchange({}, status=401, credentials=credentials))
    assert (None, [(Kind.MISSING_FIELD, "$.message")]) == (
        inspection.signal,
        [(finding.kind, finding.field) for finding in inspection.findings],
    )


# Ledger.


def finding(
    kind: Kind = Kind.NULL_IN_NON_NULLABLE,
    field: str | None = "$.customerId",
    *,
    actual: str = "null",
    callout_id: int = 992011,
) -> Finding:
    return Finding(kind, field, "integer", actual, f"GET /panic-api/v2/callouts/{callout_id}")


def fed(*findings: Finding) -> Ledger:
    ledger = Ledger()
    for item in findings:
        ledger.add(Inspection(findings=(item,), validated_body=True))
    return ledger


def test_ledger_dedupes_by_kind_and_field_with_counts() -> None:
    ledger = fed(
        finding(callout_id=1),
        finding(callout_id=2),
        finding(callout_id=3),
        finding(field="$.responseTypeId", callout_id=1),
        finding(Kind.TYPE_CHANGED, callout_id=1),
    )
    counts = {(str(entry.first.kind), entry.first.field): entry.count for entry in ledger.entries.values()}
    assert {
        ("null-in-non-nullable", "$.customerId"): 3,
        ("null-in-non-nullable", "$.responseTypeId"): 1,
        ("type-changed", "$.customerId"): 1,
    } == counts
    assert (5, 5) == (ledger.requests, ledger.validated_bodies)


def test_ledger_keeps_the_first_occurrence_and_samples_each_request() -> None:
    ledger = fed(finding(callout_id=1), finding(callout_id=2))
    (entry,) = ledger.entries.values()
    assert finding(callout_id=1) == entry.first
    assert ["GET /panic-api/v2/callouts/1", "GET /panic-api/v2/callouts/2"] == entry.samples


def test_ledger_caps_samples_at_five_but_counts_all() -> None:
    ledger = fed(*(finding(callout_id=i) for i in range(1, 9)))
    (entry,) = ledger.entries.values()
    assert 5 == MAX_SAMPLES
    assert [f"GET /panic-api/v2/callouts/{i}" for i in range(1, 6)] == entry.samples
    assert 8 == entry.count


def test_ledger_keeps_distinct_actual_values() -> None:
    ledger = fed(
        finding(Kind.TYPE_CHANGED, actual='string "1"'),
        finding(Kind.TYPE_CHANGED, actual='string "1"'),
        finding(Kind.TYPE_CHANGED, actual="boolean true"),
    )
    (entry,) = ledger.entries.values()
    assert ['string "1"', "boolean true"] == entry.actuals


def test_ledger_uses_the_given_sample_instead_of_the_request() -> None:
    ledger = Ledger()
    ledger.add(Inspection(findings=(finding(),)), sample="contracts/callout-null-customer.json")
    (entry,) = ledger.entries.values()
    assert ["contracts/callout-null-customer.json"] == entry.samples


def test_ledger_sorts_breaking_before_additive() -> None:
    """new-field sorts first by name; severity must still put the breaking type-changed first."""
    ledger = fed(finding(Kind.NEW_FIELD, "$.extra"), finding(Kind.TYPE_CHANGED, "$.id"))
    assert [("type-changed", "breaking"), ("new-field", "additive")] == [
        (entry.first.kind, entry.first.severity) for entry in ledger.sorted_entries()
    ]


def test_ledger_counts_signals() -> None:
    ledger = Ledger()
    for inspection in (judge(exchange(status=429)), judge(exchange(status=429)), judge(exchange(status=503))):
        ledger.add(inspection)
    assert ({"rate-limited": 2, "gateway-error": 1}, 3, 0) == (
        ledger.signals,
        ledger.requests,
        ledger.validated_bodies,
    )


def test_merging_two_ledgers_equals_one_ledger_fed_everything() -> None:
    first_half = [
        judge(exchange(callout(customerId=None))),
        judge(exchange(callout(status="Escalated"))),
        judge(exchange(callout(extra=1))),
        judge(exchange(status=429)),
        judge(exchange(CALLOUT)),
    ]
    second_half = [
        judge(exchange(callout(customerId=None, status="ESCALATED"))),
        judge(exchange(callout(status="Archived"))),
        judge(exchange(status=502)),
        judge(exchange({"message": "Forbidden"}, status=403)),
    ]
    samples = [f"sample-{i}" for i in range(len(first_half) + len(second_half))]
    one, left, right = Ledger(), Ledger(), Ledger()
    for i, inspection in enumerate(first_half + second_half):
        one.add(inspection, samples[i])
        (left if i < len(first_half) else right).add(inspection, samples[i])

    merged = Ledger()
    for part in (left, right):
        merged.merge(json.loads(json.dumps(part.as_dict())))  # as it arrives from an xdist worker
    assert json.loads(json.dumps(one.as_dict())) == json.loads(json.dumps(merged.as_dict()))


def test_merge_caps_samples_across_ledgers() -> None:
    left = fed(*(finding(callout_id=i) for i in range(1, 4)))
    right = fed(*(finding(callout_id=i) for i in range(4, 8)))
    merged = Ledger()
    merged.merge(left.as_dict())
    merged.merge(right.as_dict())
    (entry,) = merged.entries.values()
    assert ([f"GET /panic-api/v2/callouts/{i}" for i in range(1, 6)], 7) == (entry.samples, entry.count)


def test_a_ledger_holds_no_halt_the_run_quota_holds_it() -> None:
    """The verdict is handed the halt (from the run's quota); a ledger, and what it hands a merge, has none."""
    assert "halt" not in Ledger().as_dict()
    assert not hasattr(Ledger(), "halt")


def test_ledger_keys_signals_by_plain_strings_for_xdist() -> None:
    ledger = Ledger()
    ledger.add(judge(exchange(status=503)))
    assert [str] == [type(name) for name in ledger.signals]


def test_a_body_nested_deeper_than_the_parser_goes_is_malformed_not_a_crash() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    exchange = Exchange("GET", "/panic-api/v2/callouts/1", 200, {"content-type": "application/json"}, body)
    (found,) = inspect(exchange, default_contract()).findings
    assert (Kind.MALFORMED_BODY, "JSON nested too deep") == (found.kind, found.actual)


def test_findings_added_about_a_counted_response_do_not_count_another() -> None:
    ledger = Ledger()
    ledger.add(Inspection(validated_body=True))
    ledger.add_findings([finding(callout_id=1), finding(callout_id=2)])
    assert (1, 1, [2]) == (ledger.requests, ledger.validated_bodies, [e.count for e in ledger.entries.values()])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_STATUS_TEXT = st.sampled_from(["created", "Responder Dispatched", "RESPONDER CANCELLED", "Closed", "escalated", ""])


_EDGE_VALUES = st.sampled_from([None, "2024-04-20", 7, 992012, int("1" * 19), True, 992011.0, "\ud800"])


@st.composite
def _callout_like(draw: st.DrawFn) -> Any:
    """The documented callout with any of its fields changed, dropped or joined by others; or any JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_JSON)
    body = dict(CALLOUT)
    for name in draw(st.lists(st.sampled_from(sorted(CALLOUT)), max_size=3, unique=True)):
        change = draw(st.integers(0, 2))
        if change == 0:
            del body[name]
        else:
            body[name] = draw(_JSON if change == 1 else _EDGE_VALUES)
    if draw(st.booleans()):
        body["status"] = draw(_STATUS_TEXT | st.text(max_size=5))
    if draw(st.integers(0, 4)) == 0:
        body[draw(st.text(max_size=8))] = draw(_JSON)
    return body


@settings(max_examples=200)  # the fast path must agree everywhere: twice the ci profile's examples
@given(
    body=_callout_like(),
    status=st.sampled_from([200, 200, 200, 201, 204, 301, 401, 404, 429, 500, 503]) | st.integers(100, 599),
    method=st.sampled_from(["GET", "GET", "POST", "get"]),
    content_type=st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "Application/JSON", "text/html", None]
    ),
    credentials=st.sampled_from(["valid", "unknown", "missing", "invalid"]),
    raw_id=st.sampled_from(["992011", "0992011", "992012", "abc", "\u00b2", "-1", "1" * 19, None]),
)
def test_the_fast_path_judges_every_exchange_as_the_full_ladder_does(
    body: Any, status: int, method: str, content_type: str | None, credentials: Credentials, raw_id: str | None
) -> None:
    contract = default_contract()
    headers = {} if content_type is None else {"content-type": content_type}
    arguments = (contract, method, PATH, status, headers, None, body, credentials, raw_id)
    fast, full = findings.inspect_fields(*arguments), findings._inspect_in_full(*arguments)
    assert full == fast
    assert [f.credentials for f in full.findings] == [f.credentials for f in fast.findings]


def test_the_fast_path_is_taken_for_a_conforming_callout(monkeypatch: pytest.MonkeyPatch) -> None:
    contract = default_contract()
    arguments = (contract, "GET", PATH, 200, JSON_HEADERS, None)
    monkeypatch.setattr(findings, "_inspect_in_full", lambda *_: pytest.fail("the ladder was asked"))
    assert findings.VALIDATED is findings.inspect_fields(*arguments, dict(CALLOUT), "unknown", "992011")
    with pytest.raises(pytest.fail.Exception):  # a wrong id: the ladder says what is wrong
        findings.inspect_fields(*arguments, {**CALLOUT, "id": 1}, "valid", "992011")
