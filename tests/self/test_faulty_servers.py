"""The faulty servers misbehave as documented, seen through plain httpx (no project client involved)."""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from panic_contract.mock import DOCUMENTED_ID, MOCK_CLIENT_ID, MOCK_CLIENT_SECRET, MOCK_TOKEN
from tests.self.faulty_servers import (
    CALLOUT_JSON,
    DRIP_INTERVAL_S,
    FAULTS,
    HANG_CONNECTION_HELD,
    MIB,
    OVERSIZED_BYTES,
    TOKEN_REQUEST_HELD,
    faulty_server,
    forward_proxy,
    free_port,
    gzip_bomb,
    redirect_target_requests,
)

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


def check_drip_body(base_url: str) -> None:
    """Each read returns within 0.5 s, so a per-read timeout never fires; the body takes ~50 s in all."""
    with client(timeout=0.5) as http, http.stream("GET", base_url + CALLOUT, headers=AUTH) as response:
        assert (200, str(len(CALLOUT_JSON))) == (response.status_code, response.headers["content-length"])
        started, received = time.monotonic(), b""
        for chunk in response.iter_raw():
            received += chunk
            if len(received) == 5:
                break
    assert CALLOUT_JSON.startswith(received)
    assert time.monotonic() - started >= 4 * DRIP_INTERVAL_S * 0.9  # one byte at a time


def check_drip_headers(base_url: str) -> None:
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port)) as sock:
        sock.sendall(f"GET {CALLOUT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.settimeout(2)
        started, head = time.monotonic(), b""
        while len(head) < 5:
            head += sock.recv(100)
    assert b"HTTP/"[: len(head)] == head[:5]
    assert time.monotonic() - started >= 4 * DRIP_INTERVAL_S * 0.9


def _decoded_size(base_url: str, limit: int) -> tuple[httpx.Response, int, int]:
    """Stream a response until `limit` decoded bytes; the response, the wire bytes and the decoded bytes read."""
    with client() as http, http.stream("GET", base_url + CALLOUT, headers=AUTH) as response:
        decoded = 0
        for chunk in response.iter_bytes():
            decoded += len(chunk)
            if decoded >= limit:
                break
        return response, response.num_bytes_downloaded, decoded


def check_oversized_body(base_url: str) -> None:
    response, _, decoded = _decoded_size(base_url, 64 * MIB)
    assert OVERSIZED_BYTES + len(CALLOUT_JSON) == int(response.headers["content-length"])
    assert decoded >= 64 * MIB


def check_endless_chunked(base_url: str) -> None:
    response, _, decoded = _decoded_size(base_url, 64 * MIB)
    assert "chunked" == response.headers["transfer-encoding"]
    assert decoded >= 64 * MIB


def check_gzip_bomb(base_url: str) -> None:
    response, wire, decoded = _decoded_size(base_url, 64 * MIB)
    assert "gzip" == response.headers["content-encoding"]
    assert int(response.headers["content-length"]) < 2 * MIB  # small on the wire...
    assert decoded >= 64 * MIB > 16 * wire  # ...huge decoded
    # Valid gzip all the way (its CRC too): 1 GiB of JSON whitespace, then the documented callout.
    bomb, data, size, tail = zlib.decompressobj(wbits=31), gzip_bomb(), 0, b""
    while data and not bomb.eof:
        out = bomb.decompress(data, 16 * MIB)  # bounded: this test must not hold the gigabyte either
        data = bomb.unconsumed_tail
        size, tail = size + len(out), (tail + out)[-len(CALLOUT_JSON) :]
    assert (True, 1024 * MIB + len(CALLOUT_JSON), CALLOUT_JSON) == (bomb.eof, size, tail)


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
    "drip-body": check_drip_body,
    "drip-headers": check_drip_headers,
    "oversized-body": check_oversized_body,
    "endless-chunked": check_endless_chunked,
    "gzip-bomb": check_gzip_bomb,
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

    HANG_CONNECTION_HELD.clear()
    with faulty_server("hang") as base_url:
        waiter = threading.Thread(target=wait_for_callout, args=(base_url,), daemon=True)
        waiter.start()
        assert HANG_CONNECTION_HELD.wait(10)  # the connection is held (a fixed sleep raced a busy machine)
        time.sleep(0.2)  # and the request on it sent
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

    TOKEN_REQUEST_HELD.clear()
    with faulty_server("token-endpoint-hangs") as base_url:
        waiter = threading.Thread(target=wait_for_token, args=(base_url,), daemon=True)
        waiter.start()
        assert TOKEN_REQUEST_HELD.wait(10)  # the request is held (a fixed sleep raced a busy machine)
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


def test_forward_proxy_answers_an_absolute_form_request_and_records_it() -> None:
    with forward_proxy() as (proxy, received), httpx.Client(proxy=proxy) as http:
        response = http.get("http://panic.test" + CALLOUT, headers=AUTH)
    assert (200, DOCUMENTED_ID) == (response.status_code, response.json()["id"])
    assert ["http://panic.test" + CALLOUT] == received
