"""One run of the contract suite: its target, its sender, its ledger, and the schemathesis schema.

The tests in `tests/contract/` reach it through the `panic_run` fixture and `suite_schema()`.
Every request goes through `sending.Sender`; every response is judged by `findings.inspect`, then,
for generated cases, by schemathesis's own checks, whose failures become findings too. A test
records every finding and fails once at its end (the plugin asks `failing_lines`). A fault of
the target (outage, rejected token) stops the run with its verdict instead of a finding.
"""

from __future__ import annotations

import functools
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from panic_contract.core.contract import Contract, parse_callout_id
from panic_contract.core.findings import Exchange, Finding, Inspection, Kind, exchange_of, inspect
from panic_contract.core.ledger import Ledger, LedgerEntry, LedgerKey
from panic_contract.core.verdict import AUTH_PROBES, Decision, Verdict, halt_decision
from panic_contract.faults import Credentials, Halt
from panic_contract.outputs import terminal_line
from panic_contract.sending.generated import send_case
from panic_contract.sending.quota import BudgetSpent, Quota
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
    ledger: Ledger = field(default_factory=Ledger)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    judged: bool = False  # a live run, or the session collected suite tests: it ends with a verdict
    budget_note: str | None = None
    auth_probed: set[str] = field(default_factory=set)  # the auth probes (AUTH_PROBES) whose response was judged
    worker_id: str | None = None  # under pytest -n N, in a worker: its xdist id (gw0, gw1, ...)
    merged_workers: set[str] = field(default_factory=set)  # in the controller: workers whose ledger came back
    interrupted: str | None = None  # the signal that stopped the run (SIGINT, SIGTERM), in the controller
    _test_findings: dict[LedgerKey, tuple[Finding, int, LedgerEntry]] = field(default_factory=dict)
    _sender: Sender | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def __repr__(self) -> str:  # hypothesis prints test arguments: keep it short and free of secrets
        return f"SuiteRun(target={self.target.name}, base_url={self.target.display_url})"

    @property
    def contracts_dir(self) -> Path:
        return self.target.contracts_dir

    @property
    def sender(self) -> Sender:
        """The one sender of this process; the embedded mock starts serving on first use."""
        if self._sender is None:
            if not self.target.live:
                self.target.base_url = serve_mock(self.target, self._stack)
            target, limits = self.target, self.limits
            sender = Sender(
                target.base_url,
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
        self._stack.close()
        if self.owns_quota_dir and self.quota.path is not None:
            shutil.rmtree(self.quota.path.parent, ignore_errors=True)

    # -- judging

    def judge(self, exchange: Exchange) -> Inspection:
        """Record what the contract says of one exchange. Nothing is raised here: the test fails at its end,
        once, listing every distinct finding it saw (`failing_lines`), so one finding never hides the next."""
        inspection = inspect(exchange, self.contract)
        self.note(inspection.findings, self.ledger.add(inspection))
        if inspection.validated_body and (raw_id := self.contract.match_path(exchange.path)) is not None:
            self.ledger.note_answered(*filter(None, [parse_callout_id(raw_id)]))
        return inspection

    def record(self, findings: Sequence[Finding]) -> None:
        """More findings about a response already judged (schemathesis's checks): not another response."""
        self.note(findings, self.ledger.add_findings(findings))

    def note(self, findings: Sequence[Finding], entries: Sequence[LedgerEntry]) -> None:
        """Remember the current test's findings, by the ledger entry each went to, for the failure it ends with."""
        for finding, entry in zip(findings, entries, strict=True):
            first, count, _ = self._test_findings.get(entry.key, (finding, 0, entry))
            self._test_findings[entry.key] = (first, count + 1, entry)

    def begin_test(self) -> None:
        self._test_findings = {}

    def failing_lines(self) -> list[str]:
        """The current test's distinct failing findings, one line each with its count.

        Whether a finding fails is the ledger's classification of it (`LedgerEntry.counts`), the one the
        verdict reads: a test never fails on accepted drift, nor passes over drift the verdict counts.
        """
        lines = []
        for finding, count, entry in self._test_findings.values():
            if not entry.counts(self.strict_drift):
                continue
            expired = f" (accepted drift expired: {entry.accepted_by})" if entry.acceptance == "expired" else ""
            lines.append(f"{finding.message()} (x{count}){expired}")
        self._test_findings = {}
        return [terminal_line(line) for line in lines]  # one line each: a field name cannot start another

    # -- sending

    def send(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        """Send through the sender; a fault of the target ends the test with the run's verdict line."""
        decision: Decision | None = None
        try:
            return request()
        except Halt as halt:
            decision = halt_decision(halt)
        except BudgetSpent as spent:
            self.budget_note = str(spent)
        # outside `except`: pytest would show the fault as the context of the failure
        if decision is None:
            raise pytest.skip.Exception(self.budget_note or "budget spent")
        return self.stop(decision)

    def stop(self, decision: Decision) -> NoReturn:
        pytest.fail(f"{decision.verdict}, not drift: {decision.reason}", pytrace=False)

    def call_and_validate(self, case: Any) -> None:
        """The property test's one line: schemathesis's checks plus the contract's findings.

        `ignored_auth` is left out here: through pytest it re-probes every case with two extra requests
        (the CLI probes once per run), and `test_callout_needs_a_valid_token` probes once, on an id that
        exists, which is where a missing or wrong token can show.
        """
        from schemathesis.core.failures import FailureGroup
        from schemathesis.specs.openapi.checks import ignored_auth

        credentials = credentials_meant(case)
        response = self.send(lambda: send_case(self.sender, case, credentials))
        exchange = exchange_of(response, credentials)
        inspection = self.judge(exchange)
        if exchange.oversized is not None:
            return  # cut at --max-body-size: judged malformed-body, and schemathesis would judge a fragment
        try:
            case.validate_response(response, excluded_checks=[ignored_auth])
        except FailureGroup as group:
            self.record(new_check_findings(group.exceptions, inspection, exchange))

    def ids_note(self) -> str | None:
        """For a live run not given ids: which ids answered 200, and that it should be given ids that exist."""
        if not self.target.live or self.target.callout_ids:
            return None
        answered = ", ".join(map(str, self.ledger.answered)) or "none"
        return (
            f"no --callout-ids given: ids that answered 200: {answered}; pass ids that exist there with "
            "--callout-ids (or PANIC_API_CALLOUT_IDS), so every check runs on a real callout"
        )

    def probe(
        self, callout_id: int | str, credentials: Credentials = "valid", method: str | None = None
    ) -> tuple[Exchange, Inspection]:
        """Send one deterministic probe (a callout's GET by default) and judge the response.

        Besides the contract's judge, a probe the spec does not allow is held to the schemathesis check
        that judges the same request when generated: another method to `unsupported_method`, an id that
        is not an integer to `negative_data_rejection`. Their findings are the property test's.
        """
        method = method or self.contract.method
        path = self.contract.path_for(callout_id)
        response = self.send(lambda: self.sender.send(method, path, credentials=credentials))
        exchange = exchange_of(response, credentials)
        inspection = self.judge(exchange)
        if credentials in AUTH_PROBES and method == self.contract.method:
            self.auth_probed.add(credentials)
        if (failure := refusal_failure(exchange, self.contract)) is not None:
            self.record([check_finding(failure, exchange.request)])
        return exchange, inspection


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


# The deterministic probes (tests/contract/test_known_callouts.py and test_probes.py), sent before any
# generated case: each known id once with our token, no token, a wrong token, an id that does not exist,
# an id that is not an integer, another method. On a live target they are the minimal set of requests
# that tells every kind of drift apart; under the `live` profile the property test adds 5 generated cases.
UNKNOWN_ID = 2_147_483_647  # the largest 32-bit id: a valid id that no callout has
NON_INTEGER_ID = "not-a-number"
OTHER_METHOD = "TRACE"  # safe by definition (RFC 9110): nothing is changed if the target does implement it
REFUSAL_PROBES = 3  # an unknown id, a non-integer id, another method


def minimal_probe_count(callout_ids: Sequence[int]) -> int:
    """How many requests the deterministic probes send: every known id once, then the auth and refusal probes."""
    return len(callout_ids) + len(AUTH_PROBES) + REFUSAL_PROBES


def budget_problem(budget: int | None, callout_ids: Sequence[int], *, token_exchange: bool) -> str | None:
    """Why a live run's request budget cannot pay for its probes (then the run cannot tell the verdicts
    apart: a skipped auth probe would let a target that serves callouts to anyone pass); None if it can.

    The token exchange, when credentials are exchanged, is spent from the same budget, before any probe.
    """
    needed = minimal_probe_count(callout_ids) + int(token_exchange)
    if budget is None or budget >= needed:
        return None
    exchange = " and the token exchange" if token_exchange else ""
    ids = f"{len(callout_ids)} id{'s' if len(callout_ids) != 1 else ''}"
    return f"the probes alone need {needed} requests for {ids}{exchange}: give at least {needed}"


def refusal_failure(exchange: Exchange, contract: Contract) -> Any | None:
    """The schemathesis failure a request the spec does not allow earns, as its checks raise it; None if none.

    Another method must be answered 405 with an `Allow` header (`unsupported_method`; 401/403 are accepted
    where auth comes first, and a 404 says nothing of the method); an id that is not an integer must not
    be accepted (`negative_data_rejection`).
    """
    from schemathesis.core.failures import AcceptedNegativeData
    from schemathesis.openapi.checks import UnsupportedMethodResponse

    operation = contract.operation
    if exchange.method != contract.method:
        if exchange.status in {401, 403, 404}:
            return None
        if exchange.status != 405:
            message = (
                f"Unsupported method {exchange.method} returned {exchange.status}, expected 405 Method Not Allowed"
            )
            reason = "wrong_status"
        elif not exchange.headers.get("allow"):
            message = f"{exchange.method} returned 405 without required `Allow` header"
            reason = "missing_allow_header"
        else:
            return None
        return UnsupportedMethodResponse(operation=operation, method=exchange.method, status_code=exchange.status,
                                         failure_reason=reason, message=message)  # fmt: skip
    raw_id = contract.match_path(exchange.path)
    if raw_id is not None and parse_callout_id(raw_id) is None and 200 <= exchange.status < 300:
        return AcceptedNegativeData(operation=operation, message="Invalid data should have been rejected",
                                    status_code=exchange.status, expected_statuses=["4xx"])  # fmt: skip
    return None


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


# Schemathesis's own checks, by the failure they raise, as kinds of our vocabulary. Where our judge already
# made a finding of that kind for the same response, the failure says nothing new and is dropped.
_CHECK_KINDS: dict[str, Kind] = {
    "ServerError": Kind.SERVER_ERROR,
    "UndefinedStatusCode": Kind.UNDOCUMENTED_STATUS_CODE,
    "UndefinedContentType": Kind.WRONG_CONTENT_TYPE,
    "MissingContentType": Kind.WRONG_CONTENT_TYPE,
    "MalformedMediaType": Kind.WRONG_CONTENT_TYPE,
    "MalformedJson": Kind.MALFORMED_BODY,
    "ContentDeserializationError": Kind.MALFORMED_BODY,
    "IgnoredAuth": Kind.AUTH_NOT_ENFORCED,
    "MissingHeaderNotRejected": Kind.AUTH_NOT_ENFORCED,
}
# The check behind every other failure, named as schemathesis names it (`--checks` in its CLI).
_CHECK_NAMES: dict[str, str] = {
    "AcceptedNegativeData": "negative_data_rejection",
    "RejectedPositiveData": "positive_data_acceptance",
    "UnsupportedMethodResponse": "unsupported_method",
    "AllowHeaderMismatch": "unsupported_method",
    "MissingHeaders": "response_headers_conformance",
    "JsonSchemaError": "response_schema_conformance",
    "ResponseTimeExceeded": "max_response_time",
}


def new_check_findings(failures: Sequence[Any], inspection: Inspection, exchange: Exchange) -> list[Finding]:
    """The failures that say something our judge did not already say of the same response."""
    found = {finding.kind for finding in inspection.findings}
    findings = []
    for failure in failures:
        if type(failure).__name__ == "JsonSchemaError" and inspection.findings:
            continue  # the same schema, already judged field by field
        finding = check_finding(failure, exchange.request)
        if finding.kind is Kind.AUTH_NOT_ENFORCED and not 200 <= exchange.status < 300:
            # not 401 without a token, but nothing served either (a 302, a 404): schemathesis's words, not ours
            check = _AUTH_CHECKS.get(type(failure).__name__, type(failure).__name__)
            actual = f"failing: {finding.actual}"
            finding = Finding(Kind.SCHEMATHESIS_CHECK, check, "that schemathesis check passes", actual, finding.request)
        if finding.kind not in found:
            findings.append(finding)
    return findings


_AUTH_CHECKS = {"IgnoredAuth": "ignored_auth", "MissingHeaderNotRejected": "missing_required_header"}


def check_finding(failure: Any, request: str) -> Finding:
    """One failure of a schemathesis check as a finding: its own kind where one fits, else `schemathesis-check`."""
    name = type(failure).__name__
    lines = [line.strip() for line in str(failure.message or failure.title).splitlines() if line.strip()]
    message = lines[0] if lines else name
    if len(message) > 160:
        message = message[:157] + "..."
    kind = _CHECK_KINDS.get(name)
    if kind is not None:
        return Finding(kind, None, f"no {failure.title!r} from schemathesis", message, request)
    check = _CHECK_NAMES.get(name, name)
    return Finding(Kind.SCHEMATHESIS_CHECK, check, "that schemathesis check passes", f"failing: {message}", request)


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
    # Random ids almost never exist on a real server: positive cases also try the ids known to exist.
    chosen_ids: tuple[int | None, ...] = (None, *ids)
    if run.target.live:
        # Every request to a live target counts against its rate limit. The deterministic probes, sent first,
        # already ask what the coverage phase would (no token, 7 other methods, 5 ids of the wrong type: ~16
        # requests), one request each, and the known ids stand in for the examples phase (the documented id):
        # only the fuzzing phase runs. Its positive cases use the known ids alone, so each validates a callout.
        # Without ids, the examples phase stays: the documented callout is the one id likely to exist.
        schema.config.phases.coverage.enabled = False
        if ids:
            schema.config.phases.examples.enabled = False
            chosen_ids = tuple(ids)

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        if not ids or case.meta is None or case.meta.generation.mode.is_negative:
            return st.just(case)
        return st.sampled_from(chosen_ids).map(lambda chosen: _with_id(case, chosen))

    return schema


def _with_id(case: Any, chosen: int | None) -> Any:
    if chosen is not None:
        case.path_parameters = {**(case.path_parameters or {}), active_run().contract.path_parameter: chosen}
    return case
