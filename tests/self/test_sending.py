"""The one sending path: credentials, retries, Retry-After, faults with a verdict, a shared quota, no secret shown."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx

from panic_contract.contract import default_contract
from panic_contract.findings import Credentials, Kind, inspect
from panic_contract.redaction import WRONG_TOKEN
from panic_contract.sending import (
    BudgetSpent,
    CredentialError,
    Limits,
    Quota,
    Sender,
    TargetFault,
    retry_after_seconds,
    token_from_environment,
)
from panic_contract.verdict import Decision, Verdict
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

SENTINEL_TOKEN = "sentinel-token-7f3a"
SENTINEL_SECRET = "sentinel-secret-c41d"
BASE_URL = "https://panic.test"  # only respx answers here: nothing leaves the process
CALLOUT_PATH = "/panic-api/v2/callouts/992011"
TOKEN_PATH = "/panic-api/v2/oauth/token"
CLIENT_CREDENTIALS = {"PANIC_API_CLIENT_ID": "client-1", "PANIC_API_CLIENT_SECRET": SENTINEL_SECRET}
NO_WAIT = Limits(backoff=0)  # the defaults (2 retries, no rate limit), without backoff


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def waits() -> list[float]:
    """What the sender would have slept: recorded instead, so no test sleeps."""
    return []


@pytest.fixture
def sender(waits: list[float]) -> Iterator[Sender]:
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=NO_WAIT, sleep=waits.append) as made:
        yield made


def fault_of(raised: pytest.ExceptionInfo[TargetFault]) -> tuple[Verdict, str]:
    return raised.value.decision.verdict, raised.value.decision.reason


# --- the token: from the environment, or exchanged for client credentials --------------------------


def test_token_comes_from_panic_api_token_without_a_request(api: respx.MockRouter) -> None:
    environ = {"PANIC_API_TOKEN": SENTINEL_TOKEN, **CLIENT_CREDENTIALS}
    assert SENTINEL_TOKEN == token_from_environment(BASE_URL, environ, limits=NO_WAIT)
    assert 0 == api.calls.call_count


@pytest.mark.parametrize("spelling", ["access_token", "accessToken"])
def test_client_credentials_are_exchanged_with_either_response_spelling(api: respx.MockRouter, spelling: str) -> None:
    # one per case (a token registered earlier would come back masked), and not the spelling itself: every
    # 12 characters of a registered token are masked anywhere, this module's messages naming access_token too
    issued = f"exchanged-token-{len(spelling)}"
    route = api.post(TOKEN_PATH).respond(200, json={spelling: issued, "expires_in": 3600})
    assert issued == token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)
    sent = route.calls.last.request
    assert {"clientId": "client-1", "clientSecret": SENTINEL_SECRET} == json.loads(sent.content)
    assert "authorization" not in sent.headers
    assert 1 == route.call_count


def test_a_token_issued_again_is_returned_as_issued_not_masked(api: respx.MockRouter) -> None:
    issued = "exchanged-token-issued-twice"
    api.post(TOKEN_PATH).respond(200, json={"access_token": issued})
    assert issued == token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)
    assert issued == token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "no credentials: set PANIC_API_TOKEN, or PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET"),
        (
            {"PANIC_API_CLIENT_ID": "client-1"},
            "PANIC_API_CLIENT_SECRET is not set: set it too, or set PANIC_API_TOKEN instead",
        ),
        (
            {"PANIC_API_CLIENT_SECRET": SENTINEL_SECRET},
            "PANIC_API_CLIENT_ID is not set: set it too, or set PANIC_API_TOKEN instead",
        ),
        (
            {"PANIC_API_TOKEN": "  "},
            "no credentials: set PANIC_API_TOKEN, or PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET",
        ),
    ],
    ids=["nothing", "no-secret", "no-client-id", "blank-token"],
)
def test_missing_credentials_name_the_variables_to_set(
    api: respx.MockRouter, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(CredentialError) as raised:
        token_from_environment(BASE_URL, environ, limits=NO_WAIT)
    assert expected == str(raised.value)
    assert 0 == api.calls.call_count


def test_a_token_that_cannot_go_in_a_header_is_refused_without_showing_it(api: respx.MockRouter) -> None:
    with pytest.raises(CredentialError) as raised:
        token_from_environment(BASE_URL, {"PANIC_API_TOKEN": "sentinel-token\nX-Injected: 1"}, limits=NO_WAIT)
    assert str(raised.value).startswith("PANIC_API_TOKEN holds characters that cannot go in an HTTP header")
    assert "X-Injected" not in str(raised.value)
    assert 0 == api.calls.call_count


@pytest.mark.parametrize("status", [400, 401])
def test_token_endpoint_rejection_is_an_auth_fault_saying_to_check_the_client_credentials(
    api: respx.MockRouter, status: int
) -> None:
    route = api.post(TOKEN_PATH).respond(status, json={"message": "bad client"})
    with pytest.raises(TargetFault) as raised:
        token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)
    assert (
        Verdict.AUTH,
        f"panic.test rejected the client credentials (HTTP {status} from {TOKEN_PATH}): "
        "check PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET",
    ) == fault_of(raised)
    assert 1 == route.call_count  # a rejection is not retried


@pytest.mark.parametrize(
    ("response", "status"),
    [
        (httpx.Response(500, json={"message": "boom"}), 500),
        (httpx.Response(200, text="<html>"), 200),
        (httpx.Response(200, json={"token": "x"}), 200),
        (httpx.Response(200, json={"accessToken": 7}), 200),
        (httpx.Response(200, json={"accessToken": "two words"}), 200),
    ],
    ids=["500", "not-json", "no-token-field", "token-not-a-string", "token-not-header-safe"],
)
def test_token_endpoint_without_a_usable_token_is_an_outage_in_one_line(
    api: respx.MockRouter, response: httpx.Response, status: int
) -> None:
    api.post(TOKEN_PATH).mock(return_value=response)
    with pytest.raises(TargetFault) as raised:
        token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)
    assert (
        Verdict.OUTAGE,
        f"token exchange at panic.test failed: HTTP {status} from {TOKEN_PATH} without a usable access_token "
        "or accessToken; try later, or set PANIC_API_TOKEN",
    ) == fault_of(raised)


def test_token_endpoint_that_keeps_answering_503_is_an_outage_after_the_retries(
    api: respx.MockRouter, waits: list[float]
) -> None:
    route = api.post(TOKEN_PATH).respond(503)
    with pytest.raises(TargetFault) as raised:
        token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT, sleep=waits.append)
    assert (
        Verdict.OUTAGE,
        (
            "token exchange at /panic-api/v2/oauth/token failed: "
            "panic.test kept answering 503 Service Unavailable (3 attempts)"
        ),
    ) == fault_of(raised)
    assert (3, 2) == (route.call_count, len(waits))
    assert SENTINEL_SECRET not in str(raised.value)


# --- 429: waited out, then an outage -----------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_and_retried(
    api: respx.MockRouter, sender: Sender, waits: list[float]
) -> None:
    api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=CALLOUT)]
    )
    exchange = sender.get_callout(992011)
    assert 200 == exchange.status
    assert 2 == sender.requests_sent
    assert [3.0] == waits


def test_retry_after_is_capped_by_max_wait(api: respx.MockRouter, waits: list[float]) -> None:
    api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200, json=CALLOUT)]
    )
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=Limits(backoff=0, max_wait=30), sleep=waits.append) as sender:
        assert 200 == sender.get_callout(992011).status
    assert [30.0] == waits


def test_429_that_never_ends_is_an_outage_saying_to_lower_the_rate_limit(
    api: respx.MockRouter, sender: Sender, waits: list[float]
) -> None:
    api.get(CALLOUT_PATH).respond(429, headers={"Retry-After": "0"})
    with pytest.raises(TargetFault) as raised:
        sender.get_callout(992011)
    assert (
        Verdict.OUTAGE,
        "panic.test kept answering 429 Too Many Requests (3 attempts); lower --rate-limit",
    ) == fault_of(raised)
    assert 3 == sender.requests_sent  # the first try and retries=2 more
    assert [0.0, 0.0] == waits


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2015, 10, 21, 7, 27, 55, tzinfo=UTC)
    assert 120.0 == retry_after_seconds("120", now)
    assert 5.0 == retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now)
    assert 0.0 == retry_after_seconds("Wed, 21 Oct 2015 07:00:00 GMT", now)
    assert 10.0**8 == retry_after_seconds("9" * 40, now)  # bounded: a huge number is not parsed whole
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


# --- 5xx: a 500 is judged, a gateway error is retried -------------------------------------------------


def test_500_is_returned_as_it_came_without_a_retry(api: respx.MockRouter, sender: Sender, waits: list[float]) -> None:
    """A 500 is the target's answer, not a transient fault: the contract judges it."""
    api.get(CALLOUT_PATH).respond(500, json={"message": "boom"})
    exchange = sender.get_callout(992011)
    assert 500 == exchange.status
    assert (1, []) == (sender.requests_sent, waits)
    assert [Kind.SERVER_ERROR] == [f.kind for f in inspect(exchange, default_contract()).findings]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_error_is_retried_with_exponential_backoff(api: respx.MockRouter, status: int) -> None:
    waits: list[float] = []
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.Response(status)] * 3 + [httpx.Response(200, json=CALLOUT)])
    limits = Limits(retries=3, backoff=0.5)
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=limits, sleep=waits.append) as sender:
        exchange = sender.get_callout(992011)
    assert 200 == exchange.status
    assert [0.5, 1.0, 2.0] == waits


def test_backoff_is_capped_by_max_wait(api: respx.MockRouter) -> None:
    waits: list[float] = []
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.Response(503)] * 4 + [httpx.Response(200, json=CALLOUT)])
    limits = Limits(retries=4, backoff=0.5, max_wait=1.5)
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=limits, sleep=waits.append) as sender:
        assert 200 == sender.get_callout(992011).status
    assert [0.5, 1.0, 1.5, 1.5] == waits


@pytest.mark.parametrize(
    ("status", "phrase"), [(502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout")]
)
def test_gateway_error_still_there_after_retries_is_an_outage(
    api: respx.MockRouter, sender: Sender, status: int, phrase: str
) -> None:
    api.get(CALLOUT_PATH).respond(status, text="<html>down</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(TargetFault) as raised:
        sender.get_callout(992011)
    assert (Verdict.OUTAGE, f"panic.test kept answering {status} {phrase} (3 attempts)") == fault_of(raised)
    assert 3 == sender.requests_sent


def test_after_a_fault_nothing_more_is_sent(api: respx.MockRouter, sender: Sender) -> None:
    route = api.get(CALLOUT_PATH).respond(503)
    with pytest.raises(TargetFault) as first:
        sender.get_callout(992011)
    route.respond(200, json=CALLOUT)
    with pytest.raises(TargetFault) as second:
        sender.get_callout(992011)
    assert first.value.decision == second.value.decision
    assert first.value.decision == sender.quota.halted()
    assert 3 == route.call_count


# --- transport faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ReadTimeout("timed out"), "no response within 5s (--request-timeout)"),
        (httpx.ConnectTimeout("timed out"), "connection not accepted within 5s (--request-timeout)"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "connection refused"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "DNS lookup failed"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "connection closed without a response",
        ),
    ],
    ids=["read-timeout", "connect-timeout", "refused", "dns", "closed"],
)
def test_transport_faults_are_retried_then_an_outage_naming_the_host(
    api: respx.MockRouter, waits: list[float], error: Exception, words: str
) -> None:
    api.get(CALLOUT_PATH).mock(side_effect=error)
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=Limits(timeout=5, backoff=0), sleep=waits.append) as sender:
        with pytest.raises(TargetFault) as raised:
            sender.get_callout(992011)
        assert 3 == sender.requests_sent
    assert (Verdict.OUTAGE, f"cannot reach panic.test: {words} (3 attempts)") == fault_of(raised)
    assert raised.value.__cause__ is None  # one line, no chained transport error
    assert 2 == len(waits)


def test_a_connect_error_that_heals_is_retried(api: respx.MockRouter, sender: Sender) -> None:
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=CALLOUT)])
    assert 200 == sender.get_callout(992011).status
    assert 2 == sender.requests_sent
    assert sender.quota.halted() is None


def test_malformed_json_is_returned_as_an_exchange_for_inspect_to_flag(api: respx.MockRouter, sender: Sender) -> None:
    api.get(CALLOUT_PATH).respond(200, content=b'{"id": 992011,', headers={"Content-Type": "application/json"})
    exchange = sender.get_callout(992011)
    assert b'{"id": 992011,' == exchange.body
    assert "application/json" == exchange.headers["content-type"]
    assert [Kind.MALFORMED_BODY] == [f.kind for f in inspect(exchange, default_contract()).findings]


# --- credentials and auth faults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [("valid", f"Bearer {SENTINEL_TOKEN}"), ("missing", None), ("invalid", f"Bearer {WRONG_TOKEN}")],
)
def test_credentials_choose_the_authorization_header(
    api: respx.MockRouter, sender: Sender, credentials: Credentials, expected: str | None
) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    exchange = sender.get_callout(992011, credentials=credentials)
    assert expected == route.calls.last.request.headers.get("authorization")
    assert credentials == exchange.credentials
    assert ("GET", CALLOUT_PATH) == (exchange.method, exchange.path)


def test_credentials_win_over_an_authorization_header_passed_in(api: respx.MockRouter, sender: Sender) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    sender.send("GET", CALLOUT_PATH, credentials="missing", headers={"Authorization": "Bearer generated"})
    assert "authorization" not in route.calls.last.request.headers


def test_an_authenticated_request_without_a_token_is_a_credential_error(api: respx.MockRouter) -> None:
    with Sender(BASE_URL, None) as sender, pytest.raises(CredentialError, match="set PANIC_API_TOKEN"):
        sender.get_callout(992011)
    assert 0 == api.calls.call_count


def test_401_to_our_token_is_an_auth_fault_at_once(api: respx.MockRouter, sender: Sender, waits: list[float]) -> None:
    route = api.get(CALLOUT_PATH).respond(401, json={"message": "Unauthorized"})
    with pytest.raises(TargetFault) as raised:
        sender.get_callout(992011)
    assert (
        Verdict.AUTH,
        "panic.test rejected our token (401 to a request that carried it): refresh PANIC_API_TOKEN",
    ) == fault_of(raised)
    assert (1, []) == (route.call_count, waits)


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_401_without_our_token_is_returned_for_the_contract_to_judge(
    api: respx.MockRouter, sender: Sender, credentials: Credentials
) -> None:
    api.get(CALLOUT_PATH).respond(401, json={"message": "Unauthorized"})
    exchange = sender.get_callout(992011, credentials=credentials)
    assert 401 == exchange.status
    assert sender.quota.halted() is None


def test_a_redirect_is_returned_not_followed(api: respx.MockRouter, sender: Sender) -> None:
    """Following it could carry the token to another host; respx refuses any request to elsewhere.test."""
    route = api.get(CALLOUT_PATH).respond(302, headers={"Location": "https://elsewhere.test/steal"})
    exchange = sender.get_callout(992011)
    assert (302, 1, 1) == (exchange.status, route.call_count, api.calls.call_count)
    (finding,) = inspect(exchange, default_contract()).findings
    assert Kind.UNDOCUMENTED_STATUS_CODE == finding.kind
    assert "elsewhere.test" in finding.actual


# --- the quota: pacing, budget, and halt, shared across processes ------------------------------------


def test_rate_limit_spaces_requests(api: respx.MockRouter, waits: list[float]) -> None:
    api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=Limits(rate_limit=0.001), sleep=waits.append) as sender:
        sender.get_callout(992011)
        sender.get_callout(992011)
    assert 1 == len(waits)
    assert 999 < waits[0] <= 1000  # one request per 1000 s: the second waits out nearly all of it


def test_a_given_quota_paces_the_sender(api: respx.MockRouter) -> None:
    paced: list[float] = []
    retried: list[float] = []
    api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    quota = Quota(rate_limit=0.001, sleep=paced.append)
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=NO_WAIT, quota=quota, sleep=retried.append) as sender:
        sender.get_callout(992011)
        sender.get_callout(992011)
    assert (1, []) == (len(paced), retried)
    assert (2, 2) == (quota.sent, sender.requests_sent)


def test_the_request_budget_stops_sending(api: respx.MockRouter) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=Limits(budget=2)) as sender:
        sender.get_callout(992011)
        sender.get_callout(992011)
        with pytest.raises(BudgetSpent) as raised:
            sender.get_callout(992011)
    assert "stopped at the request budget of 2 (--request-budget)" == str(raised.value)
    assert 2 == route.call_count


def test_a_quota_file_is_one_budget_for_every_process(tmp_path: Path) -> None:
    path = tmp_path / "quota.json"
    first, second = Quota(path, budget=3), Quota(path, budget=3)
    first.take()
    second.take()
    first.take()
    with pytest.raises(BudgetSpent):
        second.take()
    assert (3, 3) == (first.sent, second.sent)


def test_a_quota_file_paces_every_process(tmp_path: Path) -> None:
    path, paced = tmp_path / "quota.json", []
    first = Quota(path, rate_limit=0.001, sleep=paced.append)
    second = Quota(path, rate_limit=0.001, sleep=paced.append)
    first.take()
    second.take()
    assert 1 == len(paced)
    assert 999 < paced[0] <= 1000


def test_a_halt_in_one_process_stops_the_others_and_the_first_fault_wins(tmp_path: Path) -> None:
    path = tmp_path / "quota.json"
    first, second = Quota(path), Quota(path)
    outage = Decision(Verdict.OUTAGE, "cannot reach panic.test: connection refused (3 attempts)")
    first.halt(outage)
    second.halt(Decision(Verdict.AUTH, "panic.test rejected our token"))
    assert (outage, outage) == (first.halted(), second.halted())
    with pytest.raises(TargetFault) as raised:
        second.take()
    assert outage == raised.value.decision
    assert 0 == second.sent


def test_senders_on_one_quota_file_share_the_halt(api: respx.MockRouter, tmp_path: Path) -> None:
    route = api.get(CALLOUT_PATH).respond(503)
    path = tmp_path / "quota.json"
    with (
        Sender(BASE_URL, SENTINEL_TOKEN, limits=NO_WAIT, quota=Quota(path), sleep=lambda _: None) as failing,
        Sender(BASE_URL, SENTINEL_TOKEN, limits=NO_WAIT, quota=Quota(path), sleep=lambda _: None) as other,
    ):
        with pytest.raises(TargetFault) as first:
            failing.get_callout(992011)
        with pytest.raises(TargetFault) as second:
            other.get_callout(992011)
        assert 0 == other.requests_sent
    assert first.value.decision == second.value.decision
    assert 3 == route.call_count


# --- secrets -----------------------------------------------------------------------------------------


def test_sentinel_token_never_shows_in_repr_errors_or_logs(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    issued = "sentinel-token-issued-91c0"  # used by this test only: the exchange must hand it over as issued
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    api.post(TOKEN_PATH).respond(200, json={"access_token": issued})
    route = api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(200, json=CALLOUT), httpx.Response(401, json={"message": "no"})]
    )
    token = token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)
    seen: list[str] = []
    with Sender(BASE_URL, token, limits=NO_WAIT, sleep=lambda _: None) as sender:
        seen += [repr(sender), str(sender), repr(sender.__dict__)]
        seen.append(repr(sender.get_callout(992011)))
        with pytest.raises(TargetFault) as rejected:
            sender.get_callout(992011)
        seen += [str(rejected.value), repr(rejected.value), repr(rejected.value.decision)]
    route.side_effect = httpx.ConnectTimeout(f"timed out sending Bearer {issued}")
    with Sender(BASE_URL, token, limits=NO_WAIT, sleep=lambda _: None) as sender:
        with pytest.raises(TargetFault) as outage:
            sender.get_callout(992011)
        seen += [str(outage.value), repr(outage.value)]
    captured = capsys.readouterr()
    seen += [caplog.text, captured.out, captured.err]
    assert f"Bearer {issued}" == route.calls[0].request.headers["authorization"]  # the real token was used
    assert "Sender(base_url='https://panic.test', token=***)" == seen[0]
    assert {"httpx"} <= {record.name for record in caplog.records}  # the check below read real log lines
    for text in seen:
        assert issued not in text
        assert SENTINEL_SECRET not in text


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_response_echoing_the_token_comes_back_masked(api: respx.MockRouter, sender: Sender, gzipped: bool) -> None:
    body = json.dumps({**CALLOUT, "echo": f"Bearer {SENTINEL_TOKEN}"}).encode()
    headers = {"Content-Type": "application/json", "X-Echo": f"Bearer {SENTINEL_TOKEN}"}
    if gzipped:
        body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}
    api.get(CALLOUT_PATH).respond(200, content=body, headers=headers)
    exchange = sender.get_callout(992011)
    assert "Bearer ***" == exchange.headers["x-echo"]
    assert "Bearer ***" == json.loads(exchange.body or b"")["echo"]
    assert SENTINEL_TOKEN.encode() not in (exchange.body or b"")


def test_a_401_to_another_method_is_returned_for_the_contract_to_judge(api: respx.MockRouter) -> None:
    """Only the documented operation's 401 to our token means the token is refused; TRACE's is the contract's."""
    api.route(method="TRACE", path=CALLOUT_PATH).respond(401, json={"message": "no"})
    with Sender(BASE_URL, SENTINEL_TOKEN, limits=NO_WAIT) as sender:
        assert 401 == sender.send("TRACE", CALLOUT_PATH, credentials="valid").status_code
