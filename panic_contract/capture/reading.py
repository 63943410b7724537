"""Reading one capture file in one pass: open it, tell its format, and hand it to that format's reader.

A regular file, a named pipe or standard input; gzip-compressed or not; a UTF-8 byte order mark skipped.
Anything that is not a capture (a folder, a device, a pipe no program writes to) is refused at once, and
every failure to read is one line naming the file (`AuditInputError`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import sys
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson

from panic_contract.capture.har import audit_har
from panic_contract.capture.jsonl import audit_lines
from panic_contract.capture.result import (
    READ_BUFFER,
    AuditInputError,
    AuditResult,
    Format,
    Interrupted,
    Progress,
    ReadOptions,
    how_stopped,
)
from panic_contract.core.contract import Contract, default_contract

FORMAT_BY_SUFFIX: Mapping[str, Format] = {".har": "har", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SNIFF_BYTES = 1 << 16
STDIN = Path("-")
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
PIPE_WAIT_S = 5.0  # how long a named pipe may go without a writer before the audit says so


def detect_format(path: Path, head: bytes) -> Format:
    """By extension, else by the first bytes: a JSON Lines record per line, or one HAR document."""
    by_suffix = FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if by_suffix is not None:
        return by_suffix
    first_line = head.lstrip().split(b"\n", 1)[0]
    try:
        first = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        first = None
    if isinstance(first, dict) and "request" in first:
        return "jsonl"
    if head.lstrip().startswith(b"{"):
        return "har"  # one JSON document, usually pretty-printed over many lines
    raise AuditInputError(f"{path}: cannot tell the format from its content: name it .har (HAR) or .jsonl (JSON Lines)")


def audit_file(
    path: Path,
    contract: Contract | None = None,
    *,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
) -> AuditResult:
    """Judge every exchange of the contract's operation in the capture at `path` (`-`: standard input).

    A gzip stream (a .gz name or gzip's magic bytes) is read decompressed, a UTF-8 byte order mark is
    skipped, and CRLF line ends are read like LF. Ctrl-C raises `Interrupted` with what was judged so far.
    """
    contract = contract or default_contract()
    options = options or ReadOptions()
    label = "standard input" if path == STDIN else str(path)
    result: AuditResult | None = None
    with contextlib.ExitStack() as stack:
        try:
            raw = _open_input(path, label, stack)
            capture = _open_capture(path, raw, stack)
            result = AuditResult(capture.fmt, options.ledger(contract))
            if progress is not None and capture.position is not None:
                position, report = capture.position, progress
                progress = lambda _done, entries: report(position(), entries)  # noqa: E731 - file bytes, not gzip's
            if capture.fmt == "jsonl":
                audit_lines(capture.stream, contract, result, progress, options)
            else:
                audit_har(capture.stream, contract, result, progress, second_pass=capture.second_pass, options=options)
        except _OpenError as exc:
            raise AuditInputError(str(exc)) from None
        except AuditInputError as exc:
            raise AuditInputError(f"{label}: {exc}") from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise AuditInputError(f"{label}: {_gzip_problem(exc)}; export or copy the capture again") from None
        except OSError as exc:
            raise AuditInputError(f"{label}: cannot read the capture: {exc.strerror or exc}") from None
        except Interrupted:
            raise
        except KeyboardInterrupt as stop:
            raise Interrupted(how_stopped(stop), result) from None
    return result


class _OpenError(AuditInputError):
    """The path names no capture that can be read (its line names the path already)."""


def _open_input(path: Path, label: str, stack: contextlib.ExitStack) -> IO[bytes]:
    """The capture's bytes: a regular file, standard input (not a terminal), or a pipe that has a writer.

    Anything else is refused at once rather than read forever: a device (/dev/zero, /dev/urandom never end),
    a socket, a folder. A named pipe that no program writes to would make open() wait forever: it is opened
    without waiting, and given PIPE_WAIT_S for its writer to appear.
    """
    if path == STDIN:
        stdin = sys.stdin
        if stdin is None:
            raise _OpenError("standard input is closed: pipe a capture into it, or name the file")
        if stdin.isatty():
            raise _OpenError(
                "standard input is a terminal: pipe a capture into it (zcat capture.har.gz | panic-contract "
                "audit -), or name the file"
            )
        return stdin.buffer
    try:
        mode = path.stat().st_mode
        if stat.S_ISREG(mode):
            return stack.enter_context(path.open("rb", READ_BUFFER))
        if stat.S_ISFIFO(mode):
            return _open_pipe(path, label, stack)
    except OSError as exc:
        raise _OpenError(f"{label}: cannot read the capture: {exc.strerror or exc}") from None
    what = (
        "a folder"
        if stat.S_ISDIR(mode)
        else "a device, which may never end"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    raise _OpenError(
        f"{label}: not a capture file ({what}): name a HAR or JSON Lines file, or pipe the capture on "
        "standard input (-)"
    )


def _open_pipe(path: Path, label: str, stack: contextlib.ExitStack) -> IO[bytes]:
    pipe = stack.enter_context(open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb", buffering=0))  # noqa: SIM115
    deadline = time.monotonic() + PIPE_WAIT_S
    while True:
        head = pipe.read(SNIFF_BYTES)  # None: a writer, no bytes yet; b"": no writer (yet)
        if head is None or head:
            break
        if time.monotonic() >= deadline:
            raise _OpenError(
                f"{label}: a named pipe that no program writes to (waited {PIPE_WAIT_S:g} s): start the "
                "program that writes the capture first, or pipe it on standard input (-)"
            )
        time.sleep(0.05)
    os.set_blocking(pipe.fileno(), True)
    return io.BufferedReader(_Rejoined(head or b"", pipe), READ_BUFFER)


@dataclass
class _Capture:
    stream: IO[bytes]  # the capture's bytes: decompressed, the byte order mark skipped
    fmt: Format
    second_pass: Callable[[], IO[bytes] | None]  # the same bytes again from the start, when they can be had
    position: Callable[[], int] | None  # bytes of the file read so far, when that differs from stream.tell()


def _open_capture(path: Path, raw: IO[bytes], stack: contextlib.ExitStack) -> _Capture:
    named = Path(path.stem) if path.suffix.lower() == ".gz" else path  # capture.har.gz is a HAR
    peek = getattr(raw, "peek", None)
    gzipped = named is not path or (peek is not None and peek(2)[:2] == GZIP_MAGIC)
    stream: IO[bytes] = raw
    if gzipped:
        stream = cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb")))
    head = stream.read(SNIFF_BYTES)
    start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    if not head[start:].strip():
        what = "empty (0 bytes)" if not head else "blank (nothing but white space)"
        raise AuditInputError(f"the capture is {what}: nothing to audit; export or copy the capture again")
    fmt = detect_format(named, head[start:])
    position = raw.tell if gzipped and path != STDIN else None
    if path != STDIN and stream.seekable():
        stream.seek(start)

        def again() -> IO[bytes]:
            stream.seek(start)
            return stream

        return _Capture(stream, fmt, again, position)
    # Standard input cannot seek: what was read to tell the format is read again from memory.
    whole = head[start:] if len(head) < SNIFF_BYTES else None
    rejoined = io.BufferedReader(_Rejoined(head[start:], stream), READ_BUFFER)
    return _Capture(rejoined, fmt, lambda: io.BytesIO(whole) if whole is not None else None, position)


class _Rejoined(io.RawIOBase):
    """The bytes already read, then the rest of a stream that cannot seek back to them."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self.head, self.rest, self.done = memoryview(head), rest, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size] = self.head[:size]
            self.head = self.head[size:]
        else:
            data = self.rest.read(len(buffer))
            size = len(data)
            buffer[:size] = data
        self.done += size
        return size

    def tell(self) -> int:
        return self.done


def _gzip_problem(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the gzip stream ends early: the file is truncated"
    if isinstance(exc, gzip.BadGzipFile):
        return "not a gzip stream, though it is named .gz"
    return "the gzip stream is corrupt"
