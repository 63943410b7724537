"""One run of the contract suite: its data (target, contract, ledger, limits) and its lifecycle.

A run is made at configure and kept in the config's stash (`keys.RUN`), closed at unconfigure. The
embedded mock is served on a loopback port of the run's own when it first sends (`base_url`); the
target stays as the settings named it. The tests in `tests/contract/` reach the run through the
`panic_run` fixture: `probe` and `call_and_validate` send (the work is in `probes`), the current test's
findings are its `tally`, and schemathesis's schema for the run is `schema.suite_schema()`.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from panic_contract.core.contract import Contract
from panic_contract.core.findings import Exchange, Inspection
from panic_contract.core.ledger import Ledger, LedgerEntry
from panic_contract.core.past import Keeping, tag_for
from panic_contract.core.verdict import Decision, Verdict
from panic_contract.faults import Credentials
from panic_contract.history.records import Recollection
from panic_contract.pytest import probes
from panic_contract.pytest.tally import TestTally
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits, Sender
from panic_contract.target import Target, serve_mock


@dataclass(repr=False)
class SuiteRun:
    """Everything one pytest process knows about its target, and the ledger of what it saw."""

    target: Target
    contract: Contract
    strict_drift: bool
    limits: Limits
    quota: Quota
    owns_quota_dir: bool = False
    report_paths: tuple[str | None, str | None] = (None, None)  # JSON, Markdown
    html_report: str | None = None  # the HTML page
    sarif_path: str | None = None  # --drift-report-sarif
    ledger: Ledger = field(default_factory=Ledger)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # A live run, or one whose session collected suite tests: it ends with a verdict (and its reports).
    ends_with_verdict: bool = False
    budget_note: str | None = None
    auth_probed: set[str] = field(default_factory=set)  # the auth probes (AUTH_PROBES) whose response was judged
    worker_id: str | None = None  # under pytest -n N, in a worker: its xdist id (gw0, gw1, ...)
    merged_workers: set[str] = field(default_factory=set)  # in the controller: workers whose ledger came back
    interrupted: str | None = None  # the signal that stopped the run (SIGINT, SIGTERM), in the controller
    tally: TestTally = field(default_factory=TestTally)  # the findings of the suite test that is running
    keeping: Keeping | None = None  # where the run is kept (the controller appends it at the end)
    recollection: Recollection | None = None  # its line's history as read at the start (None: unreadable, off)
    _served_url: str | None = None  # the embedded mock's loopback port, once served
    _sender: Sender | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def __repr__(self) -> str:  # hypothesis prints test arguments: keep it short and free of secrets
        return f"SuiteRun(target={self.target.name}, base_url={self.target.display_url})"

    def history_tag(self, entry: LedgerEntry) -> str | None:
        """A finding's history, for its test's failure line; None when the history is off or unreadable."""
        if self.recollection is None:
            return None
        return tag_for(self.recollection, entry, self.started_at.timestamp())

    @property
    def contracts_dir(self) -> Path:
        return self.target.contracts_dir

    @property
    def base_url(self) -> str:
        """Where requests go: the live target's root, or the embedded mock's port, served on first use."""
        if self.target.live:
            return self.target.base_url
        if self._served_url is None:
            self._served_url = serve_mock(self.target, self._stack)
        return self._served_url

    @property
    def sender(self) -> Sender:
        """The one sender of this run."""
        if self._sender is None:
            target, limits = self.target, self.limits
            sender = Sender(
                self.base_url,
                target.token,
                documented_method=self.contract.method,
                limits=limits,
                quota=self.quota,
                host=target.host,
                route=target.route,
            )
            self._sender = self._stack.enter_context(sender)
        return self._sender

    def close(self) -> None:
        """Stop the mock and the sender; remove the quota folder this process made."""
        self._stack.close()
        if self.owns_quota_dir and self.quota.path is not None:
            shutil.rmtree(self.quota.path.parent, ignore_errors=True)

    # -- what the suite's tests call (`probes` does the work)

    def probe(
        self, callout_id: int | str, credentials: Credentials = "valid", method: str | None = None
    ) -> tuple[Exchange, Inspection]:
        """Send one deterministic probe (a callout's GET by default); see `probes.probe`."""
        return probes.probe(self, callout_id, credentials, method)

    def call_and_validate(self, case: Any) -> None:
        """The property test's one line; see `probes.call_and_validate`."""
        probes.call_and_validate(self, case)

    def ids_note(self) -> str | None:
        """For a live run not given ids: which ids answered 200, and that it should be given ids that exist."""
        if not self.target.live or self.target.callout_ids:
            return None
        answered = ", ".join(map(str, self.ledger.answered)) or "none"
        return (
            f"no --callout-ids given: ids that answered 200: {answered}; pass ids that exist there with "
            "--callout-ids (or PANIC_API_CALLOUT_IDS), so every check runs on a real callout"
        )


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the controller: pytest's Ctrl-C path ends the session (and pytest-xdist tears
    its workers down on it), then the run writes what it judged so far and prints its verdict."""


def stop_on_signals(run: SuiteRun) -> Callable[[], None]:
    """Turn SIGINT and SIGTERM into RunInterrupted in this (the controller's) process; returns the undo.

    A SIGTERM's default action kills the controller alone, leaving its workers running and its quota
    folder behind; as a KeyboardInterrupt it takes the path Ctrl-C takes. A signal the process ignores
    (a background job's SIGINT) stays ignored; a second signal while the run is stopping is ignored too,
    so the reports are written whole (SIGKILL still stops it at once).
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        if run.interrupted is not None:
            return
        run.interrupted = signal.Signals(signum).name
        raise RunInterrupted(f"interrupted by {run.interrupted}")

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, interrupt)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def interrupted_decision(run: SuiteRun) -> Decision:
    """The verdict of a run a signal stopped: never a pass; it says what the reports hold."""
    counted = [entry for entry in run.ledger.sorted_entries() if entry.counts(run.strict_drift)]
    kinds = ", ".join(sorted({str(entry.first.kind) for entry in counted}))
    so_far = f"{len(counted)} failing finding(s) so far, of kind {kinds}" if counted else "no failing finding so far"
    return Decision(
        Verdict.INTERRUPTED,
        f"interrupted by {run.interrupted} after {run.quota.sent} requests, before the run finished: "
        f"the reports hold what was judged ({so_far}); run it again for a verdict",
    )
