"""One small typed HTTP client for `GET /panic-api/v2/callouts/{calloutId}` and its token endpoint.

It only fetches; judging a response is `findings.inspect`'s job. What it adds over plain
httpx: a rate limit for live targets, `Retry-After` honoured on 429, bounded retries with
exponential backoff for transient failures, and a token that never leaves memory: it is
not in any `repr()`, exception message or log line this module produces.
"""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import httpx
import tenacity

from panic_contract.contract import TOKEN_PATH, default_contract
from panic_contract.findings import GATEWAY_STATUSES, Credentials, Exchange

# Names of an endpoint and of environment variables, not secrets (hence the S105 waivers).
TOKEN_VARIABLE = "PANIC_API_TOKEN"  # noqa: S105
CLIENT_ID_VARIABLE = "PANIC_API_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "PANIC_API_CLIENT_SECRET"  # noqa: S105
# Deliberately wrong, and obviously so in a packet capture: it checks the target refuses bad tokens.
INVALID_TOKEN: Final = "invalid-token-sent-by-panic-contract"  # noqa: S105
# Transport failures worth another try; anything else (a bad URL, say) will not heal by waiting.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
RETRY_STATUSES = frozenset({429}) | GATEWAY_STATUSES

Sleep = Callable[[float], None]


class CredentialError(Exception):
    """No usable credentials: which variable(s) to set, or that the token exchange failed."""


class OutageError(Exception):
    """The target did not answer (after retries): names the host and the transport error."""


class AuthRejected(CredentialError):  # noqa: N818 (the name is the plugin's public interface)
    """The token endpoint rejected the client credentials (400/401): check them."""


class TokenExchangeError(CredentialError):
    """The token endpoint failed otherwise (5xx, no token in the answer): a problem of the target."""


class _Secret:
    """Holds a credential so that no repr, f-string or debugger view shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


def host_of(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


def resolve_token(
    base_url: str,
    environ: Mapping[str, str] = os.environ,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Sleep = time.sleep,
) -> str:
    """PANIC_API_TOKEN, else a token exchanged for PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET."""
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if token:
        return token
    client_id = environ.get(CLIENT_ID_VARIABLE, "").strip()
    secret = environ.get(CLIENT_SECRET_VARIABLE, "").strip()
    if not client_id and not secret:
        raise CredentialError(
            f"no credentials: set {TOKEN_VARIABLE}, or {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}"
        )
    if not (client_id and secret):
        missing = CLIENT_SECRET_VARIABLE if client_id else CLIENT_ID_VARIABLE
        raise CredentialError(f"{missing} is not set: set it too, or set {TOKEN_VARIABLE} instead")
    with PanicClient(base_url, None, rate_limit=None, transport=transport, sleep=sleep) as client:
        return client.exchange_token(client_id, secret)


def _token_from(response: httpx.Response, host: str) -> str:
    """Accept both documented spellings: `access_token` and `accessToken`."""
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    token = None
    if isinstance(data, dict):
        token = data.get("access_token", data.get("accessToken"))
    if not isinstance(token, str) or not token.strip():
        raise TokenExchangeError(
            f"token exchange at {host} failed: HTTP {response.status_code} without an access_token "
            "or accessToken string; set PANIC_API_TOKEN instead"
        )
    return token.strip()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: either delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; be lenient with servers that omit it
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PanicClient:
    """Fetches callouts from one target. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        rate_limit: float | None = 2.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        sleep: Sleep = time.sleep,
    ) -> None:
        """`backoff` is the first retry's wait in seconds (it doubles each time, up to `max_wait`,
        which also caps `Retry-After`); tests pass `backoff=0` and a recording `sleep`."""
        self.base_url = base_url.rstrip("/")
        self.host = host_of(self.base_url)
        self._token = _Secret(token) if token else None
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._max_retries = max(0, max_retries)
        self._backoff = tenacity.wait_exponential(multiplier=backoff, max=max_wait)
        self._max_wait = max_wait
        self._sleep = sleep
        self._last_sent: float | None = None
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        self._contract = default_contract()
        self.requests_sent = 0

    def __repr__(self) -> str:
        token = "***" if self._token else None
        return f"PanicClient(base_url={self.base_url!r}, token={token})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_callout(self, callout_id: int | str, *, credentials: Credentials = "valid") -> Exchange:
        """One GET of a callout, with the token we hold, with none, or with a wrong one."""
        path = self._contract.path_for(callout_id)
        headers = {"Accept": "application/json"}
        authorization = self._authorization(credentials)
        if authorization is not None:
            headers["Authorization"] = authorization
        response = self._send("GET", path, headers=headers)
        return Exchange(
            method="GET",
            path=path,
            status=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            body=response.content,
            credentials=credentials,
        )

    def exchange_token(self, client_id: str, client_secret: str) -> str:
        """POST the client credentials (no auth header) and return the access token."""
        response = self._send("POST", TOKEN_PATH, json={"clientId": client_id, "clientSecret": client_secret})
        if response.status_code in {400, 401}:
            raise AuthRejected(
                f"{self.host} rejected the client credentials (HTTP {response.status_code} from {TOKEN_PATH}): "
                f"check {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}"
            )
        if response.status_code != 200:
            raise TokenExchangeError(
                f"token exchange at {self.host} failed: HTTP {response.status_code} from {TOKEN_PATH}; "
                f"try again later or set {TOKEN_VARIABLE} instead"
            )
        return _token_from(response, self.host)

    def _authorization(self, credentials: Credentials) -> str | None:
        if credentials == "missing":
            return None
        if credentials == "invalid":
            return f"Bearer {INVALID_TOKEN}"
        if self._token is None:
            raise CredentialError(
                f"no token for an authenticated request: set {TOKEN_VARIABLE}, "
                f"or {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}"
            )
        return f"Bearer {self._token.value}"

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with bounded retries; a still-failing 429/502/503/504 is returned, not raised."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self._max_retries + 1),
            wait=self._wait,
            retry=(
                tenacity.retry_if_exception_type(TRANSIENT_ERRORS)
                | tenacity.retry_if_result(lambda response: response.status_code in RETRY_STATUSES)
            ),
            sleep=self._sleep,
            retry_error_callback=_last_outcome,
        )
        sent_before = self.requests_sent
        try:
            response: httpx.Response = retrying(self._send_once, method, path, **kwargs)
        except httpx.HTTPError as exc:
            attempts = self.requests_sent - sent_before
            # The message is built from the error's class and text only: httpx never puts headers
            # or request bodies there, so neither the token nor the client secret can reach it.
            raise OutageError(
                f"{self.host} did not answer {method} {path}: {type(exc).__name__} ({exc}) "
                f"after {attempts} attempt(s); check the target is up and --base-url is right"
            ) from None
        return response

    def _send_once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self._pace()
        self.requests_sent += 1
        return self._http.request(method, path, **kwargs)

    def _pace(self) -> None:
        """Space requests at least 1/rate_limit seconds apart (retries included)."""
        now = time.monotonic()
        if self._interval and self._last_sent is not None:
            remaining = self._last_sent + self._interval - now
            if remaining > 0:
                self._sleep(remaining)
                now += remaining
        self._last_sent = now

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """`Retry-After` when the response sent one (capped), else exponential backoff."""
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            delay = retry_after_seconds(outcome.result().headers.get("retry-after"))
            if delay is not None:
                return min(delay, self._max_wait)
        return float(self._backoff(state))


def _last_outcome(state: tenacity.RetryCallState) -> Any:
    """After the last retry: return the last response, or re-raise the last transport error."""
    assert state.outcome is not None  # tenacity calls this only after an attempt
    return state.outcome.result()
