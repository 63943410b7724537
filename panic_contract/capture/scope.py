"""Which exchanges of a capture are judged: the operation's method and path, with one of this API's hosts.

The one in-scope rule, for HAR and JSON Lines alike. It has two halves a reader asks in turn (a JSON Lines
record of the operation is checked whole between them, so a malformed one is an error wherever it went):
`Scope.operation` (the method, in any case, and the path), then `Scope.root_of_url` (HAR) or
`Scope.root_of_target` (JSON Lines), which name a host differently and judge it by `Scope._root`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from panic_contract.capture.result import AuditResult, ReadOptions
from panic_contract.core.contract import Contract

# This API's hosts besides the spec's server (staging): production and dev, as the provider's documentation
# names them. Exchanges with any other host (a local dev server on the same path) are counted and skipped.
PROVIDER_SERVERS = ("https://panic.aura.services", "https://dev-panic.aura.services")
OTHER_HOST = ""  # what the host half says of an exchange with a host that is not this API's


class Scope:
    """The operation (method and path) and this API's hosts: by the origin of a URL, or the host a record names."""

    def __init__(self, contract: Contract, servers: Iterable[str]) -> None:
        self.method = contract.method
        self._in_path = contract.path_pattern.fullmatch
        self.origins = frozenset(filter(None, (origin(server) for server in servers)))
        self._by_origin = {root: root for root in self.origins}
        # JSON Lines name a host as the recorder does: host[:port], as given, without the scheme
        self.netlocs: dict[str, str] = {}
        for root in sorted(self.origins, key=lambda root: (not root.startswith("https:"), root)):  # https first
            parts = urlsplit(root)
            self.netlocs.setdefault(parts.netloc, root)
            if parts.port is None:
                self.netlocs.setdefault(f"{parts.netloc}:{443 if parts.scheme == 'https' else 80}", root)
        self._origins: dict[str, str | None] = {}  # a URL's text up to its path -> its origin

    @classmethod
    def of(cls, contract: Contract, options: ReadOptions) -> Scope:
        return cls(contract, (contract.server_url, *PROVIDER_SERVERS, *options.servers))

    def operation(self, method: Any, path: str) -> re.Match[str] | None:
        """The path's match (group 1: the requested id) when the method (in any case) and path are the
        operation's, else None. The method is looked at only on the operation's path: a record of another
        path may have none. A method that is not text raises AttributeError (the record is malformed)."""
        matched = self._in_path(path)
        if matched is None or (method != self.method and method.upper() != self.method):
            return None
        return matched

    def root_of_url(self, prefix: str, result: AuditResult) -> str | None:
        """The host half for a URL's scheme://authority (`split_url`; "" for a relative URL)."""
        return self._root(self.origin(prefix) if prefix else None, self._by_origin, result)

    def root_of_target(self, target: str | None, result: AuditResult) -> str | None:
        """The host half for the host[:port] a JSON Lines record names (`provenance.target`), if any."""
        return self._root(target.lower() if target else None, self.netlocs, result)

    @staticmethod
    def _root(host: str | None, roots: Mapping[str, str], result: AuditResult) -> str | None:
        """The root (scheme://host[:port]) a judged exchange is named by; None when the capture names no host
        (judged, by its path); OTHER_HOST for a host not this API's, counted on `result` and not judged."""
        if host is None:
            return None
        root = roots.get(host)
        if root is None:
            result.note_host(host)
            return OTHER_HOST
        return root

    def origin(self, prefix: str) -> str | None:
        """`origin()` of a URL's scheme://authority, looked up once per distinct text (a HAR has few)."""
        if prefix in self._origins:
            return self._origins[prefix]
        found = origin(prefix)
        if len(self._origins) < 4096:  # a capture of endless distinct hosts is looked up each time
            self._origins[prefix] = found
        return found


def split_url(url: str) -> tuple[str, str]:
    """(scheme://authority, path) of a URL, without query or fragment; ("", path) for a relative URL.

    urlsplit would do, but costs more than judging the exchange; a HAR has one URL per entry.
    """
    prefix = ""
    scheme_end = url.find("://")
    if scheme_end >= 0:
        slash = url.find("/", scheme_end + 3)
        prefix, url = (url[:slash], url[slash:]) if slash >= 0 else (url, "/")
    if "?" in url or "#" in url:  # most URLs the audit judges have neither
        for mark in "?#":
            url = url.split(mark, 1)[0]
    return prefix, url


def url_path(url: str) -> str:
    """The path of an absolute or relative URL, without query or fragment."""
    return split_url(url)[1]


def origin(url: str) -> str | None:
    """scheme://host[:port] of a URL, never the user:password@ it may carry; the scheme's own port left out."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an invalid IPv6 literal
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == {"https": 443, "http": 80}.get(parts.scheme):
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")
