"""The credentials: the variables they come from, and the Authorization header a request carries.

A request carries our token, a deliberately wrong one, or none. The token stays a `redaction.Secret`
until the header is put on, as the request leaves (`httpx.Auth`), so no frame of ours holds it in plain
text and no repr shows it.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from panic_contract.errors import CredentialError
from panic_contract.faults import Credentials
from panic_contract.redaction import WRONG_TOKEN, Secret
from panic_contract.sending import TOKEN_VARIABLE


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


def bearer(token: Secret | None) -> Bearer | None:
    """Our token as an auth, or None when there is none (an empty token is none)."""
    return Bearer(token) if token is not None and token.value else None


def auth_for(credentials: Credentials, ours: Bearer | None) -> httpx.Auth | None:
    """What puts on the Authorization header the credentials name: our token, a wrong one, or none."""
    if credentials == "missing":
        return None
    if credentials == "invalid":
        return Bearer(WRONG_TOKEN)
    if ours is None:
        raise CredentialError(f"no token for an authenticated request: set {TOKEN_VARIABLE}")
    return ours
