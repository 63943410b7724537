"""The embedded mock: a starlette app that answers like a faithful staging server, with drift switches.

Clean, it serves the 200 callouts recorded in `contracts/` and answers errors the way the provider
documents them (a JSON object with a `message`). Each switch in `DRIFTS` breaks it in one known way,
so the project's own tests can prove the suite names every kind of drift and every target fault.
`serve` runs it on a loopback port. By hand: `panic-contract mock --port 8000` (`commands/mock.py`),
or `python -m panic_contract.mock --port 8000`.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from panic_contract.core.contract import JSON_MEDIA_TYPE, Contract, default_contract, parse_callout_id
from panic_contract.core.diagnoses import Pattern
from panic_contract.core.findings import Kind
from panic_contract.core.fixtures import CONTRACTS_DIR, Fixture, iter_fixtures, served_callout
from panic_contract.errors import FixtureError
from panic_contract.sending.token import TOKEN_PATH

MOCK_CLIENT_ID = "mock-client"
MOCK_CLIENT_SECRET = "mock-secret"  # noqa: S105 - not a secret: the mock's own client credentials
MOCK_TOKEN = "mock-token"  # noqa: S105 - not a secret: the token the mock accepts unless told otherwise
HOST = "127.0.0.1"
DOCUMENTED_ID = 992011  # the reference page's example callout
RATE_LIMITED_REQUESTS = 2
STARTUP_TIMEOUT_S = 10.0


class Extra(StrEnum):
    """The mock's switches that are no finding kind: another shape of the callout, or a fault of the target."""

    WRAPPED = "wrapped"  # the newer docs' {"message", "callout": {..., "incidentInformation"}} shape
    AUTH_REJECTED = "auth-rejected"  # target fault: every token refused with 401, like an expired one
    RATE_LIMITED = "rate-limited"  # target fault: the first requests get 429 with Retry-After
    GATEWAY_502 = "gateway-502"  # target fault: an HTML 502 page from a proxy in front of a dead server


# The one list of switches `--drift` / `--mock-drift` take: every finding kind (the mock drifts into it, as
# `_BODY_DRIFTS` and `_MockServer` write), every diagnosis (a change of that shape), then the extras.
# tests/self/test_mock.py runs each and checks the suite names the kind, or the diagnosis, it is named after.
DRIFTS: tuple[str, ...] = (*Kind, *Pattern, *Extra)


_INCIDENT_FIELDS = ("responseTypeId", "calloutClassificationId", "predefinedLocationId", "latitude", "longitude")


def _wrap(body: dict[str, Any]) -> dict[str, Any]:
    """The newer docs' shape: incident, location and dispatch details grouped under incidentInformation."""
    incident = {name: body.pop(name) for name in _INCIDENT_FIELDS if name in body}
    return {"message": "Callout retrieved", "callout": {**body, "incidentInformation": incident}}


def _renamed(body: dict[str, Any]) -> dict[str, Any]:
    """customerId renamed to customerID, its value kept, in its place."""
    return {("customerID" if name == "customerId" else name): value for name, value in body.items()}


def _moved(body: dict[str, Any]) -> dict[str, Any]:
    """latitude and longitude moved under a new `location` object."""
    location = {name: body.pop(name) for name in ("latitude", "longitude") if name in body}
    return {**body, "location": location}


# How each body drift changes a callout. Applied in this order; `wrapped` last, so combined drifts
# show up inside the wrapped callout as they would on a server that changed both.
_BODY_DRIFTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    Kind.MISSING_FIELD: lambda body: {k: v for k, v in body.items() if k != "calloutClassificationId"},
    Kind.TYPE_CHANGED: lambda body: {**body, "id": str(body["id"])},
    Kind.NULL_IN_NON_NULLABLE: lambda body: {**body, "customerId": None},
    Kind.FORMAT_VIOLATED: lambda body: {**body, "createdAt": "20/04/2024 14:45"},
    Kind.UNKNOWN_STATUS: lambda body: {**body, "status": "Escalated"},
    Kind.NEW_FIELD: lambda body: {**body, "responderEta": 420},
    Pattern.RENAMED_FIELD: _renamed,
    Pattern.MOVED_FIELD: _moved,
    Pattern.VALUE_AS_STRING: lambda body: {**body, "responseTypeId": str(body["responseTypeId"])},
    Extra.WRAPPED: _wrap,  # `wrapped-body` too: the diagnosis's name for it (see _MockServer)
}

_ERROR_PAGE = (  # a 200 from a proxy's maintenance page where the callout should be
    "<!DOCTYPE html>\n<html><head><title>Down for maintenance</title></head>"
    "<body><h1>We'll be back soon</h1></body></html>\n"
)
_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr><p>nginx</p></body></html>\n"
)


def parse_drift(names: Iterable[str]) -> frozenset[str]:
    """The switches named in `names`; a ValueError naming the allowed ones for any other name."""
    allowed = {str(d) for d in DRIFTS}
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ValueError(f"unknown mock drift {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    return frozenset(names)


def _callout_id(fixture: Fixture, contract: Contract) -> int:
    path = fixture.data["request"]["path"]
    callout_id = contract.requested_id(path)
    if callout_id is None:
        raise FixtureError(
            f"{fixture.path}: a 200 fixture must request {contract.path_template} with an integer id, "
            f"not {path} (fix request.path)"
        )
    return callout_id


def load_callouts(contracts_dir: Path = CONTRACTS_DIR) -> dict[int, Mapping[str, Any]]:
    """Callout id -> body, from every fixture that answered 200 to a request with a valid token."""
    contract = default_contract()
    callouts: dict[int, Mapping[str, Any]] = {}
    sources: dict[int, Fixture] = {}
    for fixture in iter_fixtures(contracts_dir):
        body = served_callout(fixture)  # a FixtureError naming the file if it is not a callout object
        if body is None:
            continue
        callout_id = _callout_id(fixture, contract)
        other = sources.get(callout_id)
        if other is not None and _rank(other) == _rank(fixture):
            raise FixtureError(
                f"{fixture.path}: callout {callout_id} is also served by {other.name} "
                "(give each 200 fixture its own id)"
            )
        if other is None or _rank(fixture) > _rank(other):
            callouts[callout_id] = body
            sources[callout_id] = fixture
    return callouts


# A recording of a real callout shadows a documented or synthetic fixture of the same id.
_PROVENANCE_RANK = {"synthetic": 0, "documented-example": 1, "recorded": 2}


def _rank(fixture: Fixture) -> int:
    return _PROVENANCE_RANK[fixture.data["provenance"]["source"]]


def known_callout_ids(contracts_dir: Path = CONTRACTS_DIR) -> list[int]:
    """The ids the mock answers 200 for: those of the 200 fixtures."""
    return sorted(load_callouts(contracts_dir))


def _message(status: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    """An error the way the provider documents them: a JSON object with a `message`."""
    return Response(json.dumps({"message": text}), status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)


class _MockServer:
    """The mock's one ASGI endpoint: it routes by the contract's own path, for every method."""

    def __init__(
        self,
        drift: frozenset[str],
        token: str,
        callouts: Mapping[int, Mapping[str, Any]],
        client_credentials: tuple[str, str],
    ) -> None:
        # `wrapped-body` is the diagnosis's name for `wrapped`, which stays for the scripts that use it
        self.drift = drift | {Extra.WRAPPED} if Pattern.WRAPPED_BODY in drift else drift
        self.token = token
        self.authorization = f"Bearer {token}"
        self.client_credentials = client_credentials
        self.callouts = callouts
        self.contract = default_contract()
        self.requests_seen = 0
        self.lock = threading.Lock()  # one app may be driven by several clients, each on its own thread

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.url.path == TOKEN_PATH:
            response = self._fault() or await self._issue_token(request)
        else:
            response = self.respond(request)
        await response(scope, receive, send)

    async def _issue_token(self, request: Request) -> Response:
        """The provider's client-credentials exchange: JSON {clientId, clientSecret}, no auth header."""
        if request.method != "POST":
            return _message(405, f"Method {request.method} not allowed: this path answers POST only", {"Allow": "POST"})
        try:
            data = await request.json()
        except ValueError:
            return _message(400, "Bad request: send JSON {clientId, clientSecret}")
        given = (data.get("clientId"), data.get("clientSecret")) if isinstance(data, dict) else None
        if given != self.client_credentials or Extra.AUTH_REJECTED in self.drift:
            return _message(401, "Unauthorized: unknown client credentials")
        payload = {"access_token": self.token, "token_type": "Bearer", "expires_in": 3600}
        return Response(json.dumps(payload), media_type=JSON_MEDIA_TYPE)

    def respond(self, request: Request) -> Response:
        if (fault := self._fault()) is not None:
            return fault
        raw_id = self.contract.match_path(request.url.path)
        if raw_id is None:
            return _message(404, f"No route for {request.method} {request.url.path}")
        if request.method != self.contract.method:
            allowed = self.contract.method
            headers = None if Kind.SCHEMATHESIS_CHECK in self.drift else {"Allow": allowed}
            return _message(405, f"Method {request.method} not allowed: this path answers {allowed} only", headers)
        if not self._authorized(request):
            return _message(401, "Unauthorized: send Authorization: Bearer <token> with a valid token")
        callout_id = parse_callout_id(raw_id)
        if callout_id is None or callout_id not in self.callouts:
            return _message(404, "Callout not found: it doesn't exist or isn't visible to your customer source")
        return self._callout(callout_id)

    def _fault(self) -> Response | None:
        """Target faults answer every request before routing, the way a proxy or gateway in front would."""
        with self.lock:
            self.requests_seen += 1
            seen = self.requests_seen
        if Extra.GATEWAY_502 in self.drift:
            return Response(_GATEWAY_PAGE, status_code=502, media_type="text/html")
        if Extra.RATE_LIMITED in self.drift and seen <= RATE_LIMITED_REQUESTS:
            return _message(429, "Too many requests: retry after 1 second", {"Retry-After": "1"})
        return None

    def _authorized(self, request: Request) -> bool:
        if Extra.AUTH_REJECTED in self.drift:  # wins over auth-not-enforced: an expired token stays refused
            return False
        if Kind.AUTH_NOT_ENFORCED in self.drift:
            return True
        return request.headers.get("authorization") == self.authorization

    def _callout(self, callout_id: int) -> Response:
        if Kind.SERVER_ERROR in self.drift:
            return _message(500, "Internal server error")
        if Kind.UNDOCUMENTED_STATUS_CODE in self.drift:
            return _message(403, "Forbidden: this callout belongs to another customer source")
        if Pattern.ERROR_PAGE in self.drift:
            return Response(_ERROR_PAGE, status_code=200, media_type="text/html")
        if Kind.ID_MISMATCH in self.drift:  # the documented example, or any callout in other fixture folders
            callout_id = DOCUMENTED_ID if DOCUMENTED_ID in self.callouts else min(self.callouts)
        body: dict[str, Any] = copy.deepcopy(dict(self.callouts[callout_id]))
        for drift, change in _BODY_DRIFTS.items():
            if drift in self.drift:
                body = change(body)
        text = json.dumps(body)
        if Kind.MALFORMED_BODY in self.drift:
            text = text[: len(text) // 2]  # any proper prefix of a JSON object is not JSON
        media = "text/html" if Kind.WRONG_CONTENT_TYPE in self.drift else JSON_MEDIA_TYPE
        return Response(text, status_code=200, media_type=media)


def create_app(
    *,
    drift: Iterable[str] = (),
    token: str = MOCK_TOKEN,
    contracts_dir: Path = CONTRACTS_DIR,
    client_credentials: tuple[str, str] = (MOCK_CLIENT_ID, MOCK_CLIENT_SECRET),
) -> Starlette:
    """The mock as an ASGI app. Raises ValueError for an unknown drift, FixtureError for a bad fixture.

    POST /panic-api/v2/oauth/token exchanges `client_credentials` for `token`, as the provider does.
    """
    server = _MockServer(parse_drift(drift), token, load_callouts(contracts_dir), client_credentials)
    # The mock is the router's default, so every method and every path (even one with an encoded newline,
    # which no route pattern matches) reaches it: it answers 404 and 405 itself, in JSON.
    app = Starlette()
    app.router.default = server
    return app


def bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP, not the default 0: accepted sockets inherit it, and asyncio only turns on
    # TCP_NODELAY for IPPROTO_TCP. Without it every keep-alive request waits ~40 ms on a delayed ACK
    # (https://github.com/Kludex/uvicorn/issues/3149: uvicorn's own pre-bound sockets have the same bug).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if os.name == "posix":  # restart at once on the same port: connections it served linger in TIME_WAIT
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (Windows: would let two servers share it)
    try:
        sock.bind((host, port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextmanager
def serve(app: Any, *, host: str = HOST, port: int = 0) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread on a real port; yields the base URL.

    The socket is bound and listening before the thread starts, so port 0 picks a free port
    and the URL is known at once; the server has started when this yields.
    """
    sock = bind(host, port)
    base_url = base_url_of(sock)
    import uvicorn  # here, not at the top: the pytest plugin imports this module for its drift names

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"mock {base_url}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the mock did not start on {base_url}")
            time.sleep(0.01)
        yield base_url
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


if __name__ == "__main__":  # `python -m panic_contract.mock`, as README.md has it: the mock command's module runs it
    from panic_contract.commands.mock import main

    sys.exit(main())
