"""`panic-contract audit FILE...`: hold a capture of real traffic to the contract.

FILE is a HAR file (as browsers and proxies export it) or JSON Lines, one exchange record per
line in the fixture format (`request` and `response`; the fixture's description, operation and
provenance may be left out). Every `GET /panic-api/v2/callouts/{id}` exchange is judged by
`findings.inspect`, the same code the suite uses, and folded into one ledger; other exchanges
are counted and skipped. The verdict, exit code and JSON/Markdown reports are the suite's.

It streams: JSON Lines are read line by line and a HAR is parsed entry by entry with ijson,
so memory stays flat whatever the file size. Several files (or glob patterns) make one audit;
`--jobs N` judges large files in parts on N worker processes, with the report of one pass
(see "Several files, several cores" below).

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 drift, 4 bad input or usage (one
line naming the position; nothing is reported), 10 outage (the capture shows 502/503/504),
11 auth (401 although a token was sent), 12 inconclusive (no exchange of this operation in FILE).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import gzip
import io
import itertools
import json
import multiprocessing
import operator
import os
import re
import signal
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, cast
from urllib.parse import urlsplit

import ijson
import jsonschema_rs
import orjson

from panic_contract import reports, settings
from panic_contract.accepted import AcceptedDriftError
from panic_contract.accepted import load as load_acceptance
from panic_contract.contract import Contract, SpecError, default_contract, load_contract
from panic_contract.findings import NOT_PARSED, VALIDATED, Exchange, Ledger, inspect, inspect_parts
from panic_contract.fixture_files import FIXTURE_SCHEMA, lower_headers, raw_body
from panic_contract.outputs import terminal_line
from panic_contract.redaction import MIN_SECRET_LENGTH, redact, register
from panic_contract.verdict import EXIT_CODES, Decision, Verdict, command_stopped, decide

PROG = "panic-contract audit"
# The suite's settings (`settings`: command line, then environment variable, then default), so one CI
# job can set them for both.
AUDIT_SETTINGS = ("strict_drift", "accepted_drift", "drift_report", "drift_report_md")

Format = Literal["har", "jsonl"]
FORMAT_BY_SUFFIX: Mapping[str, Format] = {".har": "har", ".jsonl": "jsonl", ".ndjson": "jsonl"}
READ_BUFFER = 1 << 20  # large binary reads: line iteration and ijson both go faster with them
SNIFF_BYTES = 1 << 16
STDIN = Path("-")
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# Deeper than any HAR an exporter writes (about 10 levels; a browser's async stack traces, a few dozen).
MAX_DEPTH = 256
PROGRESS_MIN_BYTES = 16 << 20  # smaller files finish before a bar is worth drawing
PROGRESS_MASK = (1 << 14) - 1  # redraw every 16384 entries: a bitwise test costs nothing per line

# One line of JSON Lines: the fixture format itself, minus the metadata a capture need not carry.
LINE_SCHEMA: dict[str, Any] = {**FIXTURE_SCHEMA, "required": ["request", "response"]}
_LINE_VALIDATOR = jsonschema_rs.Draft202012Validator(LINE_SCHEMA, validate_formats=True)
# Errors whose message names only keys of the record, never a value.
_KEYS_ONLY = (jsonschema_rs.ValidationErrorKind.Required, jsonschema_rs.ValidationErrorKind.AdditionalProperties)

try:
    _IJSON: Any = ijson.get_backend("yajl2_c")  # the C parser, several times faster than the Python one
except ImportError:  # pragma: no cover - a platform without a yajl2_c wheel
    _IJSON = ijson

Progress = Callable[[int, int], None]  # (bytes read so far, entries so far)


class AuditInputError(Exception):
    """The capture cannot be read; the message is one line naming the position and the fix."""


@dataclass
class AuditResult:
    """What one pass over a capture found: the ledger, and how many entries it did not judge."""

    format: Format
    ledger: Ledger = field(default_factory=Ledger)
    entries: int = 0  # every exchange in the file
    skipped: int = 0  # exchanges of other operations
    unanswered: int = 0  # HAR entries the browser never got a response for (status 0)
    formats: list[Format] = field(default_factory=list)  # of each file, when several are audited together
    base_url: str | None = None  # scheme://host[:port] of the first audited exchange, when the capture says

    @property
    def audited(self) -> int:
        return self.ledger.requests

    def summary(self) -> str:
        text = f"{self.audited:,} of {self.entries:,} exchanges audited, {self.skipped:,} of other operations skipped"
        if self.unanswered:
            text += f", {self.unanswered:,} without a response (status 0) skipped"
        return text


# ---------------------------------------------------------------------------------------------
# Reading a capture


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


def audit_file(path: Path, contract: Contract | None = None, *, progress: Progress | None = None) -> AuditResult:
    """Judge every exchange of the contract's operation in the capture at `path` (`-`: standard input).

    A gzip stream (a .gz name or gzip's magic bytes) is read decompressed, a UTF-8 byte order mark is
    skipped, and CRLF line ends are read like LF.
    """
    contract = contract or default_contract()
    label = "standard input" if path == STDIN else str(path)
    with contextlib.ExitStack() as stack:
        try:
            raw: IO[bytes] = sys.stdin.buffer if path == STDIN else stack.enter_context(path.open("rb", READ_BUFFER))
        except OSError as exc:
            raise AuditInputError(f"{label}: cannot read the capture: {exc.strerror}") from None
        try:
            capture = _open_capture(path, raw, stack)
            result = AuditResult(capture.fmt)
            if progress is not None and capture.position is not None:
                position, report = capture.position, progress
                progress = lambda _done, entries: report(position(), entries)  # noqa: E731 - file bytes, not gzip's
            if capture.fmt == "jsonl":
                audit_lines(capture.stream, contract, result, progress)
            else:
                audit_har(capture.stream, contract, result, progress, second_pass=capture.second_pass)
        except AuditInputError as exc:
            raise AuditInputError(f"{label}: {exc}") from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise AuditInputError(f"{label}: {_gzip_problem(exc)}; export or copy the capture again") from None
        except OSError as exc:
            raise AuditInputError(f"{label}: cannot read the capture: {exc.strerror or exc}") from None
    return result


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


def audit_lines(  # noqa: PLR0912, PLR0915 - the hot loop is kept flat on purpose: no helper call per line
    stream: IO[bytes], contract: Contract, result: AuditResult, progress: Progress | None = None
) -> int:
    """JSON Lines, one record at a time; returns how many lines it read. The audit's hot path: keep it flat.

    Per in-scope line it costs one orjson parse, one line-format check and one body check
    (both in Rust, jsonschema_rs) and `inspect_parts`; no Exchange is built. Everything
    else is a dict lookup or a local: bench/run.py measures what one more step costs.
    """
    loads, in_path, method = orjson.loads, contract.path_pattern.fullmatch, contract.method
    valid_line, add, judge = _LINE_VALIDATOR.is_valid, result.ledger.add, inspect_parts
    entries = skipped = validated = 0  # locals, not attributes: this loop runs a million times
    want_target = result.base_url is None
    number = 0
    try:
        for number, line in enumerate(stream, 1):
            try:
                record = loads(line)
                request = record["request"]
                path = request["path"]
                if "?" in path:  # reports carry the path only: a query string may hold a credential
                    path = path.split("?", 1)[0]
                matched = in_path(path)  # what contract.match_path does, kept for the requested id
                same_method = matched is not None and (
                    request["method"] == method or request["method"].upper() == method
                )
            except orjson.JSONDecodeError as exc:
                if not line.strip():
                    continue  # a blank line (often the last one) holds no exchange
                raise AuditInputError(
                    f"line {number}: not JSON ({exc}); each line must be one exchange record"
                ) from None
            except (TypeError, KeyError, AttributeError):
                raise AuditInputError(_record_error(record, f"line {number}")) from None
            entries += 1
            if not same_method or matched is None:  # (both, so the type checker sees `matched` is set below)
                skipped += 1
            elif not valid_line(record):  # the format in full, so no malformed record passes
                raise AuditInputError(_record_error(record, f"line {number}"))
            else:
                response = record["response"]
                headers = response["headers"]
                if len(headers) != 1 or "content-type" not in headers:  # the recorder's one header needs no copy
                    headers = lower_headers(headers)
                parsed = response.get("body", NOT_PARSED)
                inspection = judge(
                    contract,
                    method,
                    path,
                    response["status"],
                    headers,
                    None if parsed is not NOT_PARSED else raw_body(response),
                    parsed,
                    request.get("credentials", "valid"),
                    matched[1],
                )
                if inspection is VALIDATED:
                    validated += 1  # the common case: counted here, folded into the ledger once
                elif inspection.findings:
                    add(inspection, f"line {number}")
                else:
                    add(inspection)
                if want_target:  # the host a recorded fixture names, from the first judged record
                    result.base_url, want_target = _target_of(record), False
            if progress is not None and not number & PROGRESS_MASK:
                progress(stream.tell(), entries)
    except RecursionError:  # a body_text nested deeper than the JSON parser can follow
        raise AuditInputError(f"line {number}: the response body is JSON nested too deep to judge") from None
    finally:
        result.entries += entries
        result.skipped += skipped
        result.ledger.add(VALIDATED, times=validated)
    return number


def _record_error(record: Any, where: str) -> str:
    for error in _LINE_VALIDATOR.iter_errors(record):
        location = "/".join(str(part) for part in error.instance_path) or "the top level"
        return (
            f"{where}: not an exchange record: at {location}: {_without_value(error)} "
            "(each line is a fixture-format record; see README.md, 'Adding a fixture')"
        )
    return f"{where}: not an exchange record (each line is a fixture-format record; see README.md, 'Adding a fixture')"


def _without_value(error: Any) -> str:
    """The validator's message without the offending value, which may be a credential (a token in `credentials`)."""
    message = str(error.message)
    if isinstance(error.kind, _KEYS_ONLY):
        return message
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Not):
        return "it holds more than one of body, body_text and body_base64"
    rendered = json.dumps(error.instance, ensure_ascii=False, separators=(",", ":"))
    if rendered in message:
        return message.replace(rendered, "the value")
    return "the value is not allowed here (not shown)"


def _target_of(record: Mapping[str, Any]) -> str | None:
    provenance = record.get("provenance")
    target = provenance.get("target") if isinstance(provenance, dict) else None
    return target if isinstance(target, str) and target else None


def audit_har(
    stream: IO[bytes],
    contract: Contract,
    result: AuditResult,
    progress: Progress | None = None,
    *,
    second_pass: Callable[[], IO[bytes] | None] | None = None,
    split_marker: dict[str, str] | None = None,
) -> None:
    """A HAR, parsed incrementally: one entry in memory at a time, never the whole document.

    Nesting is bounded (MAX_DEPTH) before the parser sees it, so memory stays flat for any input.
    `split_marker`: the stream is one part of a HAR cut for workers (see `_har_parts`), closed by this
    entry; _SplitMismatchError when it is not the last entry of log.entries (the cut was not between entries).
    """
    number = 0
    guarded = DepthGuard(stream, MAX_DEPTH)
    entries = _har_entries(guarded)
    seen: list[bool] = []
    if split_marker is not None:
        entries = _before_marker(entries, split_marker, seen)
    try:
        for number, entry in enumerate(entries, 1):
            result.entries += 1
            where = f"entry {number}"
            exchange = _har_exchange(entry, where, contract, result)
            if exchange is not None:
                try:
                    inspection = inspect(exchange, contract)
                except RecursionError:
                    raise AuditInputError(f"{where}: the response body is JSON nested too deep to judge") from None
                result.ledger.add(inspection, where if inspection.findings else None)
            if progress is not None and not number & PROGRESS_MASK:
                progress(stream.tell(), result.entries)
    except ijson.JSONError as exc:
        raise AuditInputError(_har_parse_error(exc, number, stream)) from None
    except NestingError as exc:
        raise AuditInputError(
            f"entry {number + 1} (before byte {exc.offset:,}): JSON nested deeper than {MAX_DEPTH} levels; "
            "no HAR is that deep: is this the capture you meant?"
        ) from None
    if split_marker is not None and seen != [True]:
        raise _SplitMismatchError
    if number == 0:
        again = (second_pass or (lambda: None))()
        found = None if again is None else _has_entries_array(again)
        if found is None:
            raise AuditInputError("no HAR entries: it has no log.entries array, or an empty one")
        if not found:
            raise AuditInputError("not a HAR file: it has no log.entries array (for JSON Lines, name the file .jsonl)")


class _SplitMismatchError(Exception):
    """A part of a HAR cut for workers did not end between two entries of log.entries."""


def _before_marker(entries: Iterable[Any], marker: dict[str, str], seen: list[bool]) -> Iterator[Any]:
    """The entries before `marker`; `seen` ends as [True] only when the marker came last."""
    for entry in entries:
        if entry == marker:  # a dict of another length compares unequal at once
            seen.append(True)
            continue
        if seen:
            seen.append(False)
        yield entry


def _har_entries(stream: Any) -> Iterable[Any]:
    return _IJSON.items(stream, "log.entries.item", use_float=True, buf_size=READ_BUFFER)  # type: ignore[no-any-return]


def _har_parse_error(exc: Exception, number: int, stream: IO[bytes]) -> str:
    try:
        near = f" (near byte {stream.tell():,})"
    except (OSError, ValueError):
        near = ""
    # The first line only: yajl's next lines quote the text around the error, which may hold a credential.
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    truncated = "premature EOF" in detail or "Incomplete" in detail
    what = "the HAR ends early: the file is truncated" if truncated else f"the HAR is not valid JSON ({detail})"
    return f"entry {number + 1}{near}: {what}; export or copy the capture again"


class NestingError(Exception):
    """The input nests deeper than the guard allows; `offset` is where the guard stopped reading."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # an opener counts 2, a closer 0: depth after k is sum - k


class DepthGuard:
    """A reader in front of the HAR parser that stops input nested deeper than `limit`.

    ijson keeps a prefix string per open level, each as long as the path to it, so nesting costs
    memory and time quadratic in its depth (50,000 levels: 6 GB). Each chunk is scanned before
    the parser sees it, with bytes operations only (no Python step per byte): escapes dropped,
    strings cut out, brackets counted; the exact peak is computed only where a cheap bound says
    it could pass the limit.
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.depth = 0
        self.in_string = False
        self.carry = b""  # backslashes at the end of a chunk: their escape may go on in the next one
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        if chunk:
            self.offset += len(chunk)
            self._scan(chunk)
        return chunk

    def tell(self) -> int:
        return self.stream.tell()

    def _scan(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        kept = len(data) - len(data.rstrip(b"\\"))
        self.carry = data[len(data) - kept :] if kept else b""
        if kept:
            data = data[: len(data) - kept]
        if b"\\" in data:  # escapes occur only in strings: an escaped quote must not end one
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        parts = data.translate(None, _NOT_STRUCTURE).split(b'"')
        structure = b"".join(parts[1::2] if self.in_string else parts[::2])
        if len(parts) % 2 == 0:
            self.in_string = not self.in_string
        opens = structure.count(b"[") + structure.count(b"{")
        if (
            self.depth + opens > self.limit
            and self.depth + _peak_bound(structure) > self.limit
            and self.depth + _peak(structure) > self.limit
        ):
            raise NestingError(self.offset)
        self.depth += 2 * opens - len(structure)


def _peak(structure: bytes) -> int:
    """The highest depth `structure` (brackets only) reaches, relative to where it starts."""
    depths = map(operator.sub, itertools.accumulate(structure.translate(_STEP)), itertools.count(1))
    peak: int = max(itertools.chain((0,), depths))
    return peak


def _peak_bound(structure: bytes) -> int:
    """An upper bound of `_peak`, cheap: each pass drops the innermost empty pairs, one level at most."""
    levels = 0
    while structure and levels < 16:
        shorter = structure.replace(b"{}", b"")
        levels += len(shorter) != len(structure)
        shortest = shorter.replace(b"[]", b"")
        levels += len(shortest) != len(shorter)
        if len(shortest) == len(structure):
            break
        structure = shortest
    return (_peak(structure) if structure else 0) + levels


def _has_entries_array(stream: IO[bytes]) -> bool:
    """Only asked when a HAR gave no entry at all: was that an empty HAR, or not a HAR?"""
    try:
        events = _IJSON.parse(DepthGuard(stream, MAX_DEPTH))
        return any(prefix == "log.entries" and event == "start_array" for prefix, event, _ in events)
    except (ijson.JSONError, NestingError):
        return False


def _har_exchange(entry: Any, where: str, contract: Contract, result: AuditResult) -> Exchange | None:
    """The exchange in one HAR entry, or None when it is not one to judge (counted on `result`)."""
    request = entry.get("request") if isinstance(entry, dict) else None
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("method"), str)
        or not isinstance(request.get("url"), str)
    ):
        raise AuditInputError(f"{where}: has no request with a method and url; is this a HAR file?")
    response = entry.get("response")
    status = response.get("status") if isinstance(response, dict) else None
    if isinstance(status, float) and status.is_integer():
        status = int(status)  # some exporters write 200.0
    if not isinstance(status, int) or isinstance(status, bool):
        raise AuditInputError(f"{where}: has no response with a status; export the HAR again with responses")
    url = request["url"]
    path = url_path(url)
    if request["method"].upper() != contract.method or contract.match_path(path) is None:
        result.skipped += 1
        return None
    if status == 0:  # browsers write status 0 for a request that got no response (aborted, blocked)
        result.unanswered += 1
        return None
    content = response.get("content")
    content = content if isinstance(content, dict) else {}
    if content.get("encoding") == "base64":
        raise AuditInputError(
            f"{where}: the response body is base64-encoded; export the HAR with text bodies to audit it"
        )
    text = content.get("text")
    if not isinstance(text, str):
        if status in contract.responses and content.get("size") != 0:
            raise AuditInputError(
                f"{where}: the response body was not saved (no content.text); export the HAR with content"
            )
        text = ""
    if result.base_url is None:
        result.base_url = origin(url)
    token = _token(request)
    headers = _response_headers(response, content)
    if token is not None and len(token) >= MIN_SECRET_LENGTH:  # a server may echo the token back: mask it first
        register(token)  # in any encoding, and in everything built from the exchange (a cut value too)
        text = redact(text)
        if redact(joined := "\n".join(headers.values())) != joined:  # one pass for all: most echo nothing
            headers = {name: redact(value) for name, value in headers.items()}
    return Exchange(
        method=contract.method,
        path=path,  # no query string: it may hold a credential
        status=status,
        headers=headers,
        body=text,
        parsed=_parsed(text),
        credentials="missing" if token is None else "valid",
    )


def url_path(url: str) -> str:
    """The path of an absolute or relative URL, without query or fragment.

    urlsplit would do, but costs more than judging the exchange; a HAR has one URL per entry.
    """
    scheme_end = url.find("://")
    if scheme_end >= 0:
        slash = url.find("/", scheme_end + 3)
        url = url[slash:] if slash >= 0 else "/"
    for mark in "?#":
        url = url.split(mark, 1)[0]
    return url


def origin(url: str) -> str | None:
    """scheme://host[:port] of a URL, never the user:password@ it may carry."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _response_headers(response: Mapping[str, Any], content: Mapping[str, Any]) -> dict[str, str]:
    headers = response.get("headers")
    result = {
        str(h["name"]).lower(): str(h.get("value", ""))
        for h in (headers if isinstance(headers, list) else ())
        if isinstance(h, dict) and "name" in h
    }
    mime = content.get("mimeType")
    if "content-type" not in result and isinstance(mime, str) and mime:
        result["content-type"] = mime  # some exporters keep the media type only here
    return result


def _token(request: Mapping[str, Any]) -> str | None:
    """The request's Authorization credential (without its scheme), or None when it carried none.

    It is read only to mask it where the response echoes it back; it is never kept or printed.
    """
    headers = request.get("headers")
    for header in headers if isinstance(headers, list) else ():
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "authorization":
            return str(header.get("value", "")).strip().split(" ", 1)[-1].strip()
    return None


def _parsed(text: str) -> Any:
    """The body decoded with orjson; anything orjson refuses is left to `inspect` to judge."""
    if not text:
        return NOT_PARSED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return NOT_PARSED


# ---------------------------------------------------------------------------------------------
# Several files, several cores
#
# The work is cut into tasks in file order: a whole file (gzip, standard input, a small file), or a
# byte range of a large one (JSON Lines: at line starts; HAR: just before an entry). Each task gives
# its ledger as `Ledger.as_dict()` with positions counted from its own start; they are folded back
# in file order, positions shifted by the lines or entries before them, so the findings, counts and
# first positions are those of one pass over the files. A cut in a HAR is checked by the part that
# ends at it (`_har_parts`); a part that does not check out, or fails, has its file audited again
# in one pass, so what is reported (an error and its position included) is what one pass reports.

MIN_PART_BYTES = 8 << 20  # a smaller part costs more to hand out than to judge
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
    again: bool = False  # a HAR part that did not check out: audit its file again in one pass


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
    )


_worker_contract: Contract | None = None  # set before the pool forks; else loaded by _start_worker


def _start_worker(spec_path: Path) -> None:
    global _worker_contract  # noqa: PLW0603 - one contract per worker process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle: one line, exit 130
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
            return _outcome(audit_file(task.path, contract))
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
            result = AuditResult(task.fmt)
            if task.fmt == "jsonl":
                return _outcome(result, audit_lines(stream, contract, result))
            try:
                audit_har(stream, contract, result, split_marker=task.marker)
            except (AuditInputError, _SplitMismatchError):
                return _Outcome("har", {}, again=True)
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


def _plan(path: Path, jobs: int) -> list[_Task]:
    """The tasks for one file: itself, or parts of it when it is large, seekable and not compressed."""
    if jobs < 2 or path == STDIN or path.suffix.lower() == ".gz":
        return [_Task(path)]
    try:
        if not path.is_file() or path.stat().st_size < 2 * MIN_PART_BYTES:
            return [_Task(path)]
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            head = stream.read(SNIFF_BYTES)
            if head.startswith(GZIP_MAGIC):
                return [_Task(path)]
            start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
            fmt = detect_format(path, head[start:])
            count = min(jobs * PARTS_PER_JOB, size // MIN_PART_BYTES)
            points = [size * k // count for k in range(1, count)]
            if fmt == "jsonl":
                return _jsonl_parts(path, stream, start, size, points)
            return _har_parts(path, stream, head[start:], start, size, points)
    except (OSError, AuditInputError):
        return [_Task(path)]  # audited in one pass, which says what is wrong with it


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
        for prefix, event, value in _IJSON.parse(DepthGuard(io.BytesIO(head), MAX_DEPTH)):
            if prefix == "log.entries.item" and event != "start_map":
                return value if event == "map_key" and _KEY.fullmatch(value) else None
    except (ijson.JSONError, NestingError):
        pass
    return None


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


def audit_files(
    paths: Sequence[Path], contract: Contract | None = None, *, jobs: int = 1, progress: Progress | None = None
) -> AuditResult:
    """Judge the captures at `paths`, in order, as one pass over all of them; with `jobs` worker processes.

    With several files, positions name the file (`a.jsonl line 12`). Standard input is read by this
    process; a gzip file is one task (it cannot be cut); several files go to the workers side by side.
    """
    contract = contract or default_contract()
    named = len(paths) > 1
    plans = [_plan(path, jobs) for path in paths]
    total = AuditResult("jsonl")
    workers = min(jobs, sum(1 for plan in plans for task in plan if task.path != STDIN))
    if workers < 2:
        done = 0
        for path in paths:
            _fold(total, path, [_local(path, contract, _offset_progress(progress, done, total.entries))], named)
            done += _size(path)
        return total
    global _worker_contract  # noqa: PLW0603 - inherited by forked workers, so they need not load the spec
    _worker_contract = contract
    context = multiprocessing.get_context(_start_method())
    with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=(contract.spec_path,)) as pool:
        ahead = _Ahead(pool, plans, workers * PARTS_PER_JOB * 2)
        try:
            done = 0
            for number, (path, plan) in enumerate(zip(paths, plans, strict=True)):
                outcomes: list[_Outcome] = []
                for task in plan:
                    future = ahead.next()
                    outcome = _run_task(task, contract) if future is None else future.result()
                    if outcome.again:
                        ahead.drop(number)
                        outcomes = [_local(path, contract, None)]
                        break
                    outcomes.append(outcome)
                    if outcome.error is not None:
                        break
                    done += _size(path) if task.fmt is None else (task.end or 0) - task.start
                    if progress is not None:
                        progress(done, total.entries + sum(o.entries for o in outcomes))
                _fold(total, path, outcomes, named)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return total


class _Ahead:
    """The tasks handed to the pool in file order, at most `limit` ahead of the one being folded, so
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


def _local(path: Path, contract: Contract, progress: Progress | None) -> _Outcome:
    try:
        return _outcome(audit_file(path, contract, progress=progress))
    except AuditInputError as exc:
        return _Outcome("jsonl", {}, error=str(exc))


def _size(path: Path) -> int:
    try:
        return 0 if path == STDIN else path.stat().st_size
    except OSError:
        return 0


def _fold(total: AuditResult, path: Path, outcomes: list[_Outcome], named: bool) -> None:
    """Fold one file's outcomes, in file order, into `total`; the first error ends the audit."""
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
        for item in outcome.ledger["findings"]:
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


# ---------------------------------------------------------------------------------------------
# The command


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
    parser.add_argument(
        "--spec", type=Path, default=None, help="the OpenAPI spec to hold the capture to (default: spec/)"
    )


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
        contract = load_contract(args.spec) if args.spec else default_contract()
        acceptance = load_acceptance(Path(values["accepted_drift"])) if values["accepted_drift"] else None
        files = expand(args.files)
        result = _audit_with_progress(files, contract, args.jobs or usable_cores())
    except (AuditInputError, SpecError, settings.SettingError, AcceptedDriftError) as exc:
        return fail(Decision(Verdict.USAGE, str(exc)))
    if acceptance is not None:  # sorted into accepted, expired and open findings once, not on the hot path
        result.ledger, audited = Ledger(acceptance), result.ledger
        result.ledger.merge(audited.as_dict())
    if len(files) > 1:
        source = shown = f"{len(files)} files"
        kinds = f"{', '.join(dict.fromkeys(result.formats))}"
    else:
        source = "standard input" if files[0] == STDIN else files[0].name
        shown, kinds = ("standard input" if files[0] == STDIN else str(files[0])), result.format
    decision = judge(result, strict_drift=strict_drift, source=source)
    run_info = reports.RunInfo(
        target="audit",
        base_url=result.base_url or source,
        spec=contract.spec_path.name,
        started_at=started_at,
        duration_s=time.monotonic() - started,
    )
    errors = reports.write_reports(result.ledger, decision, run_info, values["drift_report"], values["drift_report_md"])
    print(f"{PROG}: {shown} ({kinds}): {result.summary()}")
    for line in where_lines(result.ledger):
        print(terminal_line(line))
    lines = reports.terminal_lines(result.ledger, decision, run_info.base_url)
    for line in lines[:-1]:
        print(line)
    for line in errors:
        print(f"{PROG}: {line}", file=sys.stderr)
    print(lines[-1])
    # An unwritable report fails a clean audit, but never hides the verdict or masks its exit code.
    return EXIT_CODES[Verdict.USAGE] if errors and decision.exit_code == 0 else decision.exit_code


def judge(result: AuditResult, *, strict_drift: bool, source: str) -> Decision:
    """The suite's verdict; an audit that found no exchange of the operation is inconclusive, never ok."""
    if result.audited == 0:
        return Decision(
            Verdict.INCONCLUSIVE,
            f"no GET /panic-api/v2/callouts/{{id}} exchange in {source} ({result.summary()}): nothing was checked",
        )
    host = result.base_url or source
    decision = decide(result.ledger, strict_drift=strict_drift, host=host)
    return Decision(decision.verdict, f"{decision.reason}; {result.summary()}")


def where_lines(ledger: Ledger) -> list[str]:
    """Where each finding first showed in the capture: positions a person can open the file at."""
    return [
        f"first seen: {entry.first.kind} {entry.first.field or '-'} at {', '.join(entry.samples)}"
        for entry in ledger.sorted_entries()
    ]


def fail(decision: Decision) -> int:
    return command_stopped(PROG, decision)


def _audit_with_progress(paths: list[Path], contract: Contract, jobs: int) -> AuditResult:
    bar = None
    if sys.stderr.isatty():
        size = sum(_size(path) for path in paths)
        bar = ProgressBar(sys.stderr, size) if size >= PROGRESS_MIN_BYTES else None
    try:
        return audit_files(paths, contract, jobs=jobs, progress=bar)
    finally:
        if bar is not None:
            bar.close()
