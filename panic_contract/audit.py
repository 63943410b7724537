"""`panic-contract audit FILE`: hold a capture of real traffic to the contract.

FILE is a HAR file (as browsers and proxies export it) or JSON Lines, one exchange record per
line in the fixture format (`request` and `response`; the fixture's description, operation and
provenance may be left out). Every `GET /panic-api/v2/callouts/{id}` exchange is judged by
`findings.inspect`, the same code the suite uses, and folded into one ledger; other exchanges
are counted and skipped. The verdict, exit code and JSON/Markdown reports are the suite's.

It streams: JSON Lines are read line by line and a HAR is parsed entry by entry with ijson,
so memory stays flat whatever the file size.

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 drift, 4 bad input or usage (one
line naming the position; nothing is reported), 10 outage (the capture shows 502/503/504),
11 auth (401 although a token was sent), 12 inconclusive (no exchange of this operation in FILE).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import itertools
import json
import operator
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
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
from panic_contract.findings import NOT_PARSED, VALIDATED, Credentials, Exchange, Ledger, inspect, inspect_parts
from panic_contract.fixture_files import FIXTURE_SCHEMA, lower_headers, raw_body
from panic_contract.verdict import EXIT_CODES, Decision, Verdict, decide, verdict_line

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


def audit_lines(  # noqa: PLR0912 - the hot loop is kept flat on purpose: no helper call per line
    stream: IO[bytes], contract: Contract, result: AuditResult, progress: Progress | None = None
) -> None:
    """JSON Lines, one record at a time. This loop is the audit's hot path: keep it flat.

    Per in-scope line it costs one orjson parse, one line-format check and one body check
    (both in Rust, jsonschema_rs) and `inspect_parts`; no Exchange is built. Everything
    else is a dict lookup or a local: bench/run.py measures what one more step costs.
    """
    loads, in_path, method = orjson.loads, contract.path_pattern.fullmatch, contract.method
    valid_line, add, judge = _LINE_VALIDATOR.is_valid, result.ledger.add, inspect_parts
    entries = skipped = validated = 0  # locals, not attributes: this loop runs a million times
    want_target = result.base_url is None
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
) -> None:
    """A HAR, parsed incrementally: one entry in memory at a time, never the whole document.

    Nesting is bounded (MAX_DEPTH) before the parser sees it, so memory stays flat for any input.
    """
    number = 0
    guarded = DepthGuard(stream, MAX_DEPTH)
    try:
        for number, entry in enumerate(_har_entries(guarded), 1):
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
    if number == 0:
        again = (second_pass or (lambda: None))()
        found = None if again is None else _has_entries_array(again)
        if found is None:
            raise AuditInputError("no HAR entries: it has no log.entries array, or an empty one")
        if not found:
            raise AuditInputError("not a HAR file: it has no log.entries array (for JSON Lines, name the file .jsonl)")


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
    return Exchange(
        method=contract.method,
        path=path,  # no query string: it may hold a credential
        status=status,
        headers=_response_headers(response, content),
        body=text,
        parsed=_parsed(text),
        credentials=_credentials(request),
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


def _credentials(request: Mapping[str, Any]) -> Credentials:
    """Whether the request carried a token; its value is never read, kept or printed."""
    headers = request.get("headers")
    for header in headers if isinstance(headers, list) else ():
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "authorization":
            return "valid"
    return "missing"


def _parsed(text: str) -> Any:
    """The body decoded with orjson; anything orjson refuses is left to `inspect` to judge."""
    if not text:
        return NOT_PARSED
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return NOT_PARSED


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
        "file",
        type=Path,
        metavar="FILE",
        help="a HAR file, or JSON Lines of exchange records; gzip-compressed too; - reads standard input",
    )
    settings.add_arguments(parser, AUDIT_SETTINGS)
    parser.add_argument(
        "--spec", type=Path, default=None, help="the OpenAPI spec to hold the capture to (default: spec/)"
    )


def run(args: argparse.Namespace) -> int:
    started_at, started = datetime.now(UTC), time.monotonic()
    try:
        values = settings.from_namespace(args, AUDIT_SETTINGS, os.environ)
        strict_drift = bool(values["strict_drift"])
        contract = load_contract(args.spec) if args.spec else default_contract()
        acceptance = load_acceptance(Path(values["accepted_drift"])) if values["accepted_drift"] else None
        result = _audit_with_progress(args.file, contract)
    except (AuditInputError, SpecError, settings.SettingError, AcceptedDriftError) as exc:
        return fail(Decision(Verdict.USAGE, str(exc)))
    if acceptance is not None:  # sorted into accepted, expired and open findings once, not on the hot path
        result.ledger, audited = Ledger(acceptance), result.ledger
        result.ledger.merge(audited.as_dict())
    source = "standard input" if args.file == STDIN else args.file.name
    decision = judge(result, strict_drift=strict_drift, source=source)
    run_info = reports.RunInfo(
        target="audit",
        base_url=result.base_url or source,
        spec=contract.spec_path.name,
        started_at=started_at,
        duration_s=time.monotonic() - started,
    )
    errors = reports.write_reports(result.ledger, decision, run_info, values["drift_report"], values["drift_report_md"])
    shown = "standard input" if args.file == STDIN else args.file
    print(f"{PROG}: {shown} ({result.format}): {result.summary()}")
    for line in where_lines(result.ledger):
        print(line)
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
    print(f"{PROG}: {verdict_line(decision)}", file=sys.stderr)
    return decision.exit_code


def _audit_with_progress(path: Path, contract: Contract) -> AuditResult:
    bar = None
    if sys.stderr.isatty():
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        bar = ProgressBar(sys.stderr, size) if size >= PROGRESS_MIN_BYTES else None
    try:
        return audit_file(path, contract, progress=bar)
    finally:
        if bar is not None:
            bar.close()
