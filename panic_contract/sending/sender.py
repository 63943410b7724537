"""The one path to a target: every request goes through `Sender`, and comes back bounded and masked, or halts.

Layered as httpx layers its client: `send` builds the request, `_send_handling_auth` puts on the
credentials asked for and halts on our token refused, `_send_handling_redirects` is where a 3xx is
returned rather than followed (it could carry our token to another host; it is the contract's business),
`_send_single_request` retries what may heal and halts on what lasts, and `_attempt` is one attempt,
connect to last byte under one deadline (`transport.deadline`), its body read as it streams up to
`--max-body-size`. README.md's fault table says what each fault becomes; `faults` reads the statuses.

Every response comes back with the registered secrets masked (a server may echo them). The run's
budget, pacing and halt are shared through `quota.Quota`, across the processes of one run.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import tenacity

from panic_contract.faults import GATEWAY_STATUSES, Credentials, Halt, Outage, Signal, TokenRejected, signal_of
from panic_contract.redaction import Secret, redact
from panic_contract.sending import TOKEN_VARIABLE
from panic_contract.sending.auth import Bearer, auth_for, bearer
from panic_contract.sending.quota import Quota, Sleep
from panic_contract.sending.transport import DIRECT, Attempt, Route, deadline

RETRY_STATUSES = frozenset({429}) | GATEWAY_STATUSES
# Transport failures worth another try. A bad Content-Encoding or a protocol violation will not heal
# by waiting, so they are not retried, but they are the same fault (outage) once they last.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

MIB = 1 << 20
# Marks a response whose body was longer than the cap and not read whole; its value is the cap in bytes.
OVERSIZED_EXTENSION = "panic_contract.oversized"
# Dropped from a response once its body is read: what is kept is the whole body, decoded.
_FRAMING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


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


class Sender:
    """Sends requests to one target through the fault model. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: Secret | None,
        *,
        documented_method: str | None,
        limits: Limits | None = None,
        quota: Quota | None = None,
        sleep: Sleep = time.sleep,
        host: str | None = None,
        route: Route = DIRECT,
    ) -> None:
        """`documented_method`: the method whose 401 to our token means the token is refused (`faults.signal_of`);
        None where no request carries our token (the token exchange).

        `host` names the target in fault lines (default: the base URL's host and port). `route` says how to
        reach it (`transport.route_for`: proxy and TLS settings, checked); by default directly.
        """
        self.base_url = base_url.rstrip("/")
        self.host = host or host_of(self.base_url)
        self.documented_method = documented_method
        self.limits = limits or Limits()
        self.our_auth: Bearer | None = bearer(token)  # our token, put on as a request leaves
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
        self._attempt_now: Attempt | None = None
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"Sender(base_url={self.base_url!r}, token={'***' if self.our_auth else None})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def build_request(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """A request to this target, as httpx builds one (`headers`, `params`, `json`, `content`, ...)."""
        return self._http.build_request(method, url, **kwargs)

    # -- the layers, top down

    def send(
        self,
        method: str,
        url: str,
        *,
        credentials: Credentials,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send through the fault model; a response to judge, or the run's `faults.Halt`, or `quota.BudgetSpent`.

        The Authorization header is the one `credentials` names, whatever `headers` holds.
        """
        kept = {name: value for name, value in (headers or {}).items() if name.lower() != "authorization"}
        return self.send_request(self.build_request(method, url, headers=kept, **kwargs), credentials)

    def send_request(
        self, request: httpx.Request, credentials: Credentials, *, fault_prefix: str = "", mask_secrets: bool = True
    ) -> httpx.Response:
        """`send`, for a request already built. `fault_prefix` starts a fault's reason (which request failed, when
        it is not a callout's); `mask_secrets=False` only for the token exchange, whose token must come back whole."""
        return self._send_handling_auth(request, credentials, fault_prefix, mask_secrets)

    def _send_handling_auth(
        self, request: httpx.Request, credentials: Credentials, fault_prefix: str, mask_secrets: bool
    ) -> httpx.Response:
        """The credentials asked for on the request; our token refused halts the run, never retried."""
        auth = auth_for(credentials, self.our_auth)
        response = self._send_handling_redirects(request, auth, fault_prefix, mask_secrets)
        signal = signal_of(response.status_code, credentials, request.method, self.documented_method)
        if signal is Signal.AUTH_REJECTED:
            # no request named: under pytest -n N which request is refused first is a matter of timing
            reason = f"{self.host} rejected our token (401 to a request that carried it): refresh {TOKEN_VARIABLE}"
            raise self.halt(TokenRejected(reason))
        return response

    def _send_handling_redirects(
        self, request: httpx.Request, auth: httpx.Auth | None, fault_prefix: str, mask_secrets: bool
    ) -> httpx.Response:
        """A 3xx comes back as it came, never followed: following could carry our token to another host, and
        where a redirect points is the contract's business (an undocumented status code, `findings.inspect`)."""
        return self._send_single_request(request, auth, fault_prefix, mask_secrets, follow_redirects=False)

    def _send_single_request(
        self,
        request: httpx.Request,
        auth: httpx.Auth | None,
        fault_prefix: str,
        mask_secrets: bool,
        *,
        follow_redirects: bool,
    ) -> httpx.Response:
        """One request, with its retries: a transport error, a 429 or a 502/503/504 that lasts halts the run."""
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
            response: httpx.Response = retrying(self._attempt, request, auth, mask_secrets, follow_redirects)
        except httpx.HTTPError as exc:
            tries = _attempts(self.requests_sent - attempts_before)
            partial = self._attempt_now is not None and self._attempt_now.received > 0
            words = describe_transport_error(exc, self.limits.timeout, partial=partial)
            raise self.halt(Outage(f"{fault_prefix}cannot reach {self.host}: {words} ({tries})")) from None
        if response.status_code in RETRY_STATUSES:  # still 429 or 502/503/504 after the retries
            status = f"{response.status_code} {response.reason_phrase}".strip()
            advice = "; lower --rate-limit" if response.status_code == 429 else ""
            tries = _attempts(self.requests_sent - attempts_before)
            raise self.halt(Outage(f"{fault_prefix}{self.host} kept answering {status} ({tries}){advice}"))
        return response

    def _attempt(
        self, request: httpx.Request, auth: httpx.Auth | None, mask_secrets: bool, follow_redirects: bool
    ) -> httpx.Response:
        """One attempt: everything from connect to the body's last byte within one deadline, the body capped."""
        self.quota.take()
        self.requests_sent += 1
        with deadline(self.limits.timeout) as self._attempt_now:
            response = self._http.send(request, auth=auth, stream=True, follow_redirects=follow_redirects)
            try:
                body, whole = _read_capped(response, self.limits.max_body)
            finally:
                response.close()  # before the end of the body: the connection is dropped, not reused
        return _finished(response, body, None if whole else self.limits.max_body, mask_secrets=mask_secrets)

    # -- the run's halt

    def halt(self, halt: Halt) -> Halt:
        """Halt the whole run with `halt`, its reason masked; the first halt of the run (any process's) is returned,
        the one every process reports."""
        return self.quota.halt(type(halt)(redact(halt.reason)))

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


def _finished(response: httpx.Response, body: bytes, oversized: int | None, *, mask_secrets: bool) -> httpx.Response:
    """The response as the callers see it: the whole body decoded, registered secrets masked (unless not
    `mask_secrets`), and, for a body cut at the cap, the cap in `extensions[OVERSIZED_EXTENSION]`."""
    headers = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in _FRAMING_HEADERS]
    if mask_secrets:  # a server may echo a secret back, in a header or the body
        body = redact(body)
        headers = [(name, redact(value)) for name, value in headers]
    extensions = {**response.extensions, **({OVERSIZED_EXTENSION: oversized} if oversized is not None else {})}
    finished = httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request, extensions=extensions
    )
    finished.elapsed = response.elapsed
    return finished


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
