"""The one sending path: credentials, retries, Retry-After, faults with a verdict, a shared quota, no secret shown;
every response bounded in time and size; the route (proxy, TLS) chosen once."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import logging
import signal
import socket
import ssl
import subprocess
import sys
import time
import traceback
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Exchange, Kind, exchange_of, inspect
from panic_contract.core.verdict import Verdict, halt_decision
from panic_contract.errors import CredentialError, RouteError
from panic_contract.faults import Credentials, Halt, Outage, TokenRejected
from panic_contract.mock import MOCK_TOKEN
from panic_contract.redaction import WRONG_TOKEN, Secret
from panic_contract.sending.auth import auth_for
from panic_contract.sending.quota import BudgetSpent, Quota, fresh_state, read_state
from panic_contract.sending.sender import Limits, Sender, retry_after_seconds
from panic_contract.sending.token import token_from_environment
from panic_contract.sending.transport import DIRECT, is_loopback, route_for
from tests.self.faulty_servers import MIB, faulty_server, forward_proxy
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

SENTINEL_TOKEN = "sentinel-token-7f3a"
SENTINEL_SECRET = "sentinel-secret-c41d"
TOKEN = Secret(SENTINEL_TOKEN)
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
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=NO_WAIT, sleep=waits.append) as made:
        yield made


def fault_of(raised: pytest.ExceptionInfo[Halt]) -> tuple[Verdict, str]:
    decision = halt_decision(raised.value)
    return decision.verdict, decision.reason


def get_callout(sender: Sender, callout_id: int | str, *, credentials: Credentials = "valid") -> Exchange:
    """One GET of a callout, as the suite and the recorder send it."""
    path = default_contract().path_for(callout_id)
    response = sender.send("GET", path, credentials=credentials, headers={"Accept": "application/json"})
    return exchange_of(response, credentials)


def same_halt(first: Halt | None, second: Halt | None) -> bool:
    return first is not None and second is not None and (type(first), first.reason) == (type(second), second.reason)


# --- the token: from the environment, or exchanged for client credentials --------------------------


def test_token_comes_from_panic_api_token_without_a_request(api: respx.MockRouter) -> None:
    environ = {"PANIC_API_TOKEN": SENTINEL_TOKEN, **CLIENT_CREDENTIALS}
    assert SENTINEL_TOKEN == token_from_environment(BASE_URL, environ, limits=NO_WAIT).value
    assert 0 == api.calls.call_count


@pytest.mark.parametrize("spelling", ["access_token", "accessToken"])
def test_client_credentials_are_exchanged_with_either_response_spelling(api: respx.MockRouter, spelling: str) -> None:
    # one per case (a token registered earlier would come back masked), and not the spelling itself: every
    # 12 characters of a registered token are masked anywhere, this module's messages naming access_token too
    issued = f"exchanged-token-{len(spelling)}"
    route = api.post(TOKEN_PATH).respond(200, json={spelling: issued, "expires_in": 3600})
    assert issued == token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT).value
    sent = route.calls.last.request
    assert {"clientId": "client-1", "clientSecret": SENTINEL_SECRET} == json.loads(sent.content)
    assert "authorization" not in sent.headers
    assert 1 == route.call_count


def test_a_token_issued_again_is_returned_as_issued_not_masked(api: respx.MockRouter) -> None:
    issued = "exchanged-token-issued-twice"
    api.post(TOKEN_PATH).respond(200, json={"access_token": issued})
    assert issued == token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT).value
    assert issued == token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT).value


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
    with pytest.raises(Halt) as raised:
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
    with pytest.raises(Halt) as raised:
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
    with pytest.raises(Halt) as raised:
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
    exchange = get_callout(sender, 992011)
    assert 200 == exchange.status
    assert 2 == sender.requests_sent
    assert [3.0] == waits


def test_retry_after_is_capped_by_max_wait(api: respx.MockRouter, waits: list[float]) -> None:
    api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200, json=CALLOUT)]
    )
    with Sender(
        BASE_URL, TOKEN, documented_method="GET", limits=Limits(backoff=0, max_wait=30), sleep=waits.append
    ) as sender:
        assert 200 == get_callout(sender, 992011).status
    assert [30.0] == waits


def test_429_that_never_ends_is_an_outage_saying_to_lower_the_rate_limit(
    api: respx.MockRouter, sender: Sender, waits: list[float]
) -> None:
    api.get(CALLOUT_PATH).respond(429, headers={"Retry-After": "0"})
    with pytest.raises(Halt) as raised:
        get_callout(sender, 992011)
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
    exchange = get_callout(sender, 992011)
    assert 500 == exchange.status
    assert (1, []) == (sender.requests_sent, waits)
    assert [Kind.SERVER_ERROR] == [f.kind for f in inspect(exchange, default_contract()).findings]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_error_is_retried_with_exponential_backoff(api: respx.MockRouter, status: int) -> None:
    waits: list[float] = []
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.Response(status)] * 3 + [httpx.Response(200, json=CALLOUT)])
    limits = Limits(retries=3, backoff=0.5)
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=limits, sleep=waits.append) as sender:
        exchange = get_callout(sender, 992011)
    assert 200 == exchange.status
    assert [0.5, 1.0, 2.0] == waits


def test_backoff_is_capped_by_max_wait(api: respx.MockRouter) -> None:
    waits: list[float] = []
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.Response(503)] * 4 + [httpx.Response(200, json=CALLOUT)])
    limits = Limits(retries=4, backoff=0.5, max_wait=1.5)
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=limits, sleep=waits.append) as sender:
        assert 200 == get_callout(sender, 992011).status
    assert [0.5, 1.0, 1.5, 1.5] == waits


@pytest.mark.parametrize(
    ("status", "phrase"), [(502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout")]
)
def test_gateway_error_still_there_after_retries_is_an_outage(
    api: respx.MockRouter, sender: Sender, status: int, phrase: str
) -> None:
    api.get(CALLOUT_PATH).respond(status, text="<html>down</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(Halt) as raised:
        get_callout(sender, 992011)
    assert (Verdict.OUTAGE, f"panic.test kept answering {status} {phrase} (3 attempts)") == fault_of(raised)
    assert 3 == sender.requests_sent


def test_after_a_fault_nothing_more_is_sent(api: respx.MockRouter, sender: Sender) -> None:
    route = api.get(CALLOUT_PATH).respond(503)
    with pytest.raises(Halt) as first:
        get_callout(sender, 992011)
    route.respond(200, json=CALLOUT)
    with pytest.raises(Halt) as second:
        get_callout(sender, 992011)
    assert same_halt(first.value, second.value)
    assert same_halt(first.value, sender.quota.halted())
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
    with Sender(
        BASE_URL, TOKEN, documented_method="GET", limits=Limits(timeout=5, backoff=0), sleep=waits.append
    ) as sender:
        with pytest.raises(Halt) as raised:
            get_callout(sender, 992011)
        assert 3 == sender.requests_sent
    assert (Verdict.OUTAGE, f"cannot reach panic.test: {words} (3 attempts)") == fault_of(raised)
    assert raised.value.__cause__ is None  # one line, no chained transport error
    assert 2 == len(waits)


def test_a_connect_error_that_heals_is_retried(api: respx.MockRouter, sender: Sender) -> None:
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=CALLOUT)])
    assert 200 == get_callout(sender, 992011).status
    assert 2 == sender.requests_sent
    assert sender.quota.halted() is None


def test_malformed_json_is_returned_as_an_exchange_for_inspect_to_flag(api: respx.MockRouter, sender: Sender) -> None:
    api.get(CALLOUT_PATH).respond(200, content=b'{"id": 992011,', headers={"Content-Type": "application/json"})
    exchange = get_callout(sender, 992011)
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
    exchange = get_callout(sender, 992011, credentials=credentials)
    assert expected == route.calls.last.request.headers.get("authorization")
    assert credentials == exchange.credentials
    assert ("GET", CALLOUT_PATH) == (exchange.method, exchange.path)


def test_credentials_win_over_an_authorization_header_passed_in(api: respx.MockRouter, sender: Sender) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    sender.send("GET", CALLOUT_PATH, credentials="missing", headers={"Authorization": "Bearer generated"})
    assert "authorization" not in route.calls.last.request.headers


def test_an_authenticated_request_without_a_token_is_a_credential_error(api: respx.MockRouter) -> None:
    with (
        Sender(BASE_URL, None, documented_method="GET") as sender,
        pytest.raises(CredentialError, match="set PANIC_API_TOKEN"),
    ):
        get_callout(sender, 992011)
    assert 0 == api.calls.call_count


def test_401_to_our_token_is_an_auth_fault_at_once(api: respx.MockRouter, sender: Sender, waits: list[float]) -> None:
    route = api.get(CALLOUT_PATH).respond(401, json={"message": "Unauthorized"})
    with pytest.raises(Halt) as raised:
        get_callout(sender, 992011)
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
    exchange = get_callout(sender, 992011, credentials=credentials)
    assert 401 == exchange.status
    assert sender.quota.halted() is None


def test_a_redirect_is_returned_not_followed(api: respx.MockRouter, sender: Sender) -> None:
    """Following it could carry the token to another host; respx refuses any request to elsewhere.test."""
    route = api.get(CALLOUT_PATH).respond(302, headers={"Location": "https://elsewhere.test/steal"})
    exchange = get_callout(sender, 992011)
    assert (302, 1, 1) == (exchange.status, route.call_count, api.calls.call_count)
    (finding,) = inspect(exchange, default_contract()).findings
    assert Kind.UNDOCUMENTED_STATUS_CODE == finding.kind
    assert "elsewhere.test" in finding.actual


# --- the quota: pacing, budget, and halt, shared across processes ------------------------------------


def test_rate_limit_spaces_requests(api: respx.MockRouter, waits: list[float]) -> None:
    api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    with Sender(
        BASE_URL, TOKEN, documented_method="GET", limits=Limits(rate_limit=0.001), sleep=waits.append
    ) as sender:
        get_callout(sender, 992011)
        get_callout(sender, 992011)
    assert 1 == len(waits)
    assert 999 < waits[0] <= 1000  # one request per 1000 s: the second waits out nearly all of it


def test_a_given_quota_paces_the_sender(api: respx.MockRouter) -> None:
    paced: list[float] = []
    retried: list[float] = []
    api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    quota = Quota(rate_limit=0.001, sleep=paced.append)
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=NO_WAIT, quota=quota, sleep=retried.append) as sender:
        get_callout(sender, 992011)
        get_callout(sender, 992011)
    assert (1, []) == (len(paced), retried)
    assert (2, 2) == (quota.sent, sender.requests_sent)


def test_the_request_budget_stops_sending(api: respx.MockRouter) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=Limits(budget=2)) as sender:
        get_callout(sender, 992011)
        get_callout(sender, 992011)
        with pytest.raises(BudgetSpent) as raised:
            get_callout(sender, 992011)
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
    outage = Outage("cannot reach panic.test: connection refused (3 attempts)")
    first.halt(outage)
    assert same_halt(outage, second.halt(TokenRejected("panic.test rejected our token")))
    assert same_halt(outage, first.halted())
    assert same_halt(outage, second.halted())
    with pytest.raises(Halt) as raised:
        second.take()
    assert same_halt(outage, raised.value)
    assert 0 == second.sent


def test_senders_on_one_quota_file_share_the_halt(api: respx.MockRouter, tmp_path: Path) -> None:
    route = api.get(CALLOUT_PATH).respond(503)
    path = tmp_path / "quota.json"
    with (
        Sender(
            BASE_URL, TOKEN, documented_method="GET", limits=NO_WAIT, quota=Quota(path), sleep=lambda _: None
        ) as failing,
        Sender(
            BASE_URL, TOKEN, documented_method="GET", limits=NO_WAIT, quota=Quota(path), sleep=lambda _: None
        ) as other,
    ):
        with pytest.raises(Halt) as first:
            get_callout(failing, 992011)
        with pytest.raises(Halt) as second:
            get_callout(other, 992011)
        assert 0 == other.requests_sent
    assert same_halt(first.value, second.value)
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
    with Sender(BASE_URL, token, documented_method="GET", limits=NO_WAIT, sleep=lambda _: None) as sender:
        seen += [repr(sender), str(sender), repr(sender.__dict__)]
        seen.append(repr(get_callout(sender, 992011)))
        with pytest.raises(Halt) as rejected:
            get_callout(sender, 992011)
        seen += [str(rejected.value), repr(rejected.value), repr(halt_decision(rejected.value))]
    route.side_effect = httpx.ConnectTimeout(f"timed out sending Bearer {issued}")
    with Sender(BASE_URL, token, documented_method="GET", limits=NO_WAIT, sleep=lambda _: None) as sender:
        with pytest.raises(Halt) as outage:
            get_callout(sender, 992011)
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
    exchange = get_callout(sender, 992011)
    assert "Bearer ***" == exchange.headers["x-echo"]
    assert "Bearer ***" == json.loads(exchange.body or b"")["echo"]
    assert SENTINEL_TOKEN.encode() not in (exchange.body or b"")


def test_a_401_to_another_method_is_returned_for_the_contract_to_judge(api: respx.MockRouter) -> None:
    """Only the documented operation's 401 to our token means the token is refused; TRACE's is the contract's."""
    api.route(method="TRACE", path=CALLOUT_PATH).respond(401, json={"message": "no"})
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=NO_WAIT) as sender:
        assert 401 == sender.send("TRACE", CALLOUT_PATH, credentials="valid").status_code


# --- every response bounded: one deadline per attempt ----------------------------------------------


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("drip-body", "no complete response within 1s (--request-timeout)"),
        ("drip-headers", "no complete response within 1s (--request-timeout)"),
        ("hang", "no response within 1s (--request-timeout)"),
    ],
)
def test_an_attempt_ends_at_its_deadline_however_slowly_the_response_comes(fault: str, words: str) -> None:
    """A byte every 0.2 s never trips a per-read timeout; each of the two attempts still ends after 1 s."""
    limits = Limits(timeout=1, retries=1, backoff=0)
    with (
        faulty_server(fault) as base_url,
        Sender(base_url, Secret(MOCK_TOKEN), documented_method="GET", limits=limits) as sender,
    ):
        started = time.monotonic()
        with pytest.raises(Halt) as raised:
            get_callout(sender, 992011)
        took = time.monotonic() - started
    host = base_url.removeprefix("http://")
    assert (Verdict.OUTAGE, f"cannot reach {host}: {words} (2 attempts)") == fault_of(raised)
    assert 1.9 < took < 10  # two attempts, each its own second; the drip alone would take 15 to 50 s


# --- every response bounded: the body cap ----------------------------------------------------------

CALLOUT_REQUEST = f"GET {CALLOUT_PATH}"
TOO_LARGE = "body is larger than 4 MiB (--max-body-size), contract says a JSON object [malformed-body]"


@pytest.mark.parametrize("fault", ["oversized-body", "endless-chunked", "gzip-bomb"])
def test_a_body_over_the_cap_is_dropped_there_and_judged_malformed(fault: str) -> None:
    with (
        faulty_server(fault) as base_url,
        Sender(base_url, Secret(MOCK_TOKEN), documented_method="GET", limits=Limits(retries=0)) as sender,
    ):
        exchange = get_callout(sender, 992011)
        assert (200, 4 * MIB, b"") == (exchange.status, exchange.oversized, exchange.body)
        (finding,) = inspect(exchange, default_contract()).findings
        assert f"{CALLOUT_REQUEST}: {TOO_LARGE}" == finding.message()
        assert 1 == sender.requests_sent


ENCODERS = {
    "identity": lambda data: data,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
    encoding=st.sampled_from(sorted(ENCODERS)),
    cap=st.integers(min_value=1, max_value=2048),
)
def test_a_body_is_whole_up_to_the_cap_and_cut_past_it_however_it_is_framed(
    api: respx.MockRouter, body: bytes, cuts: list[int], encoding: str, cap: int
) -> None:
    """Decoded size is what counts: any chunking, any Content-Encoding httpx decodes."""
    wire = ENCODERS[encoding](body)
    points = sorted({0, len(wire), *(cut % (len(wire) + 1) for cut in cuts)})
    chunks = [wire[a:b] for a, b in itertools.pairwise(points)]
    headers = {"Content-Type": "application/json"} | ({} if encoding == "identity" else {"Content-Encoding": encoding})
    api.get(CALLOUT_PATH).mock(side_effect=lambda _: httpx.Response(200, headers=headers, stream=_Chunks(chunks)))
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=Limits(max_body=cap, retries=0)) as sender:
        exchange = get_callout(sender, 992011)
    if len(body) <= cap:
        assert (body, None) == (exchange.body, exchange.oversized)
        assert "content-encoding" not in exchange.headers  # the body is the decoded one
    else:
        assert (b"", cap) == (exchange.body, exchange.oversized)
        assert [Kind.MALFORMED_BODY] == [f.kind for f in inspect(exchange, default_contract()).findings]


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks


@given(
    status=st.integers(min_value=100, max_value=599),
    credentials=st.sampled_from(["valid", "missing", "invalid"]),
    method=st.sampled_from(["GET", "TRACE", "POST"]),
    cap=st.integers(min_value=1, max_value=1 << 30),
)
def test_an_exchange_cut_at_the_cap_is_one_malformed_body_finding_whatever_else_it_says(
    status: int, credentials: Credentials, method: str, cap: int
) -> None:
    exchange = Exchange(
        method,
        "/panic-api/v2/callouts/992011",
        status,
        {"content-type": "text/html"},
        b"",
        credentials=credentials,
        oversized=cap,
    )
    (finding,) = inspect(exchange, default_contract()).findings
    assert (Kind.MALFORMED_BODY, f"larger than {cap / MIB:g} MiB (--max-body-size)") == (finding.kind, finding.actual)


# --- the token: a Secret all the way, never in a frame of ours ------------------------------------

LONG_TOKEN = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(5))  # 320 characters


def fragments(secret: str, size: int = 12) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def test_no_frame_of_the_send_path_holds_the_token_when_an_error_crosses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any error raised inside the send (here: the connect itself fails unexpectedly) passes frames a debugger
    or `pytest -l` shows; none of them holds the token, whole or in part, in any local."""

    def broken(*args: Any, **kwargs: Any) -> socket.socket:
        raise RuntimeError("the network layer failed unexpectedly")

    with faulty_server("clean", token=LONG_TOKEN) as base_url:
        monkeypatch.setattr(socket, "create_connection", broken)
        with (
            Sender(base_url, Secret(LONG_TOKEN), documented_method="GET", limits=Limits(retries=0)) as sender,
            pytest.raises(RuntimeError) as raised,
        ):
            get_callout(sender, 992011)
    frames = [
        frame for frame, _ in traceback.walk_tb(raised.value.__traceback__) if frame.f_code.co_filename != __file__
    ]
    assert any("panic_contract" in frame.f_code.co_filename for frame in frames)  # the check below saw our frames
    assert any("httpcore" in frame.f_code.co_filename for frame in frames)  # and httpx's, down to the connect
    shown = {
        f"{frame.f_code.co_qualname}: {name}": repr(value) for frame in frames for name, value in frame.f_locals.items()
    }
    pieces = fragments(LONG_TOKEN)
    assert [] == [where for where, text in shown.items() if any(piece in text for piece in pieces)]


def test_the_authorization_header_is_put_on_by_an_auth_whose_repr_hides_it(api: respx.MockRouter) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    with Sender(BASE_URL, TOKEN, documented_method="GET", limits=NO_WAIT) as sender:
        auth = auth_for("valid", sender.our_auth)
        get_callout(sender, 992011)
    assert isinstance(auth, httpx.Auth)
    assert SENTINEL_TOKEN not in repr(auth) + str(auth) + repr(vars(auth))
    assert f"Bearer {SENTINEL_TOKEN}" == route.calls.last.request.headers["authorization"]


def test_an_exchanged_token_is_a_secret_as_soon_as_it_arrives(api: respx.MockRouter) -> None:
    issued = "exchanged-token-held-as-a-secret-2b7e"
    api.post(TOKEN_PATH).respond(200, json={"access_token": issued})
    token = token_from_environment(BASE_URL, CLIENT_CREDENTIALS, limits=NO_WAIT)
    assert isinstance(token, Secret)
    assert (issued, "***") == (token.value, repr(token))


# --- the route: loopback direct, live targets by the environment, bad variables refused ----------


loopback_urls = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["http", "https"]),
    st.ip_addresses(v=4, network="127.0.0.0/8").map(str)
    | st.just("[::1]")
    | st.sampled_from(["localhost", "LOCALHOST", "Localhost.", "mock.localhost"]),
    st.sampled_from(["", ":8000", ":443"]),
)
proxies = st.dictionaries(
    st.sampled_from(["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
    st.sampled_from(["http://proxy.example:3128", "ftp://not-even-a-proxy", "http://[::1", "socks5://127.0.0.1:1"]),
)


@given(url=loopback_urls, environ=proxies)
def test_a_loopback_target_never_goes_through_a_proxy(url: str, environ: dict[str, str]) -> None:
    """Whatever the proxy variables say, even when they are unusable: they are not read for loopback."""
    assert route_for(url, environ).proxy is None


@pytest.mark.parametrize(
    ("url", "environ", "proxy"),
    [
        ("http://panic.test", {}, None),
        ("http://panic.test", {"HTTP_PROXY": "http://upper:1"}, "http://upper:1"),
        ("http://panic.test", {"HTTP_PROXY": "http://upper:1", "http_proxy": "http://lower:1"}, "http://lower:1"),
        ("https://panic.test", {"HTTP_PROXY": "http://plain:1"}, None),
        ("https://panic.test", {"HTTPS_PROXY": "http://tls:1", "ALL_PROXY": "http://all:1"}, "http://tls:1"),
        ("https://panic.test", {"ALL_PROXY": "http://all:1"}, "http://all:1"),
        ("http://panic.test", {"HTTP_PROXY": "http://p:1", "NO_PROXY": "panic.test"}, None),
        ("http://api.panic.test", {"HTTP_PROXY": "http://p:1", "no_proxy": ".panic.test"}, None),
        ("http://panic.test:8080", {"HTTP_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ("http://panic.test", {"HTTP_PROXY": "http://p:1", "NO_PROXY": "other.test"}, "http://p:1"),
        ("http://10.0.0.1", {"HTTP_PROXY": "http://p:1"}, "http://p:1"),
    ],
)
def test_a_live_target_honours_the_proxy_variables(url: str, environ: dict[str, str], proxy: str | None) -> None:
    assert proxy == route_for(url, environ).proxy


def test_tls_trusts_ssl_cert_file_and_plain_http_does_not_read_it() -> None:
    route = route_for("https://panic.test", {"SSL_CERT_FILE": certifi.where()})
    assert isinstance(route.verify, ssl.SSLContext)
    assert route_for("http://panic.test", {"SSL_CERT_FILE": "/nonexistent"}).verify is True  # no TLS, no check


@pytest.mark.parametrize(
    ("environ", "start"),
    [
        ({"HTTPS_PROXY": "http://[::1"}, "HTTPS_PROXY is 'http://[::1'; it must be a proxy URL"),
        ({"https_proxy": "proxy.example:3128"}, "https_proxy is 'proxy.example:3128'; it must be a proxy URL"),
        ({"ALL_PROXY": "http://"}, "ALL_PROXY is 'http://'; it must be a proxy URL"),
        (
            {"HTTPS_PROXY": "socks5://me:hunter22@127.0.0.1:1080"},
            "HTTPS_PROXY is 'socks5://***@127.0.0.1:1080': a SOCKS",
        ),
        ({"SSL_CERT_FILE": "/nonexistent.pem"}, "SSL_CERT_FILE is '/nonexistent.pem': no such file"),
        ({"SSL_CERT_FILE": "/"}, "SSL_CERT_FILE is '/': a folder, not a file"),
        ({"SSL_CERT_DIR": "/nonexistent"}, "SSL_CERT_DIR is '/nonexistent': no such folder"),
    ],
)
def test_a_bad_proxy_or_tls_variable_is_a_route_error_naming_it(environ: dict[str, str], start: str) -> None:
    with pytest.raises(RouteError) as raised:
        route_for("https://panic.test", environ)
    assert str(raised.value).startswith(start), str(raised.value)
    assert 1 == len(str(raised.value).splitlines())
    assert "hunter22" not in str(raised.value)


def test_a_sender_on_a_proxied_route_sends_through_the_proxy() -> None:
    with forward_proxy() as (proxy, received):
        route = route_for("http://panic.test", {"HTTP_PROXY": proxy})
        with Sender(
            "http://panic.test", Secret(MOCK_TOKEN), documented_method="GET", limits=Limits(retries=0), route=route
        ) as sender:
            assert 200 == get_callout(sender, 992011).status
    assert ["http://panic.test/panic-api/v2/callouts/992011"] == received


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "a.localhost"])
def test_loopback_names_and_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["panic.test", "10.0.0.1", "::2", "localhost.example", "128.0.0.1", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_the_default_route_is_direct() -> None:
    assert (None, True) == (DIRECT.proxy, DIRECT.verify)


# --- the quota file: replaced whole, read robustly -------------------------------------------------


@pytest.mark.parametrize("content", [None, b"", b"{}", b'{"sent": 3', b"[]", b"\xff\xfe", b"null"])
def test_a_missing_empty_or_torn_quota_file_reads_as_a_fresh_run(tmp_path: Path, content: bytes | None) -> None:
    """An older writer truncated the file, then wrote it: a process killed in between left `{}` or nothing."""
    path = tmp_path / "quota.json"
    if content is not None:
        path.write_bytes(content)
    quota = Quota(path, budget=2)
    assert (0, None) == (quota.sent, quota.halted())
    quota.take()
    assert {"sent": 1, "halt": None} == {k: v for k, v in json.loads(path.read_text()).items() if k != "last"}


states = st.fixed_dictionaries(
    {
        "sent": st.integers(min_value=0, max_value=10**6),
        "last": st.none() | st.floats(min_value=0, max_value=2e9),
        "halt": st.none() | st.tuples(st.sampled_from(["outage", "auth"]), st.text(max_size=40)).map(list),
    }
)


@given(state=states, cut=st.integers(min_value=0))
def test_any_prefix_of_a_state_file_reads_as_fresh_or_as_itself(
    tmp_path_factory: pytest.TempPathFactory, state: dict[str, Any], cut: int
) -> None:
    """Whatever a writer killed mid-write could leave: never an error, never a half-read state."""
    text = json.dumps(state).encode()
    path = tmp_path_factory.mktemp("quota") / "quota.json"
    path.write_bytes(text[: cut % (len(text) + 1)])
    assert read_state(path) in (fresh_state(), state)


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from panic_contract.sending.sender import Quota
quota = Quota(Path(sys.argv[1]))
quota.take()
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # killed between writing and renaming
quota.take()
"""


@pytest.mark.e2e
def test_a_process_killed_while_it_writes_the_quota_leaves_the_last_whole_state(tmp_path: Path) -> None:
    path = tmp_path / "quota.json"
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], check=False, timeout=60)
    assert -signal.SIGKILL == done.returncode
    quota = Quota(path, budget=3)
    assert 1 == quota.sent  # the first take, whole; the second never landed
    quota.take()  # and the lock the killed process held is free
    assert 2 == quota.sent
    assert [path.name, path.name + ".lock"] == sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".tmp"))
