"""Our token: PANIC_API_TOKEN, or one exchanged for the client credentials at the provider's token endpoint.

The values are secrets (registered, masked) from the moment they are read or received, and held in memory only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from panic_contract.errors import CredentialError
from panic_contract.faults import Outage, TokenRejected
from panic_contract.redaction import Secret, header_safe
from panic_contract.sending import CLIENT_ID_VARIABLE, CLIENT_SECRET_VARIABLE, TOKEN_VARIABLE
from panic_contract.sending.quota import Quota, Sleep
from panic_contract.sending.sender import Limits, Sender
from panic_contract.sending.transport import DIRECT, Route

# Not in the spec (it documents one operation): where the provider exchanges client credentials for a token.
TOKEN_PATH = "/panic-api/v2/oauth/token"  # noqa: S105 - a path, not a secret


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

    CredentialError (usage) when neither is set or a value cannot go in a header; the run's `faults.Halt`
    when the exchange fails.
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
    # no request of the exchange carries a token, so no 401 of it is our token refused
    with Sender(base_url, None, documented_method=None, limits=limits, quota=quota, sleep=sleep, route=route) as sender:
        return exchange_token(sender, client_id, secret)


def exchange_token(sender: Sender, client_id: str, client_secret: Secret) -> Secret:
    """POST the client credentials (no auth header) and return the access token, as a secret."""
    # Built in one expression: the secret goes into the request's body and into no variable of ours.
    request = sender.build_request(
        "POST", TOKEN_PATH, json={"clientId": client_id, "clientSecret": client_secret.value}
    )
    # The one response read with secrets left in: a token issued again (already registered) must come back as itself.
    failed = f"token exchange at {TOKEN_PATH} failed: "
    response = sender.send_request(request, "missing", fault_prefix=failed, mask_secrets=False)
    if response.status_code in {400, 401}:
        raise sender.halt(
            TokenRejected(
                f"{sender.host} rejected the client credentials (HTTP {response.status_code} from {TOKEN_PATH}): "
                f"check {CLIENT_ID_VARIABLE} and {CLIENT_SECRET_VARIABLE}"
            )
        )
    token = _token_from(response) if response.status_code == 200 else None
    if token is None:
        raise sender.halt(
            Outage(
                f"token exchange at {sender.host} failed: HTTP {response.status_code} from {TOKEN_PATH} "
                f"without a usable access_token or accessToken; try later, or set {TOKEN_VARIABLE}"
            )
        )
    return token


def _token_from(response: httpx.Response) -> Secret | None:
    """Accept both documented spellings: `access_token` and `accessToken`; None if neither is usable."""
    try:
        data: Any = json.loads(response.content)
    except ValueError:
        return None
    token = data.get("access_token", data.get("accessToken")) if isinstance(data, dict) else None
    return Secret(token.strip()) if isinstance(token, str) and header_safe(token.strip()) else None
