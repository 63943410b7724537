"""`panic-contract audit FILE...`: hold a capture of real traffic to the contract.

FILE is a HAR file (as browsers and proxies export it) or JSON Lines, one exchange record per
line in the fixture format (`request` and `response`; the fixture's description, operation and
provenance may be left out). Every `GET /panic-api/v2/callouts/{id}` exchange is judged by
`findings.inspect`, the same code the suite uses, and folded into one ledger; other exchanges
are counted and skipped. The verdict, exit code and JSON/Markdown reports are the suite's.

Only the API's own traffic is judged: exchanges with the hosts the spec and the provider's documentation
name, and those given with `--server`; the rest are counted per host and skipped. A capture that does not
show a request's Authorization header (a "sanitized" export) says nothing about auth: such exchanges are
judged with the credentials unknown. An entry whose body was not saved is judged on what it has.

It streams: JSON Lines are read line by line, and a HAR's entries are found by a byte scan and parsed
by orjson a batch at a time (ijson reads a HAR that scan cannot read exactly, see `capture.har`),
so memory stays flat whatever the file size; no line, string or entry is read past a bound set by
`--max-body-size`. Several files (or glob patterns) make one audit; `--jobs N` judges large files in
parts on N worker processes, with the report of one pass (see `capture.splitting`).

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 drift, 4 bad input or usage (one
line naming the position; nothing is reported), 10 outage (the capture shows 502/503/504),
11 auth (401 although a token was sent), 12 inconclusive (no exchange of this operation in FILE,
or none whose body could be judged). Ctrl-C or SIGTERM: the verdict and reports of what was read.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from panic_contract import settings
from panic_contract.capture.reading import STDIN
from panic_contract.capture.result import AuditInputError, AuditInterruptedError, AuditResult, ReadOptions
from panic_contract.capture.splitting import PART_BYTES_ENV, audit_files, file_size, sigterm_stops, usable_cores
from panic_contract.commands.cli import option_error
from panic_contract.core import reports
from panic_contract.core.accepted import load as load_acceptance
from panic_contract.core.contract import Contract, default_contract, load_contract
from panic_contract.core.ending import end_run
from panic_contract.core.ledger import Ledger
from panic_contract.core.verdict import Decision, Verdict, command_stopped, decide
from panic_contract.errors import OptionError, UsageError
from panic_contract.outputs import terminal_line

PROG = "panic-contract audit"
# The suite's settings (`settings`: command line, then environment variable, then default), so one CI
# job can set them for both.
AUDIT_SETTINGS = (
    "spec",
    "strict_drift",
    "accepted_drift",
    "accept_max_days",
    "drift_report",
    "drift_report_md",
    "drift_report_html",
    "drift_report_sarif",
    "coverage",
    "max_body_size",
    "server",
    "reads",
    *settings.HISTORY_SETTINGS,
)
PROGRESS_MIN_BYTES = 16 << 20  # smaller files finish before a bar is worth drawing


class ProgressBar:
    """One carriage-return line on a terminal: percent of the file read and entries so far."""

    def __init__(self, stream: IO[str], total_bytes: int) -> None:
        self.stream = stream
        self.total = max(total_bytes, 1)
        self.drawn = False

    def __call__(self, done_bytes: int, entries: int) -> None:
        percent = min(100, done_bytes * 100 // self.total)
        self.stream.write(f"\r{PROG}: {percent:3d}% read, {entries:,} exchanges")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="a HAR file, or JSON Lines of exchange records; gzip-compressed too; - reads standard input; "
        "several files or a quoted glob pattern ('logs/*.jsonl.gz') make one audit with one report",
    )
    parser.add_argument(
        "--jobs",
        type=jobs_count,
        default=None,
        metavar="N",
        help=f"worker processes (default: every usable core, here {usable_cores()}). A large JSON Lines file is "
        "cut at line starts, a large HAR between entries; several files are audited side by side. Standard "
        "input and a gzip file cannot be cut: each is read by one process",
    )
    settings.add_arguments(parser, AUDIT_SETTINGS)


def jobs_count(text: str) -> int:
    """--jobs N: a whole number of at least 1."""
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, 1 or more, not {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    started_at, started = datetime.now(UTC), time.monotonic()
    try:
        values = settings.from_namespace(args, AUDIT_SETTINGS, os.environ)
        strict_drift = bool(values["strict_drift"])
        contract = load_contract(values["spec"]) if values["spec"] else default_contract()
        settings.check_reads(values["reads"], contract)
        accepted_drift, max_days = values["accepted_drift"], values["accept_max_days"]
        acceptance = load_acceptance(Path(accepted_drift), None, max_days) if accepted_drift else None
        files = expand(args.files)
        part_bytes = _part_bytes(os.environ.get(PART_BYTES_ENV))
        options = ReadOptions(
            values["max_body_size"],
            tuple(values["server"] or ()),
            acceptance,
            part_bytes,
            reads=values["reads"],
            coverage=bool(values["coverage"]),
        )
    except OptionError as exc:  # a setting: the command line, not a verdict
        return option_error(PROG, str(exc))
    except (AuditInputError, UsageError) as exc:  # a capture, the spec, the accepted drift: one line
        return fail(Decision(Verdict.USAGE, str(exc)))
    interrupted: str | None = None
    try:
        with sigterm_stops():
            result = _audit_with_progress(files, contract, args.jobs or usable_cores(), options)
    except AuditInterruptedError as stop:
        result, interrupted = stop.partial, stop.how
    except AuditInputError as exc:
        return fail(Decision(Verdict.USAGE, str(exc)))
    if len(files) > 1:
        source = shown = f"{len(files)} files"
        kinds = f"{', '.join(dict.fromkeys(result.formats))}"
    else:
        source = "standard input" if files[0] == STDIN else files[0].name
        shown, kinds = ("standard input" if files[0] == STDIN else str(files[0])), result.format
    decision = verdict_for(result, strict_drift=strict_drift, source=source, interrupted=interrupted)
    run_info = reports.RunInfo(
        target="audit",
        base_url=result.base_url or source,
        spec=contract.spec_path.name,
        started_at=started_at,
        duration_s=time.monotonic() - started,
        json_report=values["drift_report"],
        spec_path=contract.spec_path,
    )
    head = [f"{PROG}: {shown} ({kinds}): {result.summary()}", *where_lines(result.ledger)]
    ending = end_run(
        result.ledger,
        decision,
        run_info,
        values["drift_report"],
        values["drift_report_md"],
        html_path=values["drift_report_html"],
        head=head,
        keeping=settings.keeping(values, Path.cwd(), "audit"),
        sarif_path=values["drift_report_sarif"],
    )
    # Every line is masked: a finding may quote a value the capture's own credentials echo into.
    for line in ending.lines:
        print(terminal_line(line))
    for line in ending.errors:
        print(terminal_line(f"{PROG}: {line}"), file=sys.stderr)
    print(terminal_line(ending.verdict_line))
    return ending.exit_code


def verdict_for(result: AuditResult, *, strict_drift: bool, source: str, interrupted: str | None = None) -> Decision:
    """The suite's verdict; an audit that judged no exchange of the operation, or no body of one, is
    inconclusive, never ok. Interrupted: the suite's `interrupted` (130), never a pass, saying what was read."""
    decision = _verdict_whole(result, strict_drift=strict_drift, source=source)
    if interrupted is None:
        return decision
    return Decision(
        Verdict.INTERRUPTED,
        f"interrupted by {interrupted} after {result.entries:,} exchanges, before the audit finished: the reports "
        f"hold what was read ({decision.verdict}: {decision.reason}); run it again for a verdict",
    )


def _verdict_whole(result: AuditResult, *, strict_drift: bool, source: str) -> Decision:
    if result.audited == 0:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"no GET /panic-api/v2/callouts/{{id}} exchange in {source} ({result.summary()}): nothing was checked",
        )
    host = result.base_url or source
    decision = decide(result.ledger, strict_drift=strict_drift, host=host)
    bodies = result.audited - result.unsaved - result.ledger.signals.get("rate-limited", 0)
    if decision.verdict is Verdict.OK and result.unsaved and bodies <= 0:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"no body in {source} could be judged ({result.summary()}): export the capture with its content",
        )
    return Decision(decision.verdict, f"{decision.reason}; {result.summary()}")


def where_lines(ledger: Ledger) -> list[str]:
    """Where each finding first showed in the capture: positions a person can open the file at."""
    return [
        f"first seen: {entry.first.kind} {entry.first.field or '-'} at {', '.join(entry.samples)}"
        for entry in ledger.sorted_entries()
    ]


def fail(decision: Decision) -> int:
    return command_stopped(PROG, decision)


def _part_bytes(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise AuditUsageError(f"{PART_BYTES_ENV} is {text[:20]!r}; give a whole number of bytes, 1 or more")
    return int(text)


def _audit_with_progress(paths: list[Path], contract: Contract, jobs: int, options: ReadOptions) -> AuditResult:
    bar = None
    if sys.stderr.isatty():
        size = sum(file_size(path) for path in paths)
        bar = ProgressBar(sys.stderr, size) if size >= PROGRESS_MIN_BYTES else None
    try:
        return audit_files(paths, contract, jobs=jobs, progress=bar, options=options)
    finally:
        if bar is not None:
            bar.close()


def expand(patterns: Sequence[Path]) -> list[Path]:
    """The files named, a glob pattern (`logs/*.jsonl.gz`) expanded in name order; each file once."""
    files: list[Path] = []
    for pattern in patterns:
        text = str(pattern)
        if pattern != STDIN and not pattern.exists() and glob.has_magic(text):
            found = sorted(glob.glob(text))
            if not found:
                raise AuditUsageError(f"{text}: no file matches this pattern")
            files.extend(Path(name) for name in found)
        else:
            files.append(pattern)
    if files.count(STDIN) > 1:
        raise AuditUsageError("- (standard input) can be given once")
    return list(dict.fromkeys(files))


class AuditUsageError(AuditInputError):
    """The command line names no capture to read: one line, exit 4."""
