"""A generated request (a schemathesis case) sent the way every other request goes: through `Sender.send`."""

from __future__ import annotations

from typing import Any

import httpx

from panic_contract.faults import Credentials
from panic_contract.sending.sender import Sender


def send_case(sender: Sender, case: Any, credentials: Credentials) -> httpx.Response:
    """Send a schemathesis case with the credentials it means (our token unless it was generated to test auth)."""
    kwargs = case.as_transport_kwargs(base_url=sender.base_url)
    headers = dict(kwargs.get("headers") or {})  # `send` puts the Authorization the credentials name
    if kwargs.get("cookies"):  # httpx deprecates per-request cookies: send them as the header they are
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in kwargs["cookies"].items())
    body = {key: kwargs[key] for key in ("content", "data", "json", "files") if kwargs.get(key) is not None}
    return sender.send(kwargs["method"], kwargs["url"], credentials=credentials, headers=headers,
                       params=kwargs.get("params") or None, **body)  # fmt: skip
