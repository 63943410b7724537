"""pytest-xdist: the controller hands each worker the token and the run's quota; workers hand back ledgers.

Registered by the plugin in every run; its controller hooks are optional, so it is inert without
pytest-xdist, and a worker is told by its `workeroutput`. The token travels in memory over xdist's
channel, never through a file or the environment, and is a `redaction.Secret` again as soon as the
worker reads it (`handed_token`); the quota file holds counts and the halt only.
"""

from __future__ import annotations

from typing import Any

import pytest

from panic_contract.redaction import Secret
from panic_contract.suite import current_run

WORKER_TOKEN = "panic_api_token"  # noqa: S105 - the key under which a worker receives the token
WORKER_QUOTA = "panic_api_quota"
LEDGER_KEY = "panic_api_ledger"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: before a worker starts, give it the token it would otherwise fetch again, and the quota."""
    run = current_run()
    if run is None:
        return
    if run.target.live:
        node.workerinput[WORKER_TOKEN] = run.target.token.value  # execnet sends plain data only
    if run.quota.path is not None:
        node.workerinput[WORKER_QUOTA] = str(run.quota.path)


def handed_token(workerinput: dict[str, Any]) -> Secret | None:
    """Worker: the token the controller handed over, a secret again at once; None if none was."""
    token = workerinput.get(WORKER_TOKEN)
    return Secret(token) if isinstance(token, str) else None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller: fold each worker's ledger into its own, so there is one verdict and one report."""
    data = getattr(node, "workeroutput", {}).get(LEDGER_KEY)
    run = current_run()
    if data is not None and run is not None:
        run.ledger.merge(data)
        run.judged = run.judged or data.get("judged", False)
        run.budget_note = run.budget_note or data.get("budget_note")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Worker: hand its ledger back (plain data: execnet serialises no enums or dataclasses)."""
    run = current_run()
    workeroutput = getattr(session.config, "workeroutput", None)
    if run is None or workeroutput is None:
        return
    workeroutput[LEDGER_KEY] = {**run.ledger.as_dict(), "judged": run.judged, "budget_note": run.budget_note}
