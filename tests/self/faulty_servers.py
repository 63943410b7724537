"""Small misbehaving HTTP servers on 127.0.0.1, one per fault, for checking which verdict a client reaches.

`with faulty_server("hang") as base_url:` starts the server named by the fault and yields its base URL,
`http://127.0.0.1:PORT`; leaving the block stops it. `FAULTS` names every fault; `_FAULTS` below says
what each one does. HTTP-level faults are ASGI wrappers around the clean mock (`create_app`) served by
`panic_contract.mock.serve`; socket-level faults (a server that hangs, closes, resets, or sends bytes no
HTTP client accepts) are a small raw-socket server, `_RawServer`, with one daemon thread per connection.

Nothing here can hang the test process: every thread is a daemon, every socket read has a timeout, and
every server stops within about a second of its block ending, whatever its clients are still doing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from panic_contract.mock import MOCK_TOKEN, create_app, serve
from panic_contract.sending.token import TOKEN_PATH

__all__ = ["FAULTS", "faulty_server", "forward_proxy", "free_port", "redirect_target_requests"]

HOST = "127.0.0.1"
POLL_S = 0.05  # how often a waiting thread or task checks whether its server is stopping
READ_TIMEOUT_S = 2.0  # the longest a raw server waits on one socket read
JOIN_TIMEOUT_S = 2.0  # the longest stopping a raw server waits for one of its threads
TOKEN_HANG_MAX_S = 60.0  # token-endpoint-hangs answers after this long even if never stopped
MAX_REQUEST_HEAD = 64 * 1024  # a raw server reads at most this much of a request's head...
MAX_REQUEST_BODY = 1024 * 1024  # ...and at most this much of its body
FAULTY_REQUESTS = 2  # the *-then-ok faults misbehave for this many requests, then serve cleanly
DRIP_INTERVAL_S = 0.2  # the drip-* faults send one byte this often: every read returns well within any timeout
MIB = 1 << 20
OVERSIZED_BYTES = 512 * MIB  # oversized-body: the Content-Length it announces and sends, in spaces
BOMB_BYTES = 1024 * MIB  # gzip-bomb: what its ~1 MiB on the wire decodes to
BLOCK = b" " * (64 * 1024)  # what the body faults send per write: JSON whitespace, so only the size is wrong
# The documented callout, compact: what the body faults end with (the drip faults never get that far).
CALLOUT_JSON = json.dumps(
    {
        "id": 992011,
        "customerId": 178921,
        "predefinedLocationId": 99001,
        "status": "Responder Dispatched",
        "latitude": -33.9258,
        "longitude": 18.4233,
        "responseTypeId": 2,
        "calloutClassificationId": 3,
        "createdAt": "2024-04-20T14:45:00Z",
    },
    separators=(",", ":"),
).encode()

GATEWAY_PAGE = "<html><head><title>{status}</title></head><body><h1>{status}</h1><hr><p>nginx</p></body></html>\n"


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening: bound to 0, read, closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- socket-level faults: a raw TCP server that hands each connection to a handler ------------------


class _RawServer:
    """Accepts connections on 127.0.0.1 and runs `handle(conn)` for each on its own daemon thread.

    A handler closes its connection when it is done (or leaves it open, to hang); `stop` shuts down and
    closes whatever is still open, which also wakes any handler blocked in a read.
    """

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._handle = handle
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self._listener.bind((HOST, 0))
            self._listener.listen(16)
            self._listener.settimeout(POLL_S)  # accept() wakes this often to see whether to stop
        except OSError:
            self._listener.close()
            raise
        port = self._listener.getsockname()[1]
        self.base_url = f"http://{HOST}:{port}"
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"faulty {self.base_url}", daemon=True)

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(JOIN_TIMEOUT_S)
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            with suppress(OSError):  # already closed by its handler, or the client has gone
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        for conn in connections:
            conn.close()
        self._listener.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(READ_TIMEOUT_S)
            thread = threading.Thread(target=self._serve, args=(conn,), name=f"{self._acceptor.name} conn", daemon=True)
            with self._lock:
                self._connections.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with suppress(OSError):  # a client that resets, times out or goes away is no error of the server's
            self._handle(conn)


@contextmanager
def _raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    server = _RawServer(handle)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def _read_request(conn: socket.socket) -> bytes:
    """Read one request (head to the blank line, then up to Content-Length of body); return its head.

    Reading the body too matters: closing a socket with unread bytes makes the kernel send a reset.
    """
    data = b""
    while b"\r\n\r\n" not in data and len(data) < MAX_REQUEST_HEAD:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    remaining = min(_content_length(head), MAX_REQUEST_BODY) - len(body)
    while remaining > 0:
        chunk = conn.recv(min(remaining, 65536))
        if not chunk:
            break
        remaining -= len(chunk)
    return head


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return 0


def _close_gracefully(conn: socket.socket) -> None:
    """Send FIN, wait (bounded) for the client to close its side, then close: an orderly EOF, no reset."""
    conn.shutdown(socket.SHUT_WR)
    with suppress(OSError):
        while conn.recv(4096):
            pass
    conn.close()


def _respond_raw(head: list[str], body: bytes) -> Callable[[socket.socket], None]:
    """A handler that reads the request, writes `head` lines and `body` as they are, then closes."""
    raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(raw)
        _close_gracefully(conn)

    return handle


@contextmanager
def _refused(token: str) -> Iterator[str]:
    """Nothing listens on the port: the client's connect is refused."""
    yield f"http://{HOST}:{free_port()}"


@contextmanager
def _hang(token: str) -> Iterator[str]:
    """Accepts connections and holds them open, never reading a request or answering, until stopped."""
    with _raw_server(lambda conn: HANG_CONNECTION_HELD.set()) as base_url:
        yield base_url


# Set once hang has accepted a connection it holds: a test can wait for it instead of sleeping.
HANG_CONNECTION_HELD = threading.Event()


@contextmanager
def _close_before_response(token: str) -> Iterator[str]:
    """Reads the request, then closes the connection without writing a byte."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        _close_gracefully(conn)

    with _raw_server(handle) as base_url:
        yield base_url


@contextmanager
def _close_mid_body(token: str) -> Iterator[str]:
    """200 with Content-Length: 400, then only 20 bytes of a JSON body, then closes."""
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", "Content-Length: 400", "Connection: close"]
    with _raw_server(_respond_raw(head, b'{"id": 992011, "cust')) as base_url:
        yield base_url


@contextmanager
def _reset(token: str) -> Iterator[str]:
    """Reads the request, then closes with SO_LINGER (1, 0): the client sees the connection reset."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    with _raw_server(handle) as base_url:
        yield base_url


@contextmanager
def _bad_encoding(token: str) -> Iterator[str]:
    """200 saying Content-Encoding: gzip, with a body (of the stated length) that is not gzip."""
    body = b"this is not gzip at all"
    head = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json",
        "Content-Encoding: gzip",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    with _raw_server(_respond_raw(head, body)) as base_url:
        yield base_url


@contextmanager
def _oversized_headers(token: str) -> Iterator[str]:
    """200 with one 200 KB header value (far past h11's limit on a response head), then a small JSON body."""
    body = b'{"message": "ok"}'
    head = [
        "HTTP/1.1 200 OK",
        "X-Padding: " + "a" * 200 * 1024,
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    with _raw_server(_respond_raw(head, body)) as base_url:
        yield base_url


def _drip(conn: socket.socket, data: bytes) -> None:
    """Send `data` one byte every DRIP_INTERVAL_S; stopping the server ends it (the next send fails)."""
    for index in range(len(data)):
        conn.sendall(data[index : index + 1])
        time.sleep(DRIP_INTERVAL_S)


def _head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _callout_head(length: int, *extra: str) -> bytes:
    return _head("HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {length}", *extra)


@contextmanager
def _drip_body(token: str) -> Iterator[str]:
    """200 with the whole head at once, then the documented callout one byte every 0.2 s (about 50 s)."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(_callout_head(len(CALLOUT_JSON), "Connection: close"))
        _drip(conn, CALLOUT_JSON)
        _close_gracefully(conn)

    with _raw_server(handle) as base_url:
        yield base_url


@contextmanager
def _drip_headers(token: str) -> Iterator[str]:
    """The status line and headers one byte every 0.2 s (about 15 s), then the documented callout."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        _drip(conn, _callout_head(len(CALLOUT_JSON), "Connection: close"))
        conn.sendall(CALLOUT_JSON)
        _close_gracefully(conn)

    with _raw_server(handle) as base_url:
        yield base_url


def _send_blocks(conn: socket.socket, count: int, frame: Callable[[bytes], bytes] = bytes) -> None:
    for _ in range(count):
        conn.sendall(frame(BLOCK))


@contextmanager
def _oversized_body(token: str) -> Iterator[str]:
    """200 with Content-Length of 512 MiB and as much: spaces, then the documented callout (valid JSON, if huge)."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(_callout_head(OVERSIZED_BYTES + len(CALLOUT_JSON), "Connection: close"))
        _send_blocks(conn, OVERSIZED_BYTES // len(BLOCK))
        conn.sendall(CALLOUT_JSON)
        _close_gracefully(conn)

    with _raw_server(handle) as base_url:
        yield base_url


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@contextmanager
def _endless_chunked(token: str) -> Iterator[str]:
    """200 with Transfer-Encoding: chunked and chunks of spaces that never end, until the client goes away."""

    def handle(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(_head("HTTP/1.1 200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked"))
        while True:
            _send_blocks(conn, 16, _chunk)

    with _raw_server(handle) as base_url:
        yield base_url


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip member of about 1 MiB that decodes to 1 GiB of spaces and then the documented callout.

    Built in a fraction of a second: after a full flush deflate starts afresh, so every 1 MiB block of
    spaces compresses to the same bytes, written once and repeated; only the CRC is computed over it all.
    """
    block = b" " * MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate: the gzip frame is ours
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.compress(CALLOUT_JSON) + compressor.flush()
    blocks = BOMB_BYTES // MIB
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    trailer = struct.pack("<II", zlib.crc32(CALLOUT_JSON, crc), (BOMB_BYTES + len(CALLOUT_JSON)) % (1 << 32))
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, no mtime, unix
    return header + first + repeated * (blocks - 1) + end + trailer


@contextmanager
def _gzip_bomb(token: str) -> Iterator[str]:
    """200 with Content-Encoding: gzip: about 1 MiB on the wire, 1 GiB of spaces and a callout decoded."""
    bomb = gzip_bomb()
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", "Content-Encoding: gzip"]
    with _raw_server(_respond_raw([*head, f"Content-Length: {len(bomb)}", "Connection: close"], bomb)) as base_url:
        yield base_url


# --- HTTP-level faults: ASGI apps, most of them wrapping the clean mock -------------------------------


def _json_message(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps({"message": text}), status_code=status, headers=headers, media_type="application/json")


def _gateway_page(status: int, reason: str) -> Response:
    return Response(GATEWAY_PAGE.format(status=f"{status} {reason}"), status_code=status, media_type="text/html")


def _authorization(scope: Scope) -> str | None:
    """The request's first Authorization header, or None when it sent none."""
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            return bytes(value).decode("latin-1")
    return None


def _always(respond: Callable[[], Response]) -> ASGIApp:
    """An app answering every HTTP request with a fresh `respond()`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond()(scope, receive, send)

    return app


def _first_then_clean(respond: Callable[[], Response], token: str) -> ASGIApp:
    """An app answering the first FAULTY_REQUESTS requests with `respond()`, and later ones like the clean mock."""
    clean = create_app(token=token)
    seen = 0  # one event loop drives the app, so no lock is needed

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal seen
        if scope["type"] == "http":
            seen += 1
            if seen <= FAULTY_REQUESTS:
                await respond()(scope, receive, send)
                return
        await clean(scope, receive, send)

    return app


@contextmanager
def _clean(token: str) -> Iterator[str]:
    """The clean mock, accepting `token`."""
    with serve(create_app(token=token)) as base_url:
        yield base_url


@contextmanager
def _gateway_502(token: str) -> Iterator[str]:
    """An nginx-style HTML 502 Bad Gateway page for every request, the token endpoint's included."""
    with serve(_always(lambda: _gateway_page(502, "Bad Gateway"))) as base_url:
        yield base_url


@contextmanager
def _gateway_503_then_ok(token: str) -> Iterator[str]:
    """An HTML 503 Service Unavailable page for the first 2 requests, then the clean mock."""
    with serve(_first_then_clean(lambda: _gateway_page(503, "Service Unavailable"), token)) as base_url:
        yield base_url


@contextmanager
def _rate_limited_forever(token: str) -> Iterator[str]:
    """429 with Retry-After: 0 and a JSON message for every request."""

    def respond() -> Response:
        return _json_message(429, "Too many requests: retry after 0 seconds", {"Retry-After": "0"})

    with serve(_always(respond)) as base_url:
        yield base_url


@contextmanager
def _rate_limited_then_ok(token: str) -> Iterator[str]:
    """429 with Retry-After: 1 and a JSON message for the first 2 requests, then the clean mock."""

    def respond() -> Response:
        return _json_message(429, "Too many requests: retry after 1 second", {"Retry-After": "1"})

    with serve(_first_then_clean(respond, token)) as base_url:
        yield base_url


@contextmanager
def _token_rejected(token: str) -> Iterator[str]:
    """401 with JSON {"message": "Unauthorized"} for every request, the token endpoint's included."""
    with serve(_always(lambda: _json_message(401, "Unauthorized"))) as base_url:
        yield base_url


# Redirecting server's base URL -> the Authorization header of each request its other host received.
_REDIRECT_TARGET_AUTHORIZATION: dict[str, list[str | None]] = {}


def redirect_target_requests(base_url: str) -> list[str | None]:
    """The Authorization header (None when absent) of each request that redirect-other-host's other host got.

    `base_url` is the URL `faulty_server("redirect-other-host")` yielded; it stays readable after the block.
    """
    try:
        return list(_REDIRECT_TARGET_AUTHORIZATION[base_url])
    except KeyError:
        raise ValueError(f"{base_url} is not the URL of a redirect-other-host server") from None


@contextmanager
def _redirect_other_host(token: str) -> Iterator[str]:
    """302 to the same path and query on http://localhost:OTHER, a second clean mock that records what it gets.

    Another host (localhost, not 127.0.0.1), so a careful client drops the Authorization header;
    `redirect_target_requests(base_url)` tells what the other host received.
    """
    received: list[str | None] = []
    clean = create_app(token=token)

    async def other_host(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            received.append(_authorization(scope))
        await clean(scope, receive, send)

    with serve(other_host) as other_url:
        other_port = urlsplit(other_url).port

        async def redirect(scope: Scope, receive: Receive, send: Send) -> None:
            path = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            query = bytes(scope.get("query_string", b"")).decode("latin-1")
            location = f"http://localhost:{other_port}{path}" + (f"?{query}" if query else "")
            await Response(status_code=302, headers={"Location": location})(scope, receive, send)

        with serve(redirect) as base_url:
            _REDIRECT_TARGET_AUTHORIZATION[base_url] = received
            yield base_url


def _echoed_body(status: int, body: bytes, authorization: str | None) -> bytes:
    """The JSON body with the Authorization header worked in: as `echo` in a 200, in `message` in a 401 or 404."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body
    if status == 200:
        data["echo"] = authorization
    elif status in (401, 404) and isinstance(data.get("message"), str):
        sent = "no Authorization header" if authorization is None else authorization
        data["message"] += f" (you sent: {sent})"
    else:
        return body
    return json.dumps(data).encode()


Headers = list[tuple[bytes, bytes]]
# What a test server makes of a response of the clean mock: its status, headers (Content-Length left out) and
# whole body in, the ones to send out (Content-Length is set for the body sent).
Rewrite = Callable[[int, Headers, bytes], tuple[int, Headers, bytes]]


async def send_rewritten(app: ASGIApp, scope: Scope, receive: Receive, send: Send, rewrite: Rewrite) -> None:
    """Run `app` for one request, holding its response until its body is whole, and send `rewrite` of it."""
    start: Message = {}
    chunks: list[bytes] = []

    async def buffered_send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        headers = [(name, value) for name, value in start["headers"] if name.lower() != b"content-length"]
        status, headers, body = rewrite(start["status"], headers, b"".join(chunks))
        await send({**start, "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    await app(scope, receive, buffered_send)


def _echo_authorization_app(token: str) -> ASGIApp:
    """The clean mock, with every response repeating the request's Authorization header back."""
    clean = create_app(token=token)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await clean(scope, receive, send)
            return
        authorization = _authorization(scope)

        def echoed(status: int, headers: Headers, body: bytes) -> tuple[int, Headers, bytes]:
            content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
            if b"json" in content_type.lower():
                body = _echoed_body(status, body, authorization)
            return status, [*headers, (b"x-echo-authorization", (authorization or "").encode("latin-1"))], body

        await send_rewritten(clean, scope, receive, send, echoed)

    return app


@contextmanager
def _echo_authorization(token: str) -> Iterator[str]:
    """The clean mock, repeating the request's Authorization header back in every response.

    Every response carries `X-Echo-Authorization: <the header>` (empty when none was sent); a 200 JSON
    object gains `"echo": "<the header>"` (null when none), and a 401 or 404 JSON `message` ends with
    ` (you sent: <the header>)`. For checking that a client never repeats a token it reads back.
    """
    with serve(_echo_authorization_app(token)) as base_url:
        yield base_url


# Set while token-endpoint-hangs holds a token request: a test can wait for it instead of sleeping.
TOKEN_REQUEST_HELD = threading.Event()


@contextmanager
def _token_endpoint_hangs(token: str) -> Iterator[str]:
    """POST to the token endpoint never answers (until the server stops, or 60 s); all else is the clean mock."""
    stopping = threading.Event()
    clean = create_app(token=token)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == TOKEN_PATH and scope["method"] == "POST":
            TOKEN_REQUEST_HELD.set()
            deadline = time.monotonic() + TOKEN_HANG_MAX_S
            while not stopping.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
            await _json_message(504, "Token endpoint timed out")(scope, receive, send)
            return
        await clean(scope, receive, send)

    with serve(app) as base_url:
        try:
            yield base_url
        finally:
            stopping.set()  # before serve() stops uvicorn, which waits for requests in flight


# Fault name -> a context manager factory taking the token the server accepts and yielding its base URL.
_FAULTS: dict[str, Callable[[str], AbstractContextManager[str]]] = {
    "refused": _refused,
    "hang": _hang,
    "close-before-response": _close_before_response,
    "close-mid-body": _close_mid_body,
    "reset": _reset,
    "bad-encoding": _bad_encoding,
    "oversized-headers": _oversized_headers,
    "gateway-502": _gateway_502,
    "gateway-503-then-ok": _gateway_503_then_ok,
    "rate-limited-forever": _rate_limited_forever,
    "rate-limited-then-ok": _rate_limited_then_ok,
    "token-rejected": _token_rejected,
    "redirect-other-host": _redirect_other_host,
    "echo-authorization": _echo_authorization,
    "token-endpoint-hangs": _token_endpoint_hangs,
    "drip-body": _drip_body,
    "drip-headers": _drip_headers,
    "oversized-body": _oversized_body,
    "endless-chunked": _endless_chunked,
    "gzip-bomb": _gzip_bomb,
    "clean": _clean,
}

FAULTS: tuple[str, ...] = tuple(_FAULTS)


@contextmanager
def faulty_server(fault: str, *, token: str = MOCK_TOKEN) -> Iterator[str]:
    """Start the server for `fault` on 127.0.0.1; yields its base URL, `http://127.0.0.1:PORT`.

    `token` is the bearer token the clean-mock part of the server accepts. Raises ValueError for an
    unknown fault name.
    """
    try:
        factory = _FAULTS[fault]
    except KeyError:
        raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}") from None
    with factory(token) as base_url:
        yield base_url


# --- not a fault: a forward proxy ------------------------------------------------------------------


@contextmanager
def forward_proxy(*, token: str = MOCK_TOKEN) -> Iterator[tuple[str, list[str]]]:
    """An HTTP forward proxy on 127.0.0.1 that answers every request itself, as the clean mock would.

    Yields its URL (for HTTP_PROXY) and the list of request targets it received, in the absolute form a
    client sends a proxy (`http://panic.test/panic-api/...`): a request there went through the proxy.
    """
    received: list[str] = []
    clean = create_app(token=token)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            received.append(target)
            if "://" in target:  # absolute form: the proxy serves the path itself
                path = "/" + target.split("://", 1)[1].partition("/")[2]
                scope = {**scope, "path": path.partition("?")[0], "raw_path": path.partition("?")[0].encode()}
        await clean(scope, receive, send)

    with serve(app) as base_url:
        yield base_url, received
