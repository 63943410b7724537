"""The credentials a captured request carries, found so every output can mask them (they are never kept).

Authorization (without its scheme), Proxy-Authorization, X-Api-Key, each cookie's value, query-string
parameters named like credentials, and a URL's password. `result.AuditResult.keep_secrets` registers them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from panic_contract.redaction import MIN_SECRET_LENGTH

# Cookie and query-string values shorter than this are not credentials worth masking ("true", "en-US"):
# masking them everywhere would garble the reports.
MIN_COOKIE_SECRET = 8
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_QUERY_CREDENTIAL = re.compile(r"token|key|secret|passw|pwd|auth|sig|session|credential|code|jwt", re.IGNORECASE)


def query_credentials(query: str) -> list[str]:
    """Values of a query string's parameters named like credentials (access_token, api_key, sig, ...)."""
    try:
        pairs = parse_qsl(query.split("#", 1)[0], keep_blank_values=False)
    except ValueError:
        return []
    return [value for name, value in pairs if len(value) >= MIN_COOKIE_SECRET and _QUERY_CREDENTIAL.search(name)]


def request_credentials(request: Mapping[str, Any], url: str) -> tuple[bool, list[str]]:
    """Whether the request shows its Authorization header, and the credential values it carries.

    Authorization (without its scheme), Proxy-Authorization, X-Api-Key, Cookie (each cookie's value),
    credentials in the query string and a URL's password. They are only registered as secrets, never kept.
    """
    shown = False
    values: list[str] = []
    headers = request.get("headers")
    for header in headers if isinstance(headers, list) else ():
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        if name not in CREDENTIAL_HEADERS:
            continue
        value = str(header.get("value", "")).strip()
        if name == "cookie":
            values.extend(_cookie_values(value))
            continue
        shown = shown or (name == "authorization" and bool(value))
        # Without its scheme (Bearer, Basic): masking every 12-character run of "Bearer <token>" would also
        # mask text that merely shares the scheme's space and the token's first characters.
        credential = value.split(" ", 1)[-1].strip()
        if len(credential) >= MIN_SECRET_LENGTH:
            values.append(credential)
    cookies = request.get("cookies")
    for cookie in cookies if isinstance(cookies, list) else ():
        if isinstance(cookie, dict) and len(str(cookie.get("value", ""))) >= MIN_COOKIE_SECRET:
            values.append(str(cookie["value"]))
    if "?" in url:
        values.extend(query_credentials(url.split("?", 1)[1]))
    if "@" in url and "@" in url.partition("://")[2].partition("/")[0]:  # most URLs have no @ at all
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password
            if password and len(password) >= MIN_SECRET_LENGTH:
                values.append(password)
    return shown, values


def _cookie_values(header: str) -> list[str]:
    """Each cookie's value (not the whole header, whose runs would span the cookies' names)."""
    values = []
    for pair in header.split(";"):
        value = pair.partition("=")[2].strip().strip('"')
        if len(value) >= MIN_COOKIE_SECRET:
            values.append(value)
    return values
