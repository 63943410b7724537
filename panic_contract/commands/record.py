"""`panic-contract record`: record fixtures from a live target, scrubbed, and say how the shape moved.

It sends only to a target named on its command line or in the environment: `--target staging` (or
`PANIC_API_TARGET=staging`) or `--base-url URL` (or `PANIC_API_BASE_URL`); without one it is a usage error,
so no default ever reaches a live server. For each id in `--ids` it fetches the callout, then one id that
does not exist (a 404) and one request without a token (a 401), and writes one fixture per exchange.
Everything is fetched and scrubbed in memory first, so an outage or a rejected token half-way writes
nothing; the files are then written all or none. Re-recording over earlier fixtures prints a shape diff:
fields added or removed, type or nullness changes, status values never seen before. Ordinary value
changes are listed apart and are never drift. `--check` only compares.

Nothing is written that would break the fixture tests without being asked for by name: a redirect, or a
callout id that answers 404, is never a fixture; a fixture with a finding is written only when its kind is
named with `--allow-drift` (see `recorder.refusal`).

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 drift (shape drift with `--check`; a redirect, a
finding not named with `--allow-drift`, or a body over `--max-body-size`: nothing is written), 4 usage
(nothing was sent, or nothing written: a command line that cannot run is an `error:` line, not a verdict;
an id that answers 404), 10 outage, 11 token rejected.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from panic_contract import settings
from panic_contract.commands.cli import closest, option_error
from panic_contract.core.contract import STAGING_URL, default_contract
from panic_contract.core.findings import Kind
from panic_contract.core.fixtures import CONTRACTS_DIR, CONTRACTS_IN_CHECKOUT
from panic_contract.core.ledger import Ledger
from panic_contract.core.past import Keeping, RunFacts, keep
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, command_stopped, halt_decision, verdict_line
from panic_contract.errors import OptionError, UsageError
from panic_contract.faults import Halt
from panic_contract.outputs import terminal_line
from panic_contract.recording.recorder import (
    BodyTooLargeError,
    Options,
    Recorded,
    RecordingUsageError,
    fetch_all,
    is_redirect,
    load_earlier,
    plan_for,
    refusal,
    refuse_to_clobber,
    statuses_in,
    write_recorded,
)
from panic_contract.recording.scrub import SCRUB_KEY_VARIABLE, scrub_key_from
from panic_contract.recording.shape import report_lines, shape_diff
from panic_contract.sending import CLIENT_ID_VARIABLE, CLIENT_SECRET_VARIABLE, TOKEN_VARIABLE
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits, Sender
from panic_contract.sending.token import token_from_environment
from panic_contract.sending.transport import route_for

# Precedence, as in the suite (`settings`): command line, then environment variable, then default.
SHARED_SETTINGS = ("callout_ids", "base_url", "rate_limit", "request_timeout", "retries", "max_body_size")
TARGET = settings.SETTINGS["target"]
PROG = "panic-contract record"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        f"{parser.description}. It sends only to a live target you name: --target staging, or --base-url URL "
        f"(or {TARGET.env}=staging, {settings.SETTINGS['base_url'].env}); without one it is a usage error and "
        "nothing is sent."
    )
    parser.epilog = (
        f"The token comes only from the environment: {TOKEN_VARIABLE}, or {CLIENT_ID_VARIABLE} and "
        f"{CLIENT_SECRET_VARIABLE} (exchanged for a token at the target). It is never a flag, and is written "
        f"nowhere. {SCRUB_KEY_VARIABLE} keys the customerId pseudonyms. Nothing that would fail the fixture tests "
        "is written unless named: a redirect or a callout id that answers 404 never is, and a fixture with a "
        "finding only with --allow-drift=KIND. Exit codes: 0 recorded, 1 drift (shape drift with --check; a "
        "redirect, a finding not allowed, a body over --max-body-size: nothing written), 4 usage (an id that "
        "answers 404 too), 10 outage, 11 token rejected."
    )
    settings.add_arguments(parser, (*SHARED_SETTINGS, *settings.HISTORY_SETTINGS))
    parser.add_argument(
        "--target",
        choices=["staging"],
        help=f"record from provider staging ({STAGING_URL}); wins over the variables. A live target must be named: "
        f"this or --base-url [env {TARGET.env}]",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the fixtures (default: the project's contracts/, whatever the current folder; "
        "installed from a wheel: ./contracts)",
    )
    parser.add_argument("--update", action="store_true", help="replace fixtures that already exist")
    parser.add_argument("--check", action="store_true", help="only compare with the fixtures there; write nothing")
    parser.add_argument("--no-scrub", action="store_true", help="keep customerId and coordinates as recorded")
    parser.add_argument(
        "--allow-drift",
        action="append",
        metavar="KIND[,KIND]",
        help="write fixtures that carry findings of these kinds (comma-separated, or repeated), e.g. "
        "--allow-drift=unknown-status. Without it, a recording with any finding (the fixture tests fail on "
        "each, additive ones too) writes nothing, lists them and exits 1",
    )


def run(args: argparse.Namespace) -> int:
    try:
        options = options_from(args, os.environ)
        keeping = None
        if options.check:  # --check is a gate like the suite's: its runs are kept
            values = settings.from_namespace(args, settings.HISTORY_SETTINGS, os.environ)
            keeping = settings.keeping(values, Path.cwd(), "record")
        return record(options, os.environ, keeping=keeping)
    except OptionError as exc:  # the command line, a setting, the credentials: `error:`, exit 4
        return option_error(PROG, str(exc))
    except UsageError as exc:  # what the run found on disk: one verdict line, exit 4
        return fail(Decision(Verdict.USAGE, str(exc)))
    except Halt as halt:  # an outage or a rejected token, while the token or a callout was fetched
        decision = halt_decision(halt)
        return fail(Decision(decision.verdict, f"{decision.reason}; nothing was written"))
    except BodyTooLargeError as exc:
        return fail(Decision(Verdict.DRIFT, f"{exc}; nothing was written"))


def fail(decision: Decision) -> int:
    return command_stopped(PROG, decision)


def options_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
    if args.target == "staging" and not args.base_url:
        args.base_url = STAGING_URL
    values = settings.from_namespace(args, SHARED_SETTINGS, environ)
    base_url = values["base_url"] or named_target(environ)
    if not values["callout_ids"]:
        raise OptionError(f"no callout ids: pass --ids 992011,992012 (or set {settings.SETTINGS['callout_ids'].env})")
    allow_drift = finding_kinds(args.allow_drift or [])
    if allow_drift and args.check:
        raise OptionError("--allow-drift says what to write, and --check writes nothing: give one of them")
    out = args.out if args.out is not None else default_out()
    if out.exists() and not out.is_dir():
        raise RecordingUsageError(
            f"--out {out} is a file, not a folder: give the fixtures folder, e.g. --out=contracts"
        )
    if not args.check:
        check_writable(out)
    limits = Limits(
        timeout=values["request_timeout"],
        rate_limit=values["rate_limit"],
        retries=values["retries"],
        max_body=values["max_body_size"],
    )
    return Options(
        ids=values["callout_ids"],
        base_url=base_url,
        out=out,
        update=args.update,
        check=args.check,
        scrub=not args.no_scrub,
        limits=limits,
        route=route_for(base_url, environ),  # a bad proxy or TLS variable: one usage line, nothing sent
        allow_drift=allow_drift,
    )


def named_target(environ: Mapping[str, str]) -> str:
    """Staging when the environment names it (`PANIC_API_TARGET=staging`); else no target: a usage error.

    The suite's default target is the embedded mock; record has no default at all, so that no run reaches a
    live server because an option was left out.
    """
    given = environ.get(TARGET.env or "")
    if given and TARGET.value(given) == "staging":  # a value that is neither mock nor staging: its own error
        return STAGING_URL
    which = f"{TARGET.env} is {given!r}, not a live target" if given else "no target"
    raise OptionError(
        f"{which}: record reaches a live target only when it is named; pass --target staging, or --base-url URL "
        f"for another server of this API (or set {TARGET.env}=staging or {settings.SETTINGS['base_url'].env}); "
        "nothing was sent"
    )


KINDS = tuple(str(kind) for kind in Kind)


def finding_kinds(given: list[str]) -> frozenset[Kind]:
    """--allow-drift's kinds, comma-separated or repeated; a word that is no kind names the closest one."""
    kinds = set()
    for word in (part.strip() for value in given for part in value.split(",")):
        if word not in KINDS:
            meant = closest(word, KINDS)
            hint = f"did you mean {meant}?" if meant else f"the kinds are {', '.join(KINDS)}"
            shown = f"{word[:40]!r} is not a finding kind" if word else "an empty kind"
            raise OptionError(f"--allow-drift: {shown}; {hint}")
        kinds.add(Kind(word))
    return frozenset(kinds)


def default_out() -> Path:
    """The project's contracts/ folder wherever the command runs from; installed from a wheel, ./contracts."""
    return CONTRACTS_DIR if CONTRACTS_IN_CHECKOUT else Path.cwd() / "contracts"


def check_writable(out: Path) -> None:
    """Before anything is sent: can files be created in `out` (or in the folder that will hold it)?"""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RecordingUsageError(f"--out {out}: {existing} is a file, not a folder; nothing was sent")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".panic-contract-probe-", dir=existing))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RecordingUsageError(f"--out {out}: cannot write in {existing}: {reason}; nothing was sent") from None


def record(
    options: Options, environ: Mapping[str, str], out: TextIO | None = None, keeping: Keeping | None = None
) -> int:
    """Plan, fetch and scrub everything in memory, print the shape diff, then write (or, with --check, not)."""
    stream = out or sys.stdout
    started_at = datetime.now(UTC)
    contract = default_contract()
    plan = plan_for(options)
    refuse_to_clobber(plan, options)
    earlier = {planned.path: load_earlier(planned.path) for planned in plan}
    seen_statuses = statuses_in(options.out)
    quota = Quota(rate_limit=options.limits.rate_limit)
    token = token_from_environment(options.base_url, environ, limits=options.limits, quota=quota, route=options.route)
    scrub_key = scrub_key_from(environ) if options.scrub else None
    where = "comparing with" if options.check else "into"
    print(f"recording {len(plan)} exchange(s) from {options.host} {where} {options.out}/", file=stream)

    def fetched(number: int, item: Recorded) -> None:
        status = item.record["response"]["status"]
        print(f"[{number}/{len(plan)}] {item.planned.label} {status} {progress_note(item)}", file=stream)

    sender = Sender(
        options.base_url,
        token,
        documented_method=contract.method,
        limits=options.limits,
        quota=quota,
        route=options.route,
    )
    with sender:
        recorded = fetch_all(plan, options, sender, scrub_key=scrub_key, contract=contract, progress=fetched)
    diffs = [shape_diff(item, earlier[item.planned.path], seen_statuses, contract) for item in recorded]
    for line in report_lines(diffs, options.out):
        print(line, file=stream)
    drifted = sum(diff.drift for diff in diffs)
    if options.check:
        checked = Checked(keeping, recorded, started_at) if keeping is not None else None
        return report_check(drifted, len(diffs), options, stream, checked)
    refused = refusal(recorded, options)
    if refused is not None:
        for line in refused.lines:
            print(terminal_line(line), file=stream)  # a finding quotes what the server sent
        return fail(refused.decision)
    write_recorded(recorded, options)
    scrubbed = "scrubbed" if options.scrub else "NOT scrubbed (--no-scrub)"
    print(
        f"recorded {len(recorded)} fixture(s) into {options.out}/ from {options.host}, {scrubbed}; "
        f"{drifted} with shape drift",
        file=stream,
    )
    return EXIT_CODES[Verdict.OK]


def progress_note(item: Recorded) -> str:
    inspection, expected = item.inspection, item.planned.expected_status
    note = str(inspection.signal) if inspection.signal else ", ".join(f.kind for f in inspection.findings) or "ok"
    status = item.record["response"]["status"]
    if expected is None and status == 404:
        return "no such callout"
    if is_redirect(status):
        return f"{note} (a redirect, not followed)"
    return note if expected in {None, status} else f"{note} (expected {expected})"


@dataclass(frozen=True)
class Checked:
    """What a --check run keeps in its history: where, what it fetched, when it started."""

    keeping: Keeping
    recorded: Sequence[Recorded]
    started_at: datetime

    def keep(self, decision: Decision, options: Options, stream: TextIO) -> None:
        """Keep the run, with the findings of what it fetched; print how they stand (before the verdict)."""
        ledger = Ledger()
        for item in self.recorded:
            ledger.add(item.inspection)
        name = "staging" if options.base_url == STAGING_URL else "custom"
        facts = RunFacts(name, options.base_url, default_contract().spec_path, self.started_at)
        past = keep(self.keeping, ledger, decision, facts)
        lines = [
            f"history: {entry.first.kind} {entry.first.field or '-'}: {annotation.tag()}"
            for entry in ledger.sorted_entries()
            if (annotation := past.of(entry)) is not None
        ]
        for line in [*lines, *past.fixed_lines(), *([past.note] if past.note else [])]:
            print(terminal_line(line), file=stream)


def report_check(drifted: int, total: int, options: Options, stream: TextIO, checked: Checked | None = None) -> int:
    if drifted:
        decision = Decision(Verdict.DRIFT, f"shape drift in {drifted} of {total} exchange(s); nothing written")
    else:
        decision = Decision(Verdict.OK, f"no shape drift against {options.out}/; nothing written")
    if checked is not None:
        checked.keep(decision, options, stream)
    print(verdict_line(decision), file=stream)
    return decision.exit_code
