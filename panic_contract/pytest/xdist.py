"""pytest-xdist: the controller hands each worker the token and the run's quota; workers hand back ledgers.

Registered by the plugin in every run; its controller hooks are optional, so it is inert without
pytest-xdist, and a worker is told by its `workeroutput`. The token travels in memory over xdist's
channel, never through a file or the environment, and is a `redaction.Secret` again as soon as the
worker reads it (`handed_token`); the quota file holds counts and the halt only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from panic_contract.pytest.keys import run_of
from panic_contract.pytest.run import SuiteRun
from panic_contract.redaction import Secret

WORKER_TOKEN = "panic_api_token"  # noqa: S105 - the key under which a worker receives the token
WORKER_QUOTA = "panic_api_quota"
WORKER_TODAY = "panic_api_today"  # the controller's day: every process classifies accepted drift against the same one
LEDGER_KEY = "panic_api_ledger"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Controller: before a worker starts, give it the token it would otherwise fetch again, and the quota."""
    run = run_of(node.config)
    if run is None:
        return
    if run.target.live:
        node.workerinput[WORKER_TOKEN] = run.target.token.value  # execnet sends plain data only
    if run.quota.path is not None:
        node.workerinput[WORKER_QUOTA] = str(run.quota.path)
    if run.ledger.acceptance is not None:
        node.workerinput[WORKER_TODAY] = run.ledger.acceptance.today.isoformat()


def handed_token(workerinput: dict[str, Any]) -> Secret | None:
    """Worker: the token the controller handed over, a secret again at once; None if none was."""
    token = workerinput.get(WORKER_TOKEN)
    return Secret(token) if isinstance(token, str) else None


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Controller: fold each worker's ledger into its own, so there is one verdict and one report.

    Each worker's ledger classified its findings against the same accepted drift (and day) as it folded
    them in; the merge keeps that classification.
    """
    data = getattr(node, "workeroutput", {}).get(LEDGER_KEY)
    run = run_of(node.config)
    if data is not None and run is not None:
        _merge_worker(run, data)
        run.merged_workers.add(str(node.workerinput.get("workerid")))


def _merge_worker(run: SuiteRun, data: dict[str, Any]) -> None:
    run.ledger.merge(data)
    run.ends_with_verdict = run.ends_with_verdict or data.get("ends_with_verdict", False)
    run.budget_note = run.budget_note or data.get("budget_note")
    run.auth_probed.update(data.get("auth_probed", ()))


def _worker_data(run: SuiteRun) -> dict[str, Any]:
    """A worker's ledger and what it knows of the run, as plain data (execnet serialises no enums or dataclasses)."""
    return {
        **run.ledger.as_dict(),
        "ends_with_verdict": run.ends_with_verdict,
        "budget_note": run.budget_note,
        "auth_probed": sorted(run.auth_probed),
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Worker: hand its ledger back."""
    run = run_of(session.config)
    workeroutput = getattr(session.config, "workeroutput", None)
    if run is None or workeroutput is None:
        return
    workeroutput[LEDGER_KEY] = _worker_data(run)


# An interrupted run (SIGINT, SIGTERM) ends before its workers hand their ledgers back: each worker keeps a
# snapshot of its ledger, as of its last finished test, beside the run's quota, where the controller finds it.


def _snapshot(run: SuiteRun, worker_id: str) -> Path | None:
    return None if run.quota.path is None else run.quota.path.parent / f"ledger-{worker_id}.json"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Worker: after each test, its ledger so far (written whole, then renamed into place)."""
    result = yield
    run = run_of(item.config)
    if run is None or run.worker_id is None or (path := _snapshot(run, run.worker_id)) is None:
        return result
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(_worker_data(run)), encoding="utf-8")
    os.replace(staged, path)
    return result


def fold_snapshots(run: SuiteRun) -> None:
    """Controller, when interrupted: fold in the ledgers of the workers that did not hand theirs back."""
    folder = None if run.quota.path is None else run.quota.path.parent
    for path in sorted(folder.glob("ledger-*.json")) if folder is not None else ():
        worker_id = path.stem.removeprefix("ledger-")
        if worker_id in run.merged_workers:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a worker that never finished a test has nothing to add
        _merge_worker(run, data)
        run.merged_workers.add(worker_id)
