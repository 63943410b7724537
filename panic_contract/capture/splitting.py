"""Auditing several captures, and large ones on several cores, with the report one pass over them would give.

The work is cut into tasks in file order: a whole file (gzip, standard input, a small file), or a
byte range of a large one (JSON Lines: at line starts; HAR: just before an entry). Each task gives
its ledger as `Ledger.as_dict()` with positions counted from its own start; they are added back
in file order, positions shifted by the lines or entries before them, so the findings, counts and
first positions are those of one pass over the files. A cut in a HAR is checked by the part that
ends at it (`_har_parts`); a part that does not check out, or fails, has its file audited again
in one pass, so what is reported (an error and its position included) is what one pass reports.

Ctrl-C, and SIGTERM within `sigterm_stops`, end every worker at once: the workers ignore both (their
parent decides), and what was judged until then is raised in `AuditInterruptedError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import multiprocessing
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, cast

import ijson
import orjson

from panic_contract.capture.guard import MAX_DEPTH, DepthGuard, NestingError
from panic_contract.capture.har import IJSON, SplitMismatchError, audit_har
from panic_contract.capture.jsonl import audit_lines
from panic_contract.capture.reading import GZIP_MAGIC, SNIFF_BYTES, STDIN, UTF8_BOM, audit_file, detect_format
from panic_contract.capture.result import (
    READ_BUFFER,
    AuditInputError,
    AuditInterruptedError,
    AuditResult,
    Format,
    Interrupted,
    Progress,
    ReadOptions,
    Terminated,
    how_stopped,
)
from panic_contract.core.contract import Contract, default_contract, load_contract

MIN_PART_BYTES = 8 << 20  # a smaller part costs more to hand out than to judge
PART_BYTES_ENV = "PANIC_CONTRACT_AUDIT_PART_BYTES"  # the project's own tests cut small captures with it
PARTS_PER_JOB = 4  # several parts a worker, so a worker slowed by other load does not hold up the rest
SPLIT_WINDOW = 4 << 20  # how far past a cut point to look for a line start or an entry start
_HAR_HEAD = b'{"log":{"entries":['
_POSITION = re.compile(r"^(line|entry) (\d+)")
_KEY = re.compile(r"[A-Za-z0-9_$.@-]{1,64}")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Task:
    path: Path
    start: int = 0  # a part of the file: [start, end), else the whole file through audit_file
    end: int | None = None
    fmt: Format | None = None  # None: the whole file
    first: bool = True
    last: bool = True
    marker: dict[str, str] | None = None  # HAR parts but the last: the entry appended after the cut
    options: ReadOptions = field(default_factory=ReadOptions)


@dataclass
class _Outcome:
    """One task's result, as plain data a worker sends back."""

    fmt: Format
    ledger: dict[str, Any]
    entries: int = 0
    skipped: int = 0
    unanswered: int = 0
    audited: int = 0
    base_url: str | None = None
    positions: int = 0  # lines (JSON Lines) or entries (HAR) read: the next part's numbers follow them
    error: str | None = None  # AuditInputError's line: naming the file, or (`in_part`) a position in the part
    in_part: bool = False
    redo_whole: bool = False  # a HAR part that did not check out: audit its file again in one pass
    other_hosts: dict[str, int] = field(default_factory=dict)
    unsaved: int = 0
    no_credential: int = 0
    secrets: list[str] = field(default_factory=list)  # registered here too: the reports are written here


def _outcome(result: AuditResult, positions: int = 0) -> _Outcome:
    return _Outcome(
        result.format,
        result.ledger.as_dict(),
        result.entries,
        result.skipped,
        result.unanswered,
        result.audited,
        result.base_url,
        positions,
        other_hosts=dict(result.other_hosts),
        unsaved=result.unsaved,
        no_credential=result.no_credential,
        secrets=sorted(result.secrets),
    )


_worker_contract: Contract | None = None  # set before the pool forks; else loaded by _start_worker


def _start_worker(spec_path: Path) -> None:
    global _worker_contract  # noqa: PLW0603 - one contract per worker process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle: the verdict so far
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the main process's handler, inherited by fork: just end
    if _worker_contract is None:
        _worker_contract = load_contract(spec_path)


def _start_method() -> str | None:
    """fork where it is safe and cheap (workers inherit the loaded contract); from Python 3.12 on, forking a
    process that runs threads (the pool's own) is deprecated: the platform's default, which loads it again."""
    if "fork" in multiprocessing.get_all_start_methods() and sys.version_info < (3, 12):
        return "fork"
    return None


def _run_task(task: _Task, contract: Contract | None = None) -> _Outcome:
    contract = contract or _worker_contract or default_contract()
    try:
        if task.fmt is None:
            return _outcome(audit_file(task.path, contract, options=task.options))
        with task.path.open("rb", buffering=0) as raw:
            raw.seek(task.start)
            parts: list[bytes | tuple[IO[bytes], int]] = []
            if task.fmt == "har" and not task.first:
                parts.append(_HAR_HEAD)
            assert task.end is not None
            parts.append((cast(IO[bytes], raw), task.end - task.start))
            if task.marker is not None:
                parts.append(b"," + orjson.dumps(task.marker) + b"]}}")
            stream = io.BufferedReader(_Spliced(parts), READ_BUFFER)
            result = AuditResult(task.fmt, task.options.ledger(contract))
            if task.fmt == "jsonl":
                return _outcome(result, audit_lines(stream, contract, result, options=task.options))
            try:
                audit_har(stream, contract, result, split_marker=task.marker, options=task.options)
            except (AuditInputError, SplitMismatchError):
                return _Outcome("har", {}, redo_whole=True)
            return _outcome(result, result.entries)
    except AuditInputError as exc:
        return _Outcome(task.fmt or "jsonl", {}, error=str(exc), in_part=task.fmt is not None)
    except OSError as exc:
        return _Outcome(task.fmt or "jsonl", {}, error=f"{task.path}: cannot read the capture: {exc.strerror or exc}")


class _Spliced(io.RawIOBase):
    """Bytes given, then `size` bytes of an open file from where it stands, then more bytes given."""

    def __init__(self, parts: list[bytes | tuple[IO[bytes], int]]) -> None:
        super().__init__()
        self.parts = parts
        self.index = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self.index < len(self.parts):
            part = self.parts[self.index]
            if isinstance(part, bytes):
                size = min(len(buffer), len(part))
                buffer[:size] = part[:size]
                rest: bytes | tuple[IO[bytes], int] = part[size:]
            else:
                file, left = part
                size = 0
                if left:
                    size = file.readinto(memoryview(buffer)[: min(len(buffer), left)]) or 0  # type: ignore[attr-defined]
                rest = (file, left - size) if size else b""
            if rest:
                self.parts[self.index] = rest
            else:
                self.index += 1
            if size:
                return size
        return 0


def _plan(path: Path, jobs: int, options: ReadOptions | None = None) -> list[_Task]:
    """The tasks for one file: itself, or parts of it when it is large, seekable and not compressed."""
    options = options or ReadOptions()
    part_bytes = options.part_bytes or MIN_PART_BYTES
    whole = [_Task(path, options=options)]
    if jobs < 2 or path == STDIN or path.suffix.lower() == ".gz":
        return whole
    try:
        if not path.is_file() or path.stat().st_size < 2 * part_bytes:
            return whole
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            head = stream.read(SNIFF_BYTES)
            if head.startswith(GZIP_MAGIC):
                return whole
            start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
            fmt = detect_format(path, head[start:])
            count = min(jobs * PARTS_PER_JOB, size // part_bytes)
            points = [size * k // count for k in range(1, count)]
            if fmt == "jsonl":
                parts = _jsonl_parts(path, stream, start, size, points)
            else:
                parts = _har_parts(path, stream, head[start:], start, size, points)
            return [dataclasses.replace(part, options=options) for part in parts]
    except (OSError, AuditInputError):
        return whole  # audited in one pass, which says what is wrong with it


def _jsonl_parts(path: Path, stream: IO[bytes], start: int, size: int, points: list[int]) -> list[_Task]:
    cuts = [start]
    for point in points:
        if point <= cuts[-1]:
            continue
        stream.seek(point - 1)
        window = stream.read(1 << 16)  # lines are short: the next line end is near
        end_of_line = window.find(b"\n")
        if end_of_line < 0:
            window += stream.read(SPLIT_WINDOW)
            end_of_line = window.find(b"\n")
        if end_of_line < 0 or point + end_of_line >= size:
            break  # a line longer than the window, or the last line: no cut here
        cuts.append(point + end_of_line)
    ends = [*cuts[1:], size]
    return [
        _Task(path, begin, end, "jsonl", first=n == 0, last=end == size)
        for n, (begin, end) in enumerate(zip(cuts, ends, strict=True))
    ]


def _har_parts(  # noqa: PLR0917 - private, one caller
    path: Path, stream: IO[bytes], head: bytes, start: int, size: int, points: list[int]
) -> list[_Task]:
    """HAR parts, each cut at `,{"KEY":` where KEY is the first key of the first entry.

    In valid JSON those bytes are always an object starting an array element (a quote after `{` cannot
    be inside a string), but not always an entry of log.entries: each part but the last is closed
    with a marker entry, and the part holds only when the marker comes out as its last entry.
    """
    key = _first_entry_key(head)
    if key is None:
        return [_Task(path)]
    entry_start = re.compile(rb',\s*\{\s*"' + re.escape(key.encode()) + rb'"\s*:')
    cuts: list[tuple[int, int]] = []  # (where the previous part ends: the comma, where the next begins)
    for point in points:
        if cuts and point <= cuts[-1][1]:
            continue
        stream.seek(point)
        window = stream.read(1 << 18)
        found = entry_start.search(window)
        if found is None:
            found = entry_start.search(window + stream.read(SPLIT_WINDOW))
        if found is None:
            continue
        comma = point + found.start()
        cuts.append((comma, comma + found.group().index(b"{")))
    if not cuts:
        return [_Task(path)]
    marker = {"panicContractSplit": os.urandom(8).hex()}
    begins = [start, *(begin for _, begin in cuts)]
    ends = [*(end for end, _ in cuts), size]
    last = len(begins) - 1
    return [
        _Task(path, begin, end, "har", first=n == 0, last=n == last, marker=None if n == last else marker)
        for n, (begin, end) in enumerate(zip(begins, ends, strict=True))
    ]


def _first_entry_key(head: bytes) -> str | None:
    """The first key of the first HAR entry in `head`, when it is a plain one."""
    try:
        for prefix, event, value in IJSON.parse(DepthGuard(io.BytesIO(head), MAX_DEPTH)):
            if prefix == "log.entries.item" and event != "start_map":
                return value if event == "map_key" and _KEY.fullmatch(value) else None
    except (ijson.JSONError, NestingError):
        pass
    return None


def audit_files(
    paths: Sequence[Path],
    contract: Contract | None = None,
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
) -> AuditResult:
    """Judge the captures at `paths`, in order, as one pass over all of them; with `jobs` worker processes.

    With several files, positions name the file (`a.jsonl line 12`). Standard input is read by this
    process; a gzip file is one task (it cannot be cut); several files go to the workers side by side.
    Ctrl-C (or SIGTERM, within `sigterm_stops`) raises AuditInterruptedError holding what was judged so far;
    every worker is ended first.
    """
    contract = contract or default_contract()
    options = options or ReadOptions()
    plans = [_plan(path, jobs, options) for path in paths]
    total = AuditResult("jsonl", options.ledger(contract))
    workers = min(jobs, sum(1 for plan in plans for task in plan if task.path != STDIN))
    if workers < 2:
        _audit_here(total, paths, contract, progress, options)
        return total
    global _worker_contract  # noqa: PLW0603 - inherited by forked workers, so they need not load the spec
    _worker_contract = contract
    context = multiprocessing.get_context(_start_method())
    with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=(contract.spec_path,)) as pool:
        _audit_on_pool(total, pool, _Ahead(pool, plans, workers * PARTS_PER_JOB * 2), paths, plans, contract, progress)
    return total


def _audit_here(
    total: AuditResult, paths: Sequence[Path], contract: Contract, progress: Progress | None, options: ReadOptions
) -> None:
    named = len(paths) > 1
    done = 0
    for path in paths:
        try:
            outcome = _local(path, contract, _offset_progress(progress, done, total.entries), options)
        except Interrupted as stop:
            if stop.partial is not None:
                _add_outcomes(total, path, [_outcome(stop.partial)], named)
            raise AuditInterruptedError(total, stop.how) from None
        _add_outcomes(total, path, [outcome], named)
        done += file_size(path)


def _audit_on_pool(  # noqa: PLR0917 - private, one caller
    total: AuditResult,
    pool: ProcessPoolExecutor,
    ahead: _Ahead,
    paths: Sequence[Path],
    plans: list[list[_Task]],
    contract: Contract,
    progress: Progress | None,
) -> None:
    named = len(paths) > 1
    outcomes: list[_Outcome] = []
    path = paths[0]
    try:
        done = 0
        for number, (path, plan) in enumerate(zip(paths, plans, strict=True)):
            outcomes = []
            for task in plan:
                future = ahead.next()
                outcome = _run_task(task, contract) if future is None else future.result()
                if outcome.redo_whole:
                    ahead.drop(number)
                    outcomes = [_local(path, contract, None, task.options)]
                    break
                outcomes.append(outcome)
                if outcome.error is not None:
                    break
                done += file_size(path) if task.fmt is None else (task.end or 0) - task.start
                if progress is not None:
                    progress(done, total.entries + sum(o.entries for o in outcomes))
            finished, outcomes = outcomes, []
            _add_outcomes(total, path, finished, named)
    except KeyboardInterrupt as stop:
        _end_workers(pool)
        partial = stop.partial if isinstance(stop, Interrupted) else None
        _add_outcomes(total, path, [*outcomes, *([_outcome(partial)] if partial is not None else [])], named)
        raise AuditInterruptedError(total, how_stopped(stop)) from None
    except BrokenProcessPool:
        _end_workers(pool)
        if _terminated.is_set():  # SIGTERM reached the workers first: stopped, as the main process was
            _add_outcomes(total, path, outcomes, named)
            raise AuditInterruptedError(total, "SIGTERM") from None
        raise AuditInputError(
            "a worker process ended without its result (killed, or out of memory?): audit again, or with --jobs 1"
        ) from None
    except BaseException:
        _end_workers(pool)
        raise


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """End every worker now, not after its part: on Ctrl-C, SIGTERM or an error none may run on unowned."""
    terminate = getattr(
        pool, "terminate_workers", None
    )  # Python 3.14 (https://github.com/python/cpython/issues/128041)
    if terminate is not None:
        terminate()
        return
    # Before 3.14 only the pool's private map holds them (and shutdown() empties it: read it first).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()


class _Ahead:
    """The tasks handed to the pool in file order, at most `limit` ahead of the one being added in, so
    memory stays bounded for any number of files. Standard input is read here, when its turn comes."""

    def __init__(self, pool: ProcessPoolExecutor, plans: list[list[_Task]], limit: int) -> None:
        self.pool, self.limit = pool, limit
        self.tasks = [(number, task) for number, plan in enumerate(plans) for task in plan]
        self.futures: dict[int, Future[_Outcome] | None] = {}
        self.taken = self.submitted = 0
        self.dropped: set[int] = set()

    def next(self) -> Future[_Outcome] | None:
        """The next task's future (None: run it here); tasks of a dropped file are skipped."""
        while self.submitted < len(self.tasks) and self.submitted <= self.taken + self.limit:
            number, task = self.tasks[self.submitted]
            if number not in self.dropped and task.path != STDIN:
                self.futures[self.submitted] = self.pool.submit(_run_task, task)
            self.submitted += 1
        while self.tasks[self.taken][0] in self.dropped:
            self.taken += 1
        future = self.futures.pop(self.taken, None)
        self.taken += 1
        return future

    def drop(self, number: int) -> None:
        """File `number` is audited again in one pass: its other parts are not needed."""
        self.dropped.add(number)
        for index in [i for i in self.futures if self.tasks[i][0] == number]:
            future = self.futures.pop(index)
            if future is not None:
                future.cancel()


def _offset_progress(progress: Progress | None, done: int, entries: int) -> Progress | None:
    if progress is None:
        return None
    report = progress
    return lambda read, seen: report(done + read, entries + seen)


def _local(path: Path, contract: Contract, progress: Progress | None, options: ReadOptions) -> _Outcome:
    try:
        return _outcome(audit_file(path, contract, progress=progress, options=options))
    except AuditInputError as exc:
        return _Outcome("jsonl", {}, error=str(exc))


def file_size(path: Path) -> int:
    """The bytes of a capture file, for progress: 0 for standard input, or a file that cannot be read."""
    try:
        return 0 if path == STDIN else path.stat().st_size
    except OSError:
        return 0


def _add_outcomes(total: AuditResult, path: Path, outcomes: list[_Outcome], named: bool) -> None:
    """Add one file's outcomes to `total`, in file order, positions shifted; the first error ends the audit."""
    prefix = ("standard input " if path == STDIN else f"{path} ") if named else ""
    offset = 0
    chosen = False
    base_url = None
    if outcomes and outcomes[-1].error is None:
        total.formats.append(outcomes[-1].fmt)
    for outcome in outcomes:
        if outcome.error is not None:
            if not outcome.in_part:
                raise AuditInputError(outcome.error)
            raise AuditInputError(f"{path}: {_shifted(outcome.error, offset, '')}")
        total.format = outcome.fmt
        total.entries += outcome.entries
        total.skipped += outcome.skipped
        total.unanswered += outcome.unanswered
        total.unsaved += outcome.unsaved
        total.no_credential += outcome.no_credential
        for host, count in outcome.other_hosts.items():
            total.note_host(host, count)
        total.keep_secrets(outcome.secrets)  # a worker's registrations end with it: this process masks the reports
        for item in [*outcome.ledger["findings"], *outcome.ledger["accepted"]]:
            item["samples"] = [_shifted(sample, offset, prefix) for sample in item["samples"]]
        total.ledger.merge(outcome.ledger)
        # JSON Lines name their host on the first judged record only; a HAR, on the first that says it
        if not chosen and (outcome.base_url is not None or (outcome.fmt == "jsonl" and outcome.audited)):
            base_url, chosen = outcome.base_url, True
        offset += outcome.positions
    if total.base_url is None:
        total.base_url = base_url


def _shifted(text: str, offset: int, prefix: str) -> str:
    """`line 12` of a part that starts after `offset` lines, as the whole file numbers it (`a.jsonl line 12`)."""
    if not offset and not prefix:
        return text
    return _POSITION.sub(lambda m: f"{prefix}{m[1]} {int(m[2]) + offset}", text, count=1)


_terminated = threading.Event()  # set by the SIGTERM handler: a worker that died of the same SIGTERM is no error


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """While the audit runs, SIGTERM stops it as Ctrl-C does: workers ended, the verdict of what was read.

    (By default SIGTERM ends this process at once and leaves its workers running, orphaned.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        _terminated.set()
        raise Terminated

    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
