"""The one path to a target: every request the suite, the recorder and the token exchange send.

One httpx client, one fault model. What comes back is one of:

| what came back                      | what happens                                          | verdict if it lasts |
|-------------------------------------|-------------------------------------------------------|---------------------|
| a response (3xx included)           | returned, secrets redacted, for `findings.inspect`    | (judged)            |
| a body over `--max-body-size`       | dropped at the cap; the exchange says so              | drift (malformed)   |
| 429 Too Many Requests               | `Retry-After` waited out (capped), retried            | outage              |
| 502/503/504                         | retried with exponential backoff                      | outage              |
| refused, DNS, TLS, timeout, reset,  | retried with exponential backoff                      | outage              |
| closed mid-body, bad encoding, ...  |                                                       |                     |
| no complete response in time        | each attempt has one deadline (`--request-timeout`)   | outage              |
| 401 although we sent our token      | never retried                                         | auth                |

Redirects are never followed: the token must not travel to another host, and a 3xx is the
contract's business (an undocumented status code). The embedded mock is served on a loopback
port for the run, so it goes through exactly this path too.

Every response is bounded: one deadline per attempt covers connect, status line, headers and body
(`transport.deadline`), and the body is read as it streams, decoded, up to `--max-body-size`; past
it the connection is dropped. The token is a `redaction.Secret` all the way, and the Authorization
header is put on by an `httpx.Auth` as the request leaves, so no frame here holds it in plain text.

Across the processes of one run (pytest-xdist workers) the request budget, the pacing and the
halt are shared through `Quota`, a small state file under an exclusive lock.
"""

from __future__ import annotations

import contextlib
import email.utils
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import tenacity

from panic_contract.core.contract import TOKEN_PATH, default_contract
from panic_contract.core.findings import GATEWAY_STATUSES, Credentials, Exchange, Signal, signal_of
from panic_contract.core.verdict import Decision, Verdict
from panic_contract.redaction import WRONG_TOKEN, Secret, header_safe, redact
from panic_contract.sending.transport import DIRECT, Attempt, Route, deadline

TOKEN_VARIABLE = "PANIC_API_TOKEN"  # noqa: S105 - the name of a variable, not a secret
CLIENT_ID_VARIABLE = "PANIC_API_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "PANIC_API_CLIENT_SECRET"  # noqa: S105 - the name of a variable
RETRY_STATUSES = frozenset({429}) | GATEWAY_STATUSES
# Transport failures worth another try. A bad Content-Encoding or a protocol violation will not heal
# by waiting, so they are not retried, but they are the same fault (outage) once they last.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

MIB = 1 << 20
# Marks a response whose body was longer than the cap and not read whole; its value is the cap in bytes.
OVERSIZED_EXTENSION = "panic_contract.oversized"
# Dropped from a response once its body is read: what is kept is the whole body, decoded.
_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

Sleep = Callable[[float], None]


class TargetFault(Exception):  # noqa: N818 - a fault of the target, not an error of ours
    """The target cannot be judged now: an outage or a rejected token. Carries the run's decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


class BudgetSpent(Exception):  # noqa: N818 - a limit reached, not an error
    """The run's request budget is spent; nothing more is sent."""


class CredentialError(Exception):
    """No usable credentials in the environment: a usage error, nothing was sent."""


@dataclass(frozen=True)
class Limits:
    """How one run treats its target; tests pass `backoff=0`."""

    timeout: float = 10.0  # one attempt, all of it: connect, status line, headers and body
    rate_limit: float = 0.0  # requests per second; 0: no limit
    retries: int = 2
    budget: int | None = None
    backoff: float = 0.5  # the first retry's wait; it doubles each time, up to max_wait
    max_wait: float = 60.0  # also caps Retry-After
    max_body: int = 4 * MIB  # decoded bytes; a longer body is dropped at this size


def host_of(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


# --- the run's shared quota ----------------------------------------------------------------------


class Quota:
    """The request budget, the pacing and the halt of one run, shared by all of its processes.

    With a `path`, the state lives in that file and every change happens under `flock` of a lock file
    beside it, so pytest-xdist workers draw on one budget and one rate limit, and one worker's outage
    stops the others. A change replaces the state file whole (a temporary file, then `os.replace`), so
    a process killed at any point leaves the old state or the new one, never a torn one; the lock is on
    a file that is never replaced, so it holds across the replace. A missing or unreadable state file
    reads as a fresh run. Without a `path`, the state lives in memory (one process: the recorder).
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        rate_limit: float = 0.0,
        budget: int | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.path = path
        self.interval = 1.0 / rate_limit if rate_limit else 0.0
        self.budget = budget
        self._sleep = sleep
        self._memory: dict[str, Any] = fresh_state()
        self._lock = threading.Lock()

    @property
    def lock_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        if self.path is None or self.lock_path is None:
            with self._lock:
                yield self._memory
            return
        with self.lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the lock file closes, or the process dies
            state = read_state(self.path)
            before = dict(state)
            yield state
            if state != before:
                _replace(self.path, json.dumps(state))

    def take(self) -> None:
        """Count one request about to be sent, after waiting for its turn under the rate limit."""
        with self._state() as state:
            if state["halt"]:
                verdict, reason = state["halt"]
                raise TargetFault(Decision(Verdict(verdict), reason))
            if self.budget is not None and state["sent"] >= self.budget:
                raise BudgetSpent(f"stopped at the request budget of {self.budget} (--request-budget)")
            now = time.time()
            if self.interval and state["last"] is not None:
                wait = state["last"] + self.interval - now
                if wait > 0:
                    self._sleep(wait)  # holding the lock: the other processes wait their turn behind us
                    now += wait
            state["sent"] += 1
            state["last"] = now

    def halt(self, decision: Decision) -> None:
        """Stop every process of the run from sending: the first fault wins."""
        with self._state() as state:
            state["halt"] = state["halt"] or [str(decision.verdict), decision.reason]

    @property
    def sent(self) -> int:
        with self._state() as state:
            return int(state["sent"])

    def halted(self) -> Decision | None:
        with self._state() as state:
            return Decision(Verdict(state["halt"][0]), state["halt"][1]) if state["halt"] else None


def fresh_state() -> dict[str, Any]:
    return {"sent": 0, "last": None, "halt": None}


def read_state(path: Path) -> dict[str, Any]:
    """The quota state in `path`; a fresh one when the file is missing, empty, or not a JSON object."""
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        loaded = None
    return {**fresh_state(), **loaded} if isinstance(loaded, dict) else fresh_state()


def _replace(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path` in one step.

    No fsync: what this guards against is a killed process, not a lost disk; the state lives for one run.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# --- fault wording -----------------------------------------------------------------------------


def describe_transport_error(exc: httpx.HTTPError, timeout: float, *, partial: bool = False) -> str:
    """One wording per transport fault; built from the error's class and text, which never hold headers.

    `partial`: some of the response had arrived when the attempt ended (a server that drips it).
    """
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connection not accepted within {timeout:g}s (--request-timeout)"
    if isinstance(exc, httpx.TimeoutException):
        return f"no {'complete ' if partial else ''}response within {timeout:g}s (--request-timeout)"
    if isinstance(exc, httpx.DecodingError):
        return "response body in an undecodable Content-Encoding"
    for needles, words in (
        (("refused",), "connection refused"),
        (("name or service not known", "nodename nor servname", "name resolution", "getaddrinfo"), "DNS lookup failed"),
        (("ssl", "certificate", "tls"), "TLS handshake failed"),
        (("reset by peer", "connection reset"), "connection reset"),
        (("without sending a response", "server disconnected"), "connection closed without a response"),
        (("incomplete", "complete message body", "peer closed"), "connection closed mid-body"),
        (("header", "too large", "too long", "max_incomplete_event_size"), "response headers too large"),
    ):
        if any(needle in text for needle in needles):
            return words
    return f"{type(exc).__name__}"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delay-seconds or an HTTP date (RFC 9110); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value[:9]), 10**8))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; be lenient with servers that omit it
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# --- the sender --------------------------------------------------------------------------------


class Bearer(httpx.Auth):
    """Puts `Authorization: Bearer <token>` on a request as it leaves; repr and str never show the token."""

    def __init__(self, token: Secret | str) -> None:
        self._token = token  # a Secret, or the deliberately wrong token (which is no secret)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token.value if isinstance(self._token, Secret) else self._token
        request.headers["Authorization"] = "Bearer " + token
        del token  # the suspended generator keeps its locals: keep only the Secret
        yield request

    def __repr__(self) -> str:
        return "Bearer(***)"


class Sender:
    """Sends requests to one target through the fault model above. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: Secret | None,
        *,
        limits: Limits | None = None,
        quota: Quota | None = None,
        sleep: Sleep = time.sleep,
        host: str | None = None,
        route: Route = DIRECT,
    ) -> None:
        """`host` names the target in fault lines (default: the base URL's host and port).

        `route` says how to reach it (`transport.route_for`: proxy and TLS settings, checked); by default directly.
        """
        self.base_url = base_url.rstrip("/")
        self.host = host or host_of(self.base_url)
        self.limits = limits or Limits()
        self._auth = Bearer(token) if token is not None and token.value else None
        self.quota = quota or Quota(rate_limit=self.limits.rate_limit, budget=self.limits.budget, sleep=sleep)
        self._sleep = sleep
        self._backoff = tenacity.wait_exponential(multiplier=self.limits.backoff, max=self.limits.max_wait)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self.limits.timeout,
            follow_redirects=False,
            transport=route.transport(),
            trust_env=False,  # the route has read the environment already, once, and checked it
        )
        self._attempt: Attempt | None = None
        self.contract = default_contract()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"Sender(base_url={self.base_url!r}, token={'***' if self._auth else None})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- what the callers send

    def auth(self, credentials: Credentials) -> httpx.Auth | None:
        """What puts on the Authorization header the credentials name: our token, a wrong one, or none."""
        if credentials == "missing":
            return None
        if credentials == "invalid":
            return Bearer(WRONG_TOKEN)
        if self._auth is None:
            raise CredentialError(f"no token for an authenticated request: set {TOKEN_VARIABLE}")
        return self._auth

    def get_callout(self, callout_id: int | str, *, credentials: Credentials = "valid") -> Exchange:
        """One GET of a callout, with our token, with none, or with a wrong one."""
        path = self.contract.path_for(callout_id)
        response = self.send("GET", path, credentials=credentials, headers={"Accept": "application/json"})
        return exchange_of(response, credentials)

    def send_case(self, case: Any, credentials: Credentials) -> httpx.Response:
        """Send a schemathesis case (a generated request) the way every other request goes."""
        kwargs = case.as_transport_kwargs(base_url=self.base_url)
        headers = dict(kwargs.get("headers") or {})  # `send` puts the Authorization the credentials name
        if kwargs.get("cookies"):  # httpx deprecates per-request cookies: send them as the header they are
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in kwargs["cookies"].items())
        body = {key: kwargs[key] for key in ("content", "data", "json", "files") if kwargs.get(key) is not None}
        return self.send(kwargs["method"], kwargs["url"], credentials=credentials, headers=headers,
                         params=kwargs.get("params") or None, **body)  # fmt: skip

    def exchange_token(self, client_id: str, client_secret: Secret) -> Secret:
        """POST the client credentials (no auth header) and return the access token, as a secret."""
        # Built here, in one expression: the secret goes into the request's body and into no local of ours.
        request = self._http.build_request(
            "POST", TOKEN_PATH, json={"clientId": client_id, "clientSecret": client_secret.value}
        )
        # The one response read unmasked: a token issued again (already registered) must come back as itself.
        failed = f"token exchange at {TOKEN_PATH} failed: "
        response = self._send(request, "missing", unmasked=True, what=failed)
        if response.status_code in {400, 401}:
            raise self._fault(
                Verdict.AUTH,
                f"{self.host} rejected the client credentials (HTTP {response.status_code} from {TOKEN_PATH}): "
                f"check {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}",
            )
        token = _token_from(response) if response.status_code == 200 else None
        if token is None:
            raise self._fault(
                Verdict.OUTAGE,
                f"token exchange at {self.host} failed: HTTP {response.status_code} from {TOKEN_PATH} "
                f"without a usable access_token or accessToken; try later, or set {TOKEN_VARIABLE}",
            )
        self._auth = Bearer(token)
        return token

    # -- the one path

    def send(
        self,
        method: str,
        url: str,
        *,
        credentials: Credentials,
        headers: Mapping[str, str] | None = None,
        what: str = "",
        **kwargs: Any,
    ) -> httpx.Response:
        """Send through the fault model; return a response to judge, or raise TargetFault or BudgetSpent.

        Every response comes back with registered secrets masked. `what` starts the reason of a fault
        (which request failed), when the request is not a callout's.

        The Authorization header is the one `credentials` names, whatever `headers` holds.
        """
        kept = {name: value for name, value in (headers or {}).items() if name.lower() != "authorization"}
        return self._send(self._http.build_request(method, url, headers=kept, **kwargs), credentials, what=what)

    def _send(
        self, request: httpx.Request, credentials: Credentials, *, unmasked: bool = False, what: str = ""
    ) -> httpx.Response:
        """`send`, for a request already built; `unmasked` only for the token exchange."""
        auth = self.auth(credentials)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.limits.retries + 1),
            wait=self._wait,
            retry=(
                tenacity.retry_if_exception_type(TRANSIENT_ERRORS)
                | tenacity.retry_if_result(lambda response: response.status_code in RETRY_STATUSES)
            ),
            sleep=self._sleep,
            retry_error_callback=_last_outcome,
        )
        attempts_before = self.requests_sent
        try:
            response: httpx.Response = retrying(self._send_once, request, auth, unmasked)
        except httpx.HTTPError as exc:
            attempts = self.requests_sent - attempts_before
            partial = self._attempt is not None and self._attempt.received > 0
            words = describe_transport_error(exc, self.limits.timeout, partial=partial)
            raise self._fault(
                Verdict.OUTAGE, f"{what}cannot reach {self.host}: {words} ({_attempts(attempts)})"
            ) from None
        signal = signal_of(response.status_code, credentials)
        if signal is Signal.AUTH_REJECTED and request.method != self.contract.method:
            signal = None  # another method's 401 is the contract's business (as in findings.inspect), not our token's
        if signal is Signal.AUTH_REJECTED:
            raise self._fault(
                Verdict.AUTH,
                # no request named: under pytest -n N which request is refused first is a matter of timing
                f"{self.host} rejected our token (401 to a request that carried it): refresh {TOKEN_VARIABLE}",
            )
        if signal is not None:  # still 429 or 502/503/504 after the retries
            status = f"{response.status_code} {response.reason_phrase}".strip()
            advice = "; lower --rate-limit" if signal is Signal.RATE_LIMITED else ""
            tries = _attempts(self.requests_sent - attempts_before)
            raise self._fault(Verdict.OUTAGE, f"{what}{self.host} kept answering {status} ({tries}){advice}")
        return response

    def _send_once(self, request: httpx.Request, auth: httpx.Auth | None, unmasked: bool) -> httpx.Response:
        """One attempt: everything from connect to the body's last byte within one deadline, the body capped."""
        self.quota.take()
        self.requests_sent += 1
        with deadline(self.limits.timeout) as self._attempt:
            response = self._http.send(request, auth=auth, stream=True)
            try:
                body, whole = _read_capped(response, self.limits.max_body)
            finally:
                response.close()  # before the end of the body: the connection is dropped, not reused
        return _finished(response, body, None if whole else self.limits.max_body, unmasked=unmasked)

    def _fault(self, verdict: Verdict, reason: str) -> TargetFault:
        decision = Decision(verdict, redact(reason))
        self.quota.halt(decision)
        # the first fault of the whole run (any worker's) is the one every process reports
        return TargetFault(self.quota.halted() or decision)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """`Retry-After` when the response sent one (capped), else exponential backoff."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            delay = retry_after_seconds(outcome.result().headers.get("retry-after"))
            if delay is not None:
                return min(delay, self.limits.max_wait)
        return float(self._backoff(state))


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _last_outcome(state: tenacity.RetryCallState) -> Any:
    """After the last retry: return the last response, or re-raise the last transport error."""
    assert state.outcome is not None  # tenacity calls this only after an attempt
    return state.outcome.result()


def _read_capped(response: httpx.Response, cap: int) -> tuple[bytes, bool]:
    """The body, decoded, as it streams; (b"", False) as soon as it grows past `cap` bytes."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            return b"", False
        chunks.append(chunk)
    return b"".join(chunks), True


def _finished(response: httpx.Response, body: bytes, oversized: int | None, *, unmasked: bool) -> httpx.Response:
    """The response as the callers see it: the whole body decoded, registered secrets masked (unless
    `unmasked`), and, for a body cut at the cap, the cap in `extensions[OVERSIZED_EXTENSION]`."""
    headers = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in _FRAMING_HEADERS]
    if not unmasked:  # a server may echo a secret back, in a header or the body
        body = redact(body)
        headers = [(name, redact(value)) for name, value in headers]
    extensions = {**response.extensions, **({OVERSIZED_EXTENSION: oversized} if oversized is not None else {})}
    finished = httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request, extensions=extensions
    )
    finished.elapsed = response.elapsed
    return finished


def _token_from(response: httpx.Response) -> Secret | None:
    """Accept both documented spellings: `access_token` and `accessToken`; None if neither is usable."""
    try:
        data: Any = json.loads(response.content)
    except ValueError:
        return None
    token = data.get("access_token", data.get("accessToken")) if isinstance(data, dict) else None
    return Secret(token.strip()) if isinstance(token, str) and header_safe(token.strip()) else None


def exchange_of(response: httpx.Response, credentials: Credentials) -> Exchange:
    """What `findings.inspect` judges: the (redacted) response to one request."""
    request = response.request
    path = request.url.raw_path.decode("ascii", "replace").split("?", 1)[0]
    return Exchange(
        method=request.method.upper(),
        path=path,
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.content,
        credentials=credentials,
        oversized=response.extensions.get(OVERSIZED_EXTENSION),
    )


def token_from_environment(
    base_url: str,
    environ: Mapping[str, str],
    *,
    limits: Limits,
    quota: Quota | None = None,
    sleep: Sleep = time.sleep,
    route: Route = DIRECT,
) -> Secret:
    """PANIC_API_TOKEN, else a token exchanged for PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET.

    CredentialError (usage) when neither is set or a value cannot go in a header; TargetFault when the
    exchange fails. The values are secrets (registered, masked) from the moment they are read.
    """
    token = Secret(environ.get(TOKEN_VARIABLE, "").strip())
    secret = Secret(environ.get(CLIENT_SECRET_VARIABLE, "").strip())
    client_id = environ.get(CLIENT_ID_VARIABLE, "").strip()
    if token.value:
        if not header_safe(token.value):
            raise CredentialError(
                f"{TOKEN_VARIABLE} holds characters that cannot go in an HTTP header (a line break, a space or "
                "a non-ASCII character; value not shown): set it to the token alone"
            )
        return token
    if not client_id and not secret.value:
        raise CredentialError(
            f"no credentials: set {TOKEN_VARIABLE}, or {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}"
        )
    if not (client_id and secret.value):
        missing = CLIENT_SECRET_VARIABLE if client_id else CLIENT_ID_VARIABLE
        raise CredentialError(f"{missing} is not set: set it too, or set {TOKEN_VARIABLE} instead")
    with Sender(base_url, None, limits=limits, quota=quota, sleep=sleep, route=route) as sender:
        return sender.exchange_token(client_id, secret)
