"""Which server a run checks, and with what token: the embedded mock, provider staging, or a given root.

Used by the pytest plugin and by `panic-contract record`, so both read the same settings the
same way. Nothing here sends a request except the token exchange, which goes through `sending`.
The route (proxy, TLS) of a live target is read from the environment and checked here, once, before
anything is sent: a bad variable is one usage line (`errors.RouteError`), not a fault per test.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from panic_contract.core.contract import STAGING_URL
from panic_contract.redaction import Secret
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits, host_of
from panic_contract.sending.token import token_from_environment
from panic_contract.sending.transport import DIRECT, Route, route_for

MOCK_DISPLAY_URL = "http://127.0.0.1:8000"  # where `panic-contract mock` serves: what reproducers name


@dataclass
class Target:
    name: Literal["mock", "staging", "custom"]
    base_url: str  # where requests go; for the embedded mock, its loopback port once served
    token: Secret = field(repr=False)
    callout_ids: tuple[int, ...]
    contracts_dir: Path  # the fixtures the suite checks (and the embedded mock serves)
    drift: tuple[str, ...] = ()
    route: Route = field(default=DIRECT, repr=False)  # the embedded mock is on loopback: always direct

    @property
    def live(self) -> bool:
        return self.name != "mock"

    @property
    def display_url(self) -> str:
        """What reports and reproducers show: for the mock, where `panic-contract mock` serves it by hand."""
        return self.base_url if self.live else MOCK_DISPLAY_URL

    @property
    def host(self) -> str:
        return host_of(self.base_url) if self.live else "the embedded mock"


def live_url(name: str | None, base_url: str | None) -> str | None:
    """The live target's root, or None for the embedded mock. Staging is the only named target."""
    if base_url:
        return base_url
    return STAGING_URL if name == "staging" else None


def mock_target(ids: tuple[int, ...], drift: tuple[str, ...], contracts_dir: Path) -> Target:
    """The embedded mock; it is served on a loopback port by `serve_mock` when the run first sends."""
    from panic_contract.mock import MOCK_TOKEN, known_callout_ids

    known = tuple(known_callout_ids(contracts_dir))
    return Target("mock", MOCK_DISPLAY_URL, Secret(MOCK_TOKEN), ids or known, contracts_dir, drift)


def live_target(
    url: str,
    named: bool,
    ids: tuple[int, ...],
    contracts_dir: Path,
    environ: Mapping[str, str],
    *,
    limits: Limits,
    quota: Quota | None = None,
    token: Secret | None = None,
) -> Target:
    """A live target with its route and token (from `token` when a parent process already has it).

    Raises errors.RouteError (usage: a proxy or TLS variable), errors.CredentialError (usage) or the run's
    faults.Halt (the token exchange failed).
    """
    route = route_for(url, environ)
    if token is None:
        token = token_from_environment(url, environ, limits=limits, quota=quota, route=route)
    return Target("staging" if named else "custom", url, token, ids, contracts_dir, route=route)


def serve_mock(target: Target, stack: ExitStack) -> str:
    """Serve the embedded mock on a free loopback port for as long as `stack` is open; its base URL."""
    from panic_contract.mock import create_app, serve

    app = create_app(drift=target.drift, token=target.token.value, contracts_dir=target.contracts_dir)
    return stack.enter_context(serve(app))
