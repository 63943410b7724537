"""How bytes reach a target, and for how long a response may take: the bottom of the sending path.

Two things httpx does not do, built on what it does:

- **One deadline per attempt.** httpx's timeouts bound each socket operation, so a server that sends a
  byte every 0.2 s never trips a 1 s read timeout and keeps a request alive for minutes
  (https://github.com/encode/httpx/issues/1450, open). `deadline()` sets when the current attempt must be
  done; `DeadlineBackend` is the httpcore network backend of every connection the sender opens, and clamps
  each connect, TLS handshake and read to the time left, so the status line, the headers and the body
  together fit in `--request-timeout`. Reads are also kept small (`READ_SIZE`), so one compressed chunk
  cannot decode to more than a few MiB before the body cap (`sending`) sees it.
- **A route chosen once, before anything is sent.** A loopback target (the embedded mock, 127.0.0.1, ::1,
  localhost) is always reached directly; a live target honours the proxy variables (`HTTPS_PROXY`,
  `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, either case, lower case first as curl and urllib read them) and
  trusts `SSL_CERT_FILE` or `SSL_CERT_DIR` when set. `route_for` checks them all and turns a bad one into
  one usage line naming the variable (`RouteError`), instead of a traceback in every test.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import ssl
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from panic_contract.errors import RouteError

# A deflate stream expands at most ~1032 times: 8 KiB read is at most ~8 MiB decoded at once.
READ_SIZE = 8 * 1024


# --- the deadline ----------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One attempt at a request: when it must be done, and how many bytes of a response it has read."""

    deadline: float
    received: int = 0


_ATTEMPT: ContextVar[Attempt | None] = ContextVar("panic_contract_attempt", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Attempt]:
    """Everything sent and read in this block, on any connection of a `DeadlineBackend`, ends within `seconds`."""
    attempt = Attempt(time.monotonic() + seconds)
    token = _ATTEMPT.set(attempt)
    try:
        yield attempt
    finally:
        _ATTEMPT.reset(token)


def _left(timeout: float | None, expired: type[Exception]) -> float | None:
    """The timeout for the next socket operation: the per-operation one, or less if the deadline is nearer."""
    attempt = _ATTEMPT.get()
    if attempt is None:
        return timeout
    left = attempt.deadline - time.monotonic()
    if left <= 0:
        raise expired("the attempt's deadline (--request-timeout) has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads end by the current attempt's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        # Bound straight to the inner stream, so no frame of ours ever holds a request's bytes (they carry
        # the token). A request is a few hundred bytes, written at once within httpx's write timeout.
        self.write = stream.write  # type: ignore[method-assign]

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._stream.read(min(max_bytes, READ_SIZE), _left(timeout, httpcore.ReadTimeout))
        if (attempt := _ATTEMPT.get()) is not None:
            attempt.received += len(data)
        return data

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """Opens connections (to the target, or to a proxy) as `DeadlineStream`s."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._backend.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._backend.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# --- the route -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How requests reach one target: directly or through a proxy, and what TLS trusts."""

    proxy: str | None = field(default=None, repr=False)  # a proxy URL may carry user:password
    verify: ssl.SSLContext | bool = True  # True: httpx's default bundle (certifi)

    def transport(self) -> httpx.HTTPTransport:
        """A fresh httpx transport on this route, every connection of it under the attempt's deadline."""
        made = httpx.HTTPTransport(proxy=self.proxy, verify=self.verify, trust_env=False)
        # httpx takes no network backend (https://github.com/encode/httpx/pull/3749, open): its pool is built
        # inside the transport, so the backend is set on that pool, which hands it to every connection it opens:
        # direct, through an HTTP proxy, or through SOCKS. Building the pool ourselves with httpcore's public
        # `network_backend` would copy httpx's three pool branches, its SSL context and its default limits, and
        # still have to set `made._pool`; when that pull request lands, pass the backend to HTTPTransport instead.
        pool = made._pool
        pool._network_backend = DeadlineBackend(pool._network_backend)
        return made


DIRECT = Route()

_PROXY_VARIABLES = {"http": ("HTTP_PROXY", "ALL_PROXY"), "https": ("HTTPS_PROXY", "ALL_PROXY")}
_USERINFO = re.compile(r"(?<=//)[^/@]*@")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, and localhost names (RFC 6761): never through a proxy."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_for(base_url: str, environ: Mapping[str, str]) -> Route:
    """The route to `base_url` under `environ`, every variable it uses checked. Raises RouteError."""
    parts = urlsplit(base_url)
    verify = _verify(environ) if parts.scheme == "https" else True
    host = parts.hostname or ""
    if is_loopback(host):
        return Route(verify=verify)
    no_proxy = _variable(environ, "NO_PROXY")
    netloc = parts.netloc.rpartition("@")[2]
    if no_proxy and urllib.request.proxy_bypass_environment(netloc, {"no": no_proxy[1]}):  # type: ignore[attr-defined]
        return Route(verify=verify)
    for name in _PROXY_VARIABLES.get(parts.scheme, ()):
        if (found := _variable(environ, name)) is not None:
            return Route(_checked_proxy(*found), verify)
    return Route(verify=verify)


def _variable(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    for spelling in (name.lower(), name):
        if value := environ.get(spelling, "").strip():
            return spelling, value
    return None


def _checked_proxy(variable: str, value: str) -> str:
    shown = _USERINFO.sub("***@", value)  # a proxy password is never echoed
    usable = (
        f"{variable} is {shown!r}; it must be a proxy URL (http, https, socks5 or socks5h), "
        f"e.g. http://proxy.example:3128, or unset {variable}"
    )
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        raise RouteError(usable) from None
    if url.scheme not in {"http", "https", "socks5", "socks5h"} or not url.host:
        raise RouteError(usable)
    try:
        httpx.HTTPTransport(proxy=value, trust_env=False).close()
    except ImportError:  # httpx needs its socks extra for a SOCKS proxy
        raise RouteError(
            f"{variable} is {shown!r}: a SOCKS proxy needs the socksio package: "
            f"pip install 'httpx[socks]', or unset {variable}"
        ) from None
    except (ValueError, httpx.InvalidURL):
        raise RouteError(usable) from None
    return value


def _verify(environ: Mapping[str, str]) -> ssl.SSLContext | bool:
    """The CA certificates TLS trusts: SSL_CERT_FILE, else SSL_CERT_DIR, else httpx's default bundle."""
    if cafile := environ.get("SSL_CERT_FILE", ""):
        return _context("SSL_CERT_FILE", cafile, "a PEM file of CA certificates", cafile=cafile)
    if capath := environ.get("SSL_CERT_DIR", ""):
        if not Path(capath).is_dir():
            raise RouteError(f"SSL_CERT_DIR is {capath!r}: no such folder; point it at a folder of CA "
                             "certificates, or unset it")  # fmt: skip
        return _context("SSL_CERT_DIR", capath, "a folder of CA certificates", capath=capath)
    return True


def _context(
    variable: str, value: str, wanted: str, *, cafile: str | None = None, capath: str | None = None
) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except FileNotFoundError:
        why = "no such file"
    except IsADirectoryError:
        why = "a folder, not a file"
    except PermissionError:
        why = "not readable"
    except (ssl.SSLError, OSError):
        why = "no CA certificate could be read from it"
    raise RouteError(f"{variable} is {value!r}: {why}; point it at {wanted}, or unset it")
