"""`panic-contract record`: record fixtures from a live target, scrubbed, and say how the shape moved.

For each id in `--ids` it fetches the callout, then one id that does not exist (a 404) and one
request without a token (a 401), and writes one fixture per exchange. Everything is fetched
and scrubbed in memory first, so an outage or a rejected token half-way writes nothing; each
file is then written atomically. Re-recording over earlier fixtures prints a shape diff:
fields added or removed, type or nullness changes, status values never seen before. Ordinary
value changes are listed apart and are never drift. `--check` only compares.

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 shape drift (`--check` only) or a body
over `--max-body-size` (drift, as the suite judges it; nothing is written), 4 usage (nothing was sent,
or nothing written), 10 outage, 11 token rejected.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from panic_contract import settings
from panic_contract.core.contract import STAGING_URL, default_contract
from panic_contract.core.fixtures import CONTRACTS_DIR, CONTRACTS_IN_CHECKOUT
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, command_stopped, halt_decision, verdict_line
from panic_contract.errors import UsageError
from panic_contract.faults import Halt
from panic_contract.recording.recorder import (
    BodyTooLargeError,
    Options,
    Recorded,
    RecordingUsageError,
    fetch_all,
    load_earlier,
    plan_for,
    refuse_to_clobber,
    statuses_in,
    write_recorded,
)
from panic_contract.recording.scrub import SCRUB_KEY_VARIABLE, scrub_key_from
from panic_contract.recording.shape import report_lines, shape_diff
from panic_contract.sending.auth import CLIENT_ID_VARIABLE, CLIENT_SECRET_VARIABLE, TOKEN_VARIABLE
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits, Sender
from panic_contract.sending.token import token_from_environment
from panic_contract.sending.transport import route_for

# Precedence, as in the suite (`settings`): command line, then environment variable, then default.
SHARED_SETTINGS = ("callout_ids", "base_url", "rate_limit", "request_timeout", "retries", "max_body_size")
PROG = "panic-contract record"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"The token comes only from the environment: {TOKEN_VARIABLE}, or {CLIENT_ID_VARIABLE} and "
        f"{CLIENT_SECRET_VARIABLE} (exchanged for a token at the target). It is never a flag, and is written "
        f"nowhere. {SCRUB_KEY_VARIABLE} keys the customerId pseudonyms. Exit codes: 0 recorded, 1 shape drift "
        "(--check) or a body over --max-body-size (nothing written), 4 usage, 10 outage, 11 token rejected."
    )
    settings.add_arguments(parser, SHARED_SETTINGS)
    parser.add_argument(
        "--target", choices=["staging"], help=f"record from provider staging ({STAGING_URL}); wins over the variable"
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


def run(args: argparse.Namespace) -> int:
    try:
        options = options_from(args, os.environ)
        return record(options, os.environ)
    except UsageError as exc:  # the command's own, a setting, the credentials: one line, exit 4
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
    if not values["callout_ids"]:
        raise RecordingUsageError(
            f"no callout ids: pass --ids 992011,992012 (or set {settings.SETTINGS['callout_ids'].env})"
        )
    out = args.out if args.out is not None else default_out()
    if out.exists() and not out.is_dir():
        raise RecordingUsageError(
            f"--out {out} is a file, not a folder: give the fixtures folder, e.g. --out contracts"
        )
    if not args.check:
        check_writable(out)
    base_url = values["base_url"] or STAGING_URL
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
    )


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


def record(options: Options, environ: Mapping[str, str], out: TextIO | None = None) -> int:
    """Plan, fetch and scrub everything in memory, print the shape diff, then write (or, with --check, not)."""
    stream = out or sys.stdout
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
        return report_check(drifted, len(diffs), options, stream)
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
    return note if expected in {None, status} else f"{note} (expected {expected})"


def report_check(drifted: int, total: int, options: Options, stream: TextIO) -> int:
    if drifted:
        decision = Decision(Verdict.DRIFT, f"shape drift in {drifted} of {total} exchange(s); nothing written")
    else:
        decision = Decision(Verdict.OK, f"no shape drift against {options.out}/; nothing written")
    print(verdict_line(decision), file=stream)
    return decision.exit_code
