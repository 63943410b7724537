"""The HTTP client: credentials, retries, Retry-After, outages, and a token that never shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import respx

from panic_contract.client import (
    INVALID_TOKEN,
    AuthRejected,
    CredentialError,
    OutageError,
    PanicClient,
    TokenExchangeError,
    resolve_token,
    retry_after_seconds,
)
from panic_contract.contract import default_contract
from panic_contract.findings import Kind, Signal, inspect
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

SENTINEL_TOKEN = "sentinel-token-7f3a"
SENTINEL_SECRET = "sentinel-secret-c41d"
BASE_URL = "https://panic.test"  # only respx answers here: nothing leaves the process
CALLOUT_PATH = "/panic-api/v2/callouts/992011"
TOKEN_PATH = "/panic-api/v2/oauth/token"
CLIENT_CREDENTIALS = {"PANIC_API_CLIENT_ID": "client-1", "PANIC_API_CLIENT_SECRET": SENTINEL_SECRET}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def waits() -> list[float]:
    """What the client would have slept: recorded instead, so no test sleeps."""
    return []


@pytest.fixture
def client(waits: list[float]) -> Iterator[PanicClient]:
    with PanicClient(BASE_URL, SENTINEL_TOKEN, rate_limit=None, backoff=0, sleep=waits.append) as made:
        yield made


def test_token_comes_from_panic_api_token_without_a_request(api: respx.MockRouter) -> None:
    assert SENTINEL_TOKEN == resolve_token(BASE_URL, {"PANIC_API_TOKEN": SENTINEL_TOKEN})
    assert 0 == api.calls.call_count


@pytest.mark.parametrize("spelling", ["access_token", "accessToken"])
def test_client_credentials_are_exchanged_with_either_response_spelling(api: respx.MockRouter, spelling: str) -> None:
    route = api.post(TOKEN_PATH).respond(200, json={spelling: "exchanged-token", "expires_in": 3600})
    assert "exchanged-token" == resolve_token(BASE_URL, CLIENT_CREDENTIALS)
    sent = route.calls.last.request
    assert b'{"clientId":"client-1","clientSecret":"sentinel-secret-c41d"}' == sent.content.replace(b" ", b"")
    assert "authorization" not in sent.headers


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
    ],
)
def test_missing_credentials_name_the_variables_to_set(
    api: respx.MockRouter, environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(CredentialError) as raised:
        resolve_token(BASE_URL, environ)
    assert expected == str(raised.value)
    assert 0 == api.calls.call_count


@pytest.mark.parametrize("status", [400, 401])
def test_token_endpoint_rejection_says_to_check_the_client_credentials(api: respx.MockRouter, status: int) -> None:
    api.post(TOKEN_PATH).respond(status, json={"message": "bad client"})
    with pytest.raises(AuthRejected) as raised:
        resolve_token(BASE_URL, CLIENT_CREDENTIALS)
    assert (
        f"panic.test rejected the client credentials (HTTP {status} from {TOKEN_PATH}): "
        "check PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET"
    ) == str(raised.value)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(500, json={"message": "boom"}), "token exchange at panic.test failed: HTTP 500 from"),
        (httpx.Response(200, text="<html>"), "token exchange at panic.test failed: HTTP 200 without an access_token"),
        (httpx.Response(200, json={"token": "x"}), "token exchange at panic.test failed: HTTP 200 without an"),
        (httpx.Response(200, json={"accessToken": 7}), "token exchange at panic.test failed: HTTP 200 without an"),
    ],
    ids=["500", "not-json", "no-token-field", "token-not-a-string"],
)
def test_token_endpoint_failure_is_one_line(api: respx.MockRouter, response: httpx.Response, expected: str) -> None:
    api.post(TOKEN_PATH).mock(return_value=response)
    with pytest.raises(TokenExchangeError) as raised:
        resolve_token(BASE_URL, CLIENT_CREDENTIALS)
    message = str(raised.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert SENTINEL_SECRET not in message


def test_429_with_retry_after_is_waited_out_and_retried(
    api: respx.MockRouter, client: PanicClient, waits: list[float]
) -> None:
    api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=CALLOUT)]
    )
    exchange = client.get_callout(992011)
    assert 200 == exchange.status
    assert 2 == client.requests_sent
    assert [3.0] == waits


def test_retry_after_is_capped_by_max_wait(api: respx.MockRouter, waits: list[float]) -> None:
    api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "86400"}), httpx.Response(200, json=CALLOUT)]
    )
    with PanicClient(BASE_URL, SENTINEL_TOKEN, rate_limit=None, max_wait=30, sleep=waits.append) as client:
        client.get_callout(992011)
    assert [30.0] == waits


def test_429_that_never_ends_is_returned_as_a_rate_limited_signal(api: respx.MockRouter, client: PanicClient) -> None:
    api.get(CALLOUT_PATH).respond(429, headers={"Retry-After": "0"})
    exchange = client.get_callout(992011)
    assert 429 == exchange.status
    assert 4 == client.requests_sent  # the first try and max_retries=3 more
    assert Signal.RATE_LIMITED == inspect(exchange, default_contract()).signal


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2015, 10, 21, 7, 27, 55, tzinfo=UTC)
    assert 120.0 == retry_after_seconds("120", now)
    assert 5.0 == retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now)
    assert 0.0 == retry_after_seconds("Wed, 21 Oct 2015 07:00:00 GMT", now)
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_500_is_returned_as_it_came_without_a_retry(api: respx.MockRouter, client: PanicClient) -> None:
    """A 500 is the target's answer, not a transient fault: the contract judges it."""
    api.get(CALLOUT_PATH).respond(500, json={"message": "boom"})
    exchange = client.get_callout(992011)
    assert 500 == exchange.status
    assert 1 == client.requests_sent
    assert [Kind.SERVER_ERROR] == [f.kind for f in inspect(exchange, default_contract()).findings]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_error_is_retried_with_exponential_backoff(api: respx.MockRouter, status: int) -> None:
    waits: list[float] = []
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.Response(status)] * 3 + [httpx.Response(200, json=CALLOUT)])
    with PanicClient(BASE_URL, SENTINEL_TOKEN, rate_limit=None, backoff=0.5, sleep=waits.append) as client:
        exchange = client.get_callout(992011)
    assert 200 == exchange.status
    assert [0.5, 1.0, 2.0] == waits


def test_gateway_error_still_there_after_retries_is_returned(api: respx.MockRouter, client: PanicClient) -> None:
    api.get(CALLOUT_PATH).respond(503)
    exchange = client.get_callout(992011)
    assert 503 == exchange.status
    assert 4 == client.requests_sent
    assert Signal.GATEWAY_ERROR == inspect(exchange, default_contract()).signal


def test_timeouts_are_retried_then_raise_an_outage_naming_the_host(api: respx.MockRouter, client: PanicClient) -> None:
    api.get(CALLOUT_PATH).mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(OutageError) as raised:
        client.get_callout(992011)
    assert (
        f"panic.test did not answer GET {CALLOUT_PATH}: ReadTimeout (timed out) after 4 attempt(s); "
        "check the target is up and --base-url is right"
    ) == str(raised.value)
    assert 4 == client.requests_sent


def test_a_connect_error_that_heals_is_retried(api: respx.MockRouter, client: PanicClient) -> None:
    api.get(CALLOUT_PATH).mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=CALLOUT)])
    assert 200 == client.get_callout(992011).status
    assert 2 == client.requests_sent


def test_malformed_json_is_returned_as_an_exchange_for_inspect_to_flag(
    api: respx.MockRouter, client: PanicClient
) -> None:
    api.get(CALLOUT_PATH).respond(200, content=b'{"id": 992011,', headers={"Content-Type": "application/json"})
    exchange = client.get_callout(992011)
    assert b'{"id": 992011,' == exchange.body
    assert "application/json" == exchange.headers["content-type"]
    assert [Kind.MALFORMED_BODY] == [f.kind for f in inspect(exchange, default_contract()).findings]


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [("valid", f"Bearer {SENTINEL_TOKEN}"), ("missing", None), ("invalid", f"Bearer {INVALID_TOKEN}")],
)
def test_credentials_choose_the_authorization_header(
    api: respx.MockRouter, client: PanicClient, credentials: str, expected: str | None
) -> None:
    route = api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    exchange = client.get_callout(992011, credentials=credentials)  # type: ignore[arg-type]
    assert expected == route.calls.last.request.headers.get("authorization")
    assert credentials == exchange.credentials
    assert ("GET", CALLOUT_PATH) == (exchange.method, exchange.path)


def test_an_authenticated_request_without_a_token_is_a_credential_error(api: respx.MockRouter) -> None:
    with PanicClient(BASE_URL, None) as client, pytest.raises(CredentialError, match="set PANIC_API_TOKEN"):
        client.get_callout(992011)
    assert 0 == api.calls.call_count


def test_rate_limit_spaces_requests(api: respx.MockRouter, waits: list[float]) -> None:
    api.get(CALLOUT_PATH).respond(200, json=CALLOUT)
    with PanicClient(BASE_URL, SENTINEL_TOKEN, rate_limit=0.001, sleep=waits.append) as client:
        client.get_callout(992011)
        client.get_callout(992011)
    assert 1 == len(waits)
    assert 999 < waits[0] <= 1000  # one request per 1000 s: the second waits out nearly all of it


def test_sentinel_token_never_shows_in_repr_errors_or_logs(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    api.post(TOKEN_PATH).respond(200, json={"access_token": SENTINEL_TOKEN})
    api.get(CALLOUT_PATH).mock(
        side_effect=[httpx.Response(200, json=CALLOUT), httpx.Response(401, json={"message": "no"})]
        + [httpx.ConnectTimeout("timed out")] * 2
    )
    token = resolve_token(BASE_URL, CLIENT_CREDENTIALS)
    seen: list[str] = []
    with PanicClient(BASE_URL, token, rate_limit=None, max_retries=1, backoff=0, sleep=lambda _: None) as client:
        seen += [repr(client), str(client), repr(client.__dict__)]
        client.get_callout(992011)
        seen.append(repr(client.get_callout(992011)))
        with pytest.raises(OutageError) as raised:
            client.get_callout(992011)
        seen += [str(raised.value), repr(raised.value)]
    captured = capsys.readouterr()
    seen += [caplog.text, captured.out, captured.err]
    assert "PanicClient(base_url='https://panic.test', token=***)" == seen[0]
    assert caplog.records  # httpx did log the requests: the check below looked at real lines
    for text in seen:
        assert SENTINEL_TOKEN not in text
        assert SENTINEL_SECRET not in text
