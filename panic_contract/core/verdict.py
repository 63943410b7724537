"""One verdict per run, the exit code CI branches on, and the one verdict line every command prints.

The codes are stable and documented in README.md ("Exit codes"); never renumber them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum

from panic_contract.core.ledger import Ledger
from panic_contract.faults import Halt, Interrupted, Outage, Signal, TokenRejected
from panic_contract.outputs import terminal_line


class Verdict(StrEnum):
    OK = "ok"
    DRIFT = "drift"
    OUTAGE = "outage"
    AUTH = "auth"
    INCONCLUSIVE = "inconclusive"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    USAGE = "usage"


EXIT_CODES: dict[Verdict, int] = {
    Verdict.OK: 0,
    Verdict.DRIFT: 1,  # pytest's "tests failed"
    Verdict.FAILED: 1,  # tests failed for a reason that is not a contract finding
    Verdict.USAGE: 4,  # pytest's usage error: nothing was sent
    Verdict.OUTAGE: 10,
    Verdict.AUTH: 11,
    Verdict.INCONCLUSIVE: 12,
    Verdict.INTERRUPTED: 130,  # 128 + SIGINT, as a shell reports Ctrl-C; SIGTERM is turned into the same
}


@dataclass(frozen=True)
class LiveEvidence:
    """What a run against a live target sent and had judged; without it no live run passes.

    `inspected`: responses of the target that `findings.inspect` judged. `auth_probes`: the auth probes
    (`missing`, `invalid`: no token, a wrong token) whose response was judged; they are what tells a
    target that serves callouts to anyone apart from one that enforces its token.
    """

    inspected: int
    auth_probes: frozenset[str]


AUTH_PROBES = ("missing", "invalid")  # the credentials of the auth probes, in the order they are sent


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]


_HALT_VERDICTS: dict[type[Halt], Verdict] = {
    Outage: Verdict.OUTAGE,
    TokenRejected: Verdict.AUTH,
    Interrupted: Verdict.INTERRUPTED,
}


def halt_decision(halt: Halt) -> Decision:
    """The verdict of a run that halted: outage, auth or interrupted, with the halt's one-line reason."""
    return Decision(_HALT_VERDICTS[type(halt)], halt.reason)


def decide(  # noqa: PLR0911 - one verdict ladder, in precedence order
    ledger: Ledger,
    *,
    halt: Halt | None = None,
    strict_drift: bool = False,
    require_validated_body: bool = False,
    tests_failed: bool = False,
    host: str = "the target",
    live: LiveEvidence | None = None,
) -> Decision:
    """Outage and auth come first: findings made while the target was down or refusing us are not drift.

    `halt`: what stopped the run's sending, if anything did (the run's quota holds it). `live`: for a run
    against a live target, what it judged; a run that judged nothing of the target, or not the auth probes,
    is inconclusive rather than ok.
    """
    if halt is not None:
        return halt_decision(halt)
    gateway = ledger.signals.get(Signal.GATEWAY_ERROR, 0)
    if gateway:
        return Decision(Verdict.OUTAGE, f"{host} kept answering 502/503/504 ({gateway} responses after retries)")
    rejected = ledger.signals.get(Signal.AUTH_REJECTED, 0)
    if rejected:
        return Decision(
            Verdict.AUTH,
            f"{host} rejected our token on {rejected} requests that should succeed: refresh PANIC_API_TOKEN",
        )
    entries = ledger.sorted_entries()
    additive = [e for e in entries if e.severity == "additive"]
    warnings = [e for e in entries if e.severity == "warning"]
    counted = [e for e in entries if e.counts(strict_drift)]  # as each test's failure lines count them
    if counted:
        kinds = sorted({str(e.first.kind) for e in counted})
        expired = [f"; accepted drift expired: {e.accepted_by}" for e in counted if e.acceptance == "expired"]
        return Decision(Verdict.DRIFT, f"{len(counted)} finding(s) of kind {', '.join(kinds)}{''.join(expired)}")
    if live is not None and live.inspected == 0:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"no response from {host} was judged: the tests selected send nothing to it (tests/contract/"
            "test_fixtures.py checks the recorded fixtures only); run the whole suite, or add "
            "tests/contract/test_known_callouts.py",
        )
    if require_validated_body and ledger.validated_bodies == 0:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"no 200 body from {host} was validated: pass ids that exist there with --callout-ids "
            "(or PANIC_API_CALLOUT_IDS)",
        )
    unprobed = [probe for probe in AUTH_PROBES if probe not in live.auth_probes] if live is not None else []
    if unprobed:
        words = " and with ".join({"missing": "no token", "invalid": "a wrong token"}[probe] for probe in unprobed)
        were = "probes" if len(unprobed) > 1 else "probe"
        return Decision(
            Verdict.INCONCLUSIVE,
            f"the auth {were} with {words} got no judged response, so whether {host} enforces its token is "
            "unknown: run tests/contract/test_known_callouts.py::test_callout_needs_a_valid_token too (it was "
            "deselected, or the request budget ran out before it)",
        )
    if tests_failed:
        return Decision(Verdict.FAILED, "tests failed without a contract finding; see the failures above")
    note = f", {len(additive)} additive finding(s) (pass with --strict-drift to fail on them)" if additive else ""
    if warnings:
        note += (
            f", {len(warnings)} warning(s): drift on fields the integration does not read (--reads; pass with "
            "--strict-drift to fail on them)"
        )
    accepted = ledger.accepted_entries()
    note += f", {len(accepted)} accepted drift finding(s)" if accepted else ""
    return Decision(Verdict.OK, f"{ledger.validated_bodies} callout bodies held to the contract{note}")


def verdict_line(decision: Decision) -> str:
    """The one line every command ends with: `verdict: drift (exit 1): <reason>`."""
    return f"verdict: {decision.verdict} (exit {decision.exit_code}): {decision.reason}"


def command_stopped(prog: str, decision: Decision) -> int:
    """A `panic-contract` command that cannot go on: its verdict line on stderr, named; the exit code to return."""
    print(f"{prog}: {terminal_line(verdict_line(decision))}", file=sys.stderr)
    return decision.exit_code
