"""The fault model: what a response or a failed request says about the target rather than about its contract.

Written once, below everything that reads it: `sending` retries and halts on it, `findings.inspect` and
the audit count it, `verdict` turns a halt into outage (exit 10), auth (11) or interrupted (130).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

# What credentials the request carried: the token we were given, none, or a wrong one; "unknown" when the
# source does not show them (a HAR exported without its Authorization header): auth is then not judged.
Credentials = Literal["valid", "missing", "invalid", "unknown"]


class Signal(StrEnum):
    """Responses that say something about the target, not about its contract."""

    AUTH_REJECTED = "auth-rejected"  # 401 although we sent the token we were given
    RATE_LIMITED = "rate-limited"  # 429: waited out and retried, never drift by itself
    GATEWAY_ERROR = "gateway-error"  # 502/503/504: the target is not answering


GATEWAY_STATUSES = frozenset({502, 503, 504})


def signal_of(status: int, credentials: Credentials, method: str, documented_method: str | None) -> Signal | None:
    """The one reading of a status that speaks of the target rather than of its contract.

    A 401 is our token refused only when it answers the documented operation's method: another method's
    401 is the contract's business (schemathesis's `unsupported_method` accepts one where auth comes first).
    `documented_method` None: no request carries our token (the token exchange), so no 401 is its refusal.
    """
    if status == 429:
        return Signal.RATE_LIMITED
    if status in GATEWAY_STATUSES:
        return Signal.GATEWAY_ERROR
    if status == 401 and credentials == "valid" and method == documented_method:
        return Signal.AUTH_REJECTED
    return None


class Halt(Exception):  # noqa: N818 - a run stopping, not an error of ours
    """Nothing more is sent in this run, by any of its processes; `reason` is the one line saying why."""

    kind: ClassVar[str]  # how the run's shared quota records it

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Outage(Halt):
    """The target cannot be reached, or kept answering 429 or 502/503/504 after the retries."""

    kind = "outage"


class TokenRejected(Halt):
    """The target refused our token (or the client credentials we exchange for one)."""

    kind = "auth"


class Interrupted(Halt):
    """A signal stopped the run; its controller halts every worker's sending."""

    kind = "interrupted"


HALTS: dict[str, type[Halt]] = {halt.kind: halt for halt in (Outage, TokenRejected, Interrupted)}
