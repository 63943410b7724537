"""Keep secrets out of every string that leaves the process.

A secret (the token, the client secret) is registered once, when it is read from the
environment or received from the token endpoint. From then on `redact()` replaces it with
`***` wherever it appears: in a response body or header the target echoed back (the sending
module redacts every response before anything else sees it), in a test's failure text, in a
report, a fixture or a log line. `Secret` holds a value so that no repr or f-string shows it.
"""

from __future__ import annotations

import threading
from typing import Final, overload

MASK: Final = "***"
# Deliberately wrong, and obviously so in a packet capture: it checks the target refuses bad tokens.
WRONG_TOKEN: Final = "invalid-token-sent-by-panic-contract"  # noqa: S105 - not a secret
# Secrets shorter than this are not redacted: masking every "a" would garble the output and hide nothing.
MIN_SECRET_LENGTH: Final = 4

_secrets: set[str] = set()
_lock = threading.Lock()


class Secret:
    """Holds a credential so that no repr, f-string or debugger view shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value
        register(value)

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__


def register(*values: str | None) -> None:
    """From now on, `redact()` masks each of `values`."""
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def registered() -> frozenset[str]:
    return frozenset(_secrets)


@overload
def redact(text: str) -> str: ...
@overload
def redact(text: bytes) -> bytes: ...
def redact(text: str | bytes) -> str | bytes:
    """`text` with every registered secret replaced by `***` (longest first, so no secret leaves a tail)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret.encode(), MASK.encode()) if isinstance(text, bytes) else text.replace(secret, MASK)
    return text


def header_safe(value: str) -> bool:
    """Whether `value` can go in an HTTP header as is: visible ASCII only (no CR, LF, spaces or controls)."""
    return bool(value) and all(0x21 <= ord(char) <= 0x7E for char in value)
