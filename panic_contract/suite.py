"""One run of the contract suite: its target, its sender, its ledger, and the schemathesis schema.

The tests in `tests/contract/` reach it through the `panic_run` fixture and `suite_schema()`.
Every request goes through `sending.Sender`; every response is judged by `findings.inspect`
(inside schemathesis's checks, as the `contract_findings` check, for generated cases). A fault
of the target (outage, rejected token) stops the run with its verdict instead of a finding.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from panic_contract.contract import Contract
from panic_contract.findings import Credentials, Exchange, Inspection, Ledger, inspect
from panic_contract.redaction import redact
from panic_contract.sending import BudgetSpent, Limits, Quota, Sender, TargetFault, exchange_of
from panic_contract.target import Target, serve_mock
from panic_contract.verdict import Decision


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
    ledger: Ledger = field(default_factory=Ledger)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    judged: bool = False  # the session collected suite tests, so it ends with a verdict
    budget_note: str | None = None
    _sender: Sender | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def __repr__(self) -> str:  # hypothesis prints test arguments: keep it short and free of secrets
        return f"SuiteRun(target={self.target.name}, base_url={self.target.display_url})"

    @property
    def contracts_dir(self) -> Path:
        return self.target.contracts_dir or Path()

    @property
    def sender(self) -> Sender:
        """The one sender of this process; the embedded mock starts serving on first use."""
        if self._sender is None:
            if not self.target.live:
                self.target.base_url = serve_mock(self.target, self._stack)
            sender = Sender(
                self.target.base_url, self.target.token, limits=self.limits, quota=self.quota, host=self.target.host
            )
            self._sender = self._stack.enter_context(sender)
        return self._sender

    def close(self) -> None:
        self._stack.close()
        if self.owns_quota_dir and self.quota.path is not None:
            shutil.rmtree(self.quota.path.parent, ignore_errors=True)

    # -- judging

    def credentials_of(self, authorization: str | None) -> Credentials:
        if not authorization:
            return "missing"
        return "valid" if authorization == f"Bearer {self.target.token}" else "invalid"

    def judge(self, exchange: Exchange) -> Inspection:
        """Record what the contract says of one exchange; raise AssertionError if the run must fail on it."""
        inspection = inspect(exchange, self.contract)
        self.ledger.add(inspection)
        failing = [f for f in inspection.findings if f.severity == "breaking" or self.strict_drift]
        if failing:
            raise AssertionError(redact("\n".join(f.message() for f in failing)))
        return inspection

    # -- sending

    def send(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        """Send through the sender; a fault of the target ends the test with the run's verdict line."""
        decision: Decision | None = None
        try:
            return request()
        except TargetFault as fault:
            decision = fault.decision
        except BudgetSpent as spent:
            self.budget_note = str(spent)
        # outside `except`: pytest would show the fault as the context of the failure
        if decision is None:
            raise pytest.skip.Exception(self.budget_note or "budget spent")
        return self.stop(decision)

    def stop(self, decision: Decision) -> NoReturn:
        self.ledger.halt = (str(decision.verdict), decision.reason)
        pytest.fail(f"{decision.verdict}, not drift: {decision.reason}", pytrace=False)

    def call_and_validate(self, case: Any) -> None:
        """The property test's one line: schemathesis's checks plus the contract's findings.

        `ignored_auth` is left out here: through pytest it re-probes every case with two extra requests
        (the CLI probes once per run), and `test_callout_needs_a_valid_token` probes once, on an id that
        exists, which is where a missing or wrong token can show.
        """
        from schemathesis.specs.openapi.checks import ignored_auth

        credentials = credentials_meant(case)
        response = self.send(lambda: self.sender.send_case(case, credentials))
        case.validate_response(response, additional_checks=[contract_findings], excluded_checks=[ignored_auth])

    def probe(self, callout_id: int, credentials: Credentials) -> Inspection:
        """Fetch one callout with the given credentials and judge the response."""
        path = self.contract.path_for(callout_id)
        response = self.send(lambda: self.sender.send("GET", path, credentials=credentials))
        return self.judge(exchange_of(response, credentials))


def credentials_meant(case: Any) -> Credentials:
    """What credentials a generated case means to carry: ours, unless the case was generated to test auth.

    Schemathesis fills in an Authorization header for the spec's bearer scheme; we send our token instead.
    Only when the case's generated (negative or coverage) component is that header itself does it mean
    no token (the header dropped) or a wrong one (a generated value), and the target must say 401.
    """
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    if str(getattr(data, "parameter", "") or "").lower() != "authorization":
        return "valid"
    return "invalid" if any(name.lower() == "authorization" for name in case.headers or {}) else "missing"


def contract_findings(ctx: Any, response: Any, case: Any) -> bool | None:
    """The contract's own check, run by schemathesis beside its built-in ones: every finding kind."""
    run = active_run()
    credentials = run.credentials_of(response.request.headers.get("Authorization"))
    run.judge(
        Exchange(
            method=case.method.upper(),
            path=case.formatted_path,
            status=response.status_code,
            headers={name.lower(): values[0] for name, values in response.headers.items() if values},
            body=response.content,
            credentials=credentials,
        )
    )
    return None


_RUN: SuiteRun | None = None


def activate(run: SuiteRun | None) -> None:
    global _RUN  # noqa: PLW0603 - one run per process; the suite's modules read it at import
    _RUN = run


def active_run() -> SuiteRun:
    if _RUN is None:
        raise RuntimeError("the panic-api plugin is not active: run the suite with pytest from the project root")
    return _RUN


def current_run() -> SuiteRun | None:
    return _RUN


@functools.cache
def suite_schema() -> Any:
    """The schemathesis schema of the spec (called at import of the suite's modules).

    `schemathesis.pytest.from_fixture` breaks on pytest 9.2, so the schema is built at import from the
    run `pytest_configure` set up. Requests do not go through schemathesis's transport: the run's one
    sender sends them, and `case.validate_response` judges what came back.
    """
    import schemathesis
    from hypothesis import strategies as st

    run = active_run()
    schema = schemathesis.openapi.from_path(str(run.contract.spec_path))
    schema.config.update(base_url=run.target.display_url)
    ids = run.target.callout_ids

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        # Random ids almost never exist on a real server: positive cases also try the ids known to exist.
        if not ids or case.meta is None or case.meta.generation.mode.is_negative:
            return st.just(case)
        return st.sampled_from((None, *ids)).map(lambda chosen: _with_id(case, chosen))

    return schema


def _with_id(case: Any, chosen: int | None) -> Any:
    if chosen is not None:
        case.path_parameters = {**(case.path_parameters or {}), active_run().contract.path_parameter: chosen}
    return case
