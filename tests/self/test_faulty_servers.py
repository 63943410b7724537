"""The faulty servers misbehave as documented, seen through plain httpx (no project client involved)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from panic_contract.mock import DOCUMENTED_ID, MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_TOKEN
from tests.self.faulty_servers import FAULTS, faulty_server, free_port, redirect_target_requests

CALLOUT = f"/panic-api/v2/callouts/{DOCUMENTED_ID}"
TOKEN_ENDPOINT = "/panic-api/v2/oauth/token"
AUTH = {"Authorization": f"Bearer {MOCK_TOKEN}"}
CREDENTIALS = {"clientId": MOCK_CLIENT_ID, "clientSecret": MOCK_CLIENT_SECRET}


def client(timeout: float = 2, *, follow_redirects: bool = False) -> httpx.Client:
    return httpx.Client(timeout=timeout, follow_redirects=follow_redirects)


def check_refused(base_url: str) -> None:
    with client() as http, pytest.raises(httpx.ConnectError):
        http.get(base_url + CALLOUT, headers=AUTH)


def check_hang(base_url: str) -> None:
    with client(timeout=0.5) as http, pytest.raises(httpx.ReadTimeout):
        http.get(base_url + CALLOUT, headers=AUTH)


def check_close_before_response(base_url: str) -> None:
    with client() as http:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            http.get(base_url + CALLOUT, headers=AUTH)
        with pytest.raises(httpx.RemoteProtocolError):  # a POST with a body too: read, then an orderly close
            http.post(base_url + TOKEN_ENDPOINT, json=CREDENTIALS)


def check_close_mid_body(base_url: str) -> None:
    with client() as http, pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        http.get(base_url + CALLOUT, headers=AUTH)


def check_reset(base_url: str) -> None:
    with client() as http, pytest.raises(httpx.ReadError):
        http.get(base_url + CALLOUT, headers=AUTH)


def check_bad_encoding(base_url: str) -> None:
    with client() as http, pytest.raises(httpx.DecodingError):
        http.get(base_url + CALLOUT, headers=AUTH)


def check_oversized_headers(base_url: str) -> None:
    with client() as http, pytest.raises(httpx.RemoteProtocolError):
        http.get(base_url + CALLOUT, headers=AUTH)


def check_gateway_502(base_url: str) -> None:
    with client() as http:
        for response in (http.get(base_url + CALLOUT, headers=AUTH), http.post(base_url + TOKEN_ENDPOINT, json={})):
            assert 502 == response.status_code
            assert response.headers["content-type"].startswith("text/html")
            assert "502 Bad Gateway" in response.text


def check_gateway_503_then_ok(base_url: str) -> None:
    with client() as http:
        statuses = [http.get(base_url + CALLOUT, headers=AUTH) for _ in range(3)]
    assert [503, 503, 200] == [r.status_code for r in statuses]
    assert statuses[0].headers["content-type"].startswith("text/html")
    assert DOCUMENTED_ID == statuses[2].json()["id"]


def check_rate_limited_forever(base_url: str) -> None:
    with client() as http:
        for response in (http.get(base_url + CALLOUT, headers=AUTH) for _ in range(3)):
            assert 429 == response.status_code
            assert "0" == response.headers["retry-after"]
            assert isinstance(response.json()["message"], str)


def check_rate_limited_then_ok(base_url: str) -> None:
    with client() as http:
        responses = [http.get(base_url + CALLOUT, headers=AUTH) for _ in range(3)]
    assert [429, 429, 200] == [r.status_code for r in responses]
    assert "1" == responses[0].headers["retry-after"]
    assert isinstance(responses[0].json()["message"], str)


def check_token_rejected(base_url: str) -> None:
    with client() as http:
        for response in (
            http.get(base_url + CALLOUT, headers=AUTH),
            http.post(base_url + TOKEN_ENDPOINT, json=CREDENTIALS),
        ):
            assert 401 == response.status_code
            assert {"message": "Unauthorized"} == response.json()


def check_redirect_other_host(base_url: str) -> None:
    with client() as http:
        response = http.get(base_url + CALLOUT + "?x=1", headers=AUTH)
    assert 302 == response.status_code
    location = urlsplit(response.headers["location"])
    assert "localhost" == location.hostname
    assert urlsplit(base_url).port != location.port
    assert (CALLOUT, "x=1") == (location.path, location.query)
    assert [] == redirect_target_requests(base_url)
    # httpx drops the Authorization header when it follows a redirect to another host.
    with client(follow_redirects=True) as http:
        response = http.get(base_url + CALLOUT, headers=AUTH)
    assert 401 == response.status_code
    assert [None] == redirect_target_requests(base_url)
    with client() as http:  # the other host is the clean mock
        response = http.get(response.url, headers=AUTH)
    assert 200 == response.status_code
    assert [None, AUTH["Authorization"]] == redirect_target_requests(base_url)


def check_echo_authorization(base_url: str) -> None:
    sent = AUTH["Authorization"]
    with client() as http:
        ok = http.get(base_url + CALLOUT, headers=AUTH)
        missing = http.get(base_url + "/panic-api/v2/callouts/1", headers=AUTH)
        refused = http.get(base_url + CALLOUT, headers={"Authorization": "Bearer wrong"})
        bare = http.get(base_url + CALLOUT)
    assert (200, sent, sent, DOCUMENTED_ID) == (
        ok.status_code,
        ok.headers["x-echo-authorization"],
        ok.json()["echo"],
        ok.json()["id"],
    )
    assert 404 == missing.status_code
    assert missing.json()["message"].endswith(f" (you sent: {sent})")
    assert 401 == refused.status_code
    assert refused.json()["message"].endswith(" (you sent: Bearer wrong)")
    assert "Bearer wrong" == refused.headers["x-echo-authorization"]
    assert (401, "") == (bare.status_code, bare.headers["x-echo-authorization"])
    assert str(len(ok.content)) == ok.headers["content-length"]


def check_token_endpoint_hangs(base_url: str) -> None:
    with client(timeout=0.5) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post(base_url + TOKEN_ENDPOINT, json=CREDENTIALS)
        assert 200 == http.get(base_url + CALLOUT, headers=AUTH).status_code


def check_clean(base_url: str) -> None:
    with client() as http:
        token = http.post(base_url + TOKEN_ENDPOINT, json=CREDENTIALS).json()["access_token"]
        response = http.get(base_url + CALLOUT, headers={"Authorization": f"Bearer {token}"})
    assert 200 == response.status_code
    assert DOCUMENTED_ID == response.json()["id"]


CHECKS: dict[str, Callable[[str], None]] = {
    "refused": check_refused,
    "hang": check_hang,
    "close-before-response": check_close_before_response,
    "close-mid-body": check_close_mid_body,
    "reset": check_reset,
    "bad-encoding": check_bad_encoding,
    "oversized-headers": check_oversized_headers,
    "gateway-502": check_gateway_502,
    "gateway-503-then-ok": check_gateway_503_then_ok,
    "rate-limited-forever": check_rate_limited_forever,
    "rate-limited-then-ok": check_rate_limited_then_ok,
    "token-rejected": check_token_rejected,
    "redirect-other-host": check_redirect_other_host,
    "echo-authorization": check_echo_authorization,
    "token-endpoint-hangs": check_token_endpoint_hangs,
    "clean": check_clean,
}


def test_every_fault_has_a_check() -> None:
    assert set(FAULTS) == set(CHECKS)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_behaves_as_documented_and_stops_promptly(fault: str) -> None:
    with faulty_server(fault) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        CHECKS[fault](base_url)
        started_stopping = time.monotonic()
    assert time.monotonic() - started_stopping < 3


def test_hang_holds_connections_until_stopped_then_stops_promptly() -> None:
    """A client still waiting when the block ends does not keep the server (or the test) alive."""
    errors: list[httpx.HTTPError] = []

    def wait_for_callout(base_url: str) -> None:
        with client(timeout=10) as http:
            try:
                http.get(base_url + CALLOUT, headers=AUTH)
            except httpx.HTTPError as exc:
                errors.append(exc)

    with faulty_server("hang") as base_url:
        waiter = threading.Thread(target=wait_for_callout, args=(base_url,), daemon=True)
        waiter.start()
        time.sleep(0.2)
        assert waiter.is_alive()  # held, not answered
        started_stopping = time.monotonic()
    assert time.monotonic() - started_stopping < 3
    waiter.join(3)
    assert [httpx.RemoteProtocolError] == [type(e) for e in errors]  # stopping closed the held connection
    with client() as http, pytest.raises(httpx.ConnectError):  # and nothing listens any more
        http.get(base_url + CALLOUT)


def test_token_endpoint_hangs_stops_while_a_request_waits() -> None:
    """Stopping releases a token request still waiting, so the server stops promptly."""
    answers: list[int] = []

    def wait_for_token(base_url: str) -> None:
        with client(timeout=10) as http:
            answers.append(http.post(base_url + TOKEN_ENDPOINT, json=CREDENTIALS).status_code)

    with faulty_server("token-endpoint-hangs") as base_url:
        waiter = threading.Thread(target=wait_for_token, args=(base_url,), daemon=True)
        waiter.start()
        time.sleep(0.2)
        started_stopping = time.monotonic()
    assert time.monotonic() - started_stopping < 3
    waiter.join(5)
    assert [504] == answers


def test_free_port_has_nothing_listening() -> None:
    with client() as http, pytest.raises(httpx.ConnectError):
        http.get(f"http://127.0.0.1:{free_port()}/")


def test_unknown_fault_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown fault 'nope'"), faulty_server("nope"):
        pass


def test_redirect_target_requests_refuses_an_unknown_url() -> None:
    with pytest.raises(ValueError, match="not the URL of a redirect-other-host server"):
        redirect_target_requests("http://127.0.0.1:1")
