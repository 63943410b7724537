"""Contract tests for the Aura Panic API's GET /panic-api/v2/callouts/{calloutId}: the public surface.

What a user reaches for is named in `__all__`, and stays: the verdicts and their exit codes, the finding
vocabulary and the one judge, the contract, the user-error base, and the embedded mock. The pytest plugin
(`panic_contract.pytest.plugin`) and the `panic-contract` command are used by name, not imported. Every
other module and name is private: README.md's map says where things live, and they may move.

Each name is imported when first asked for, so importing one module of the package (as the audit's worker
processes do) does not import them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from panic_contract.core.contract import Contract, load_contract
    from panic_contract.core.findings import Exchange, Finding, Inspection, Kind, inspect
    from panic_contract.core.verdict import EXIT_CODES, Verdict
    from panic_contract.errors import UsageError
    from panic_contract.mock import create_app, serve

__all__ = [
    "EXIT_CODES",
    "Contract",
    "Exchange",
    "Finding",
    "Inspection",
    "Kind",
    "UsageError",
    "Verdict",
    "create_app",
    "inspect",
    "load_contract",
    "serve",
]

_HOMES = {
    "Contract": "panic_contract.core.contract",
    "load_contract": "panic_contract.core.contract",
    "Exchange": "panic_contract.core.findings",
    "Finding": "panic_contract.core.findings",
    "Inspection": "panic_contract.core.findings",
    "Kind": "panic_contract.core.findings",
    "inspect": "panic_contract.core.findings",
    "EXIT_CODES": "panic_contract.core.verdict",
    "Verdict": "panic_contract.core.verdict",
    "UsageError": "panic_contract.errors",
    "create_app": "panic_contract.mock",
    "serve": "panic_contract.mock",
}


def __getattr__(name: str) -> Any:
    """A public name, from its module (PEP 562); AttributeError for any other."""
    if name not in _HOMES:
        raise AttributeError(f"module 'panic_contract' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # asked once: the module's own attribute from now on
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
