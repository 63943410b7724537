"""What a suite test sends: the deterministic probes and the property test's generated cases.

Every request goes through the run's `sending.Sender`; every response goes to `findings.inspect`, then,
for a generated case, to schemathesis's own checks (`checks`), and its findings to the run's ledger and
the test's tally. A fault of the target (outage, rejected token) ends the test with the run's verdict
line instead of a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Protocol

import httpx
import pytest

from panic_contract.core.contract import Contract, parse_callout_id
from panic_contract.core.findings import Exchange, Finding, Inspection, exchange_of, inspect
from panic_contract.core.ledger import Ledger
from panic_contract.core.verdict import AUTH_PROBES, Decision, halt_decision
from panic_contract.faults import Credentials, Halt
from panic_contract.pytest.checks import check_finding, new_check_findings, refusal_failure
from panic_contract.pytest.tally import TestTally
from panic_contract.sending.generated import send_case
from panic_contract.sending.quota import BudgetSpent
from panic_contract.sending.sender import Sender


class SuiteRun(Protocol):
    """What sending a suite test's requests needs of its run (`run.SuiteRun`, which sits above this module)."""

    contract: Contract
    ledger: Ledger
    tally: TestTally
    auth_probed: set[str]
    budget_note: str | None

    @property
    def sender(self) -> Sender: ...


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


def probe(
    run: SuiteRun, callout_id: int | str, credentials: Credentials = "valid", method: str | None = None
) -> tuple[Exchange, Inspection]:
    """Send one deterministic probe (a callout's GET by default) and record what `inspect` says of it.

    Besides `inspect`, a probe the spec does not allow is held to the schemathesis check that checks the
    same request when generated: another method to `unsupported_method`, an id that is not an integer to
    `negative_data_rejection`. Their findings are the property test's.
    """
    method = method or run.contract.method
    path = run.contract.path_for(callout_id)
    response = send(run, lambda: run.sender.send(method, path, credentials=credentials))
    exchange = exchange_of(response, credentials)
    inspection = record_response(run, exchange)
    if credentials in AUTH_PROBES and method == run.contract.method:
        run.auth_probed.add(credentials)
    if (failure := refusal_failure(exchange, run.contract)) is not None:
        record_findings(run, [check_finding(failure, exchange.request)])
    return exchange, inspection


def call_and_validate(run: SuiteRun, case: Any) -> None:
    """The property test's one line: schemathesis's checks plus the contract's findings.

    Two checks are left out because they send requests of their own, around the one sending path (its
    deadline, body cap, budget and fault model): `ignored_auth` re-probes every case with two more (the
    CLI probes once per run; `test_callout_needs_a_valid_token` probes once, on an id that exists), and
    `not_a_server_error` resends a content-type probe that got a 5xx. `inspect` already reports every
    5xx as server-error.
    """
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import ignored_auth

    credentials = credentials_meant(case)
    response = send(run, lambda: send_case(run.sender, case, credentials))
    exchange = exchange_of(response, credentials)
    inspection = record_response(run, exchange)
    if exchange.oversized is not None:
        return  # cut at --max-body-size: inspected as malformed-body, and schemathesis would check a fragment
    try:
        case.validate_response(response, excluded_checks=[ignored_auth, not_a_server_error])
    except FailureGroup as group:
        record_findings(run, new_check_findings(group.exceptions, inspection, exchange))


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


def record_response(run: SuiteRun, exchange: Exchange) -> Inspection:
    """What `inspect` says of one exchange, into the ledger and the test's tally. Nothing is raised here:
    the test fails at its end, once, listing every distinct finding it saw, so one never hides the next."""
    inspection = inspect(exchange, run.contract)
    run.tally.note(inspection.findings, run.ledger.add(inspection))
    if run.ledger.coverage is not None:
        run.ledger.coverage.add_exchange(exchange)
    if inspection.validated_body and (raw_id := run.contract.match_path(exchange.path)) is not None:
        run.ledger.note_answered(*filter(None, [parse_callout_id(raw_id)]))
    return inspection


def record_findings(run: SuiteRun, findings: Sequence[Finding]) -> None:
    """More findings about a response already recorded (schemathesis's checks): not another response."""
    run.tally.note(findings, run.ledger.add_findings(findings))


def send(run: SuiteRun, request: Callable[[], httpx.Response]) -> httpx.Response:
    """Send through the run's sender; a fault of the target ends the test with the run's verdict line."""
    decision: Decision | None = None
    try:
        return request()
    except Halt as halt:
        decision = halt_decision(halt)
    except BudgetSpent as spent:
        run.budget_note = str(spent)
    # outside `except`: pytest would show the fault as the context of the failure
    if decision is None:
        raise pytest.skip.Exception(run.budget_note or "budget spent")
    return stop(run, decision)


def stop(run: SuiteRun, decision: Decision) -> NoReturn:
    pytest.fail(f"{decision.verdict}, not drift: {decision.reason}", pytrace=False)
