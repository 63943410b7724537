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

It streams: JSON Lines are read line by line and a HAR is parsed entry by entry with ijson,
so memory stays flat whatever the file size; no line, string or entry is read past a bound set by
`--max-body-size`. Several files (or glob patterns) make one audit; `--jobs N` judges large files in
parts on N worker processes, with the report of one pass (see "Several files, several cores" below).

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 drift, 4 bad input or usage (one
line naming the position; nothing is reported), 10 outage (the capture shows 502/503/504),
11 auth (401 although a token was sent), 12 inconclusive (no exchange of this operation in FILE,
or none whose body could be judged). Ctrl-C or SIGTERM: the verdict and reports of what was read.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import dataclasses
import functools
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
import stat
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal, NamedTuple, cast
from urllib.parse import parse_qsl, urlsplit

import ijson
import jsonschema_rs
import orjson

from panic_contract import settings
from panic_contract.core import reports
from panic_contract.core.accepted import Acceptance, AcceptedDriftError
from panic_contract.core.accepted import load as load_acceptance
from panic_contract.core.contract import Contract, SpecError, default_contract, load_contract
from panic_contract.core.ending import end_run
from panic_contract.core.findings import (
    NOT_PARSED,
    NOT_SAVED,
    VALIDATED,
    Credentials,
    Inspection,
    Ledger,
    Unreadable,
    inspect_parts,
    read_body,
    signal_of,
)
from panic_contract.core.fixtures import FIXTURE_SCHEMA, lower_headers, raw_body
from panic_contract.core.verdict import Decision, Verdict, command_stopped, decide
from panic_contract.outputs import terminal_line
from panic_contract.redaction import MASK, MIN_SECRET_LENGTH, redact, register
from panic_contract.settings import size_text

PROG = "panic-contract audit"
# The suite's settings (`settings`: command line, then environment variable, then default), so one CI
# job can set them for both.
AUDIT_SETTINGS = ("strict_drift", "accepted_drift", "drift_report", "drift_report_md", "max_body_size", "server")
# This API's hosts besides the spec's server (staging): production and dev, as the provider's documentation
# names them. Exchanges with any other host (a local dev server on the same path) are counted and skipped.
PROVIDER_SERVERS = ("https://panic.aura.services", "https://dev-panic.aura.services")
DEFAULT_MAX_BODY_SIZE = 4 << 20  # settings' --max-body-size default

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
PIPE_WAIT_S = 5.0  # how long a named pipe may go without a writer before the audit says so
# A capture's own credentials are registered as secrets (masked in every output), at most this many distinct
# values: a capture full of session cookies must not make every later redaction slow. Beyond it a value is
# still masked in its own exchange, where an echo of it shows.
MAX_CAPTURE_SECRETS = 64
# Cookie and query-string values shorter than this are not credentials worth masking ("true", "en-US"):
# masking them everywhere would garble the reports.
MIN_COOKIE_SECRET = 8
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_QUERY_CREDENTIAL = re.compile(r"token|key|secret|passw|pwd|auth|sig|session|credential|code|jwt", re.IGNORECASE)
MAX_HOSTS_NAMED = 20  # other hosts counted by name; the rest together
MORE_HOSTS = "other hosts"

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


class AuditInterruptedError(Exception):
    """Ctrl-C or SIGTERM stopped the audit; `partial` holds what was judged until then."""

    def __init__(self, partial: AuditResult, how: str) -> None:
        super().__init__(how)
        self.partial, self.how = partial, how


@dataclass(frozen=True)
class ReadOptions:
    """How captures are read: the largest record, and the servers (besides the documented ones) judged."""

    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    servers: tuple[str, ...] = ()  # roots, scheme://host[:port]
    # every ledger (this process's, each worker's) classifies findings against it as it folds them in
    acceptance: Acceptance | None = None
    part_bytes: int | None = None  # the smallest part a file is cut into (None: MIN_PART_BYTES)


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
    other_hosts: dict[str, int] = field(default_factory=dict)  # exchanges of the operation with other hosts
    unsaved: int = 0  # exchanges whose body the capture did not keep: judged without it
    no_credential: int = 0  # exchanges that showed no Authorization header: auth not judged
    secrets: set[str] = field(default_factory=set)  # the capture's credentials, registered (at most a few)

    @property
    def audited(self) -> int:
        return self.ledger.requests

    def summary(self) -> str:
        text = f"{self.audited:,} of {self.entries:,} exchanges audited, {self.skipped:,} of other operations skipped"
        if self.other_hosts:
            named = sorted(self.other_hosts.items(), key=lambda item: (item[0] == MORE_HOSTS, -item[1], item[0]))
            hosts = ", ".join(f"{host}: {count:,}" for host, count in named[:3])
            hosts += ", ..." if len(named) > 3 else ""
            total = sum(self.other_hosts.values())
            text += f", {total:,} on other hosts skipped ({hosts}; judge a host with --server URL)"
        if self.unanswered:
            text += f", {self.unanswered:,} without a response (status 0) skipped"
        if self.unsaved:
            one = self.unsaved == 1
            text += f"; {self.unsaved:,} exchange{'' if one else 's'} without a saved body: "
            text += "its body was not judged" if one else "their bodies were not judged"
        if self.no_credential:
            one = self.no_credential == 1
            text += f"; auth not judged: {self.no_credential:,} exchange{'' if one else 's'} carried no credential"
        return text

    def note_host(self, host: str, times: int = 1) -> None:
        """Count exchanges of the operation with a host that is not this API's (by name, for the first few)."""
        if host not in self.other_hosts and len(self.other_hosts) >= MAX_HOSTS_NAMED:
            host = MORE_HOSTS
        self.other_hosts[host] = self.other_hosts.get(host, 0) + times

    def keep_secrets(self, values: Iterable[str]) -> None:
        """Register the capture's own credentials, so every output masks them; at most MAX_CAPTURE_SECRETS."""
        for value in values:
            if value not in self.secrets and len(self.secrets) < MAX_CAPTURE_SECRETS:
                self.secrets.add(value)
                register(value)


# ---------------------------------------------------------------------------------------------
# Reading a capture


class HostScope:
    """Which exchanges are this API's, by the origin of their URL (or the host a JSON Lines record names)."""

    def __init__(self, servers: Iterable[str]) -> None:
        self.origins = frozenset(filter(None, (origin(server) for server in servers)))
        # JSON Lines name a host as the recorder does: host[:port], as given, without the scheme
        self.netlocs: dict[str, str] = {}
        for root in sorted(self.origins, key=lambda root: (not root.startswith("https:"), root)):  # https first
            parts = urlsplit(root)
            self.netlocs.setdefault(parts.netloc, root)
            if parts.port is None:
                self.netlocs.setdefault(f"{parts.netloc}:{443 if parts.scheme == 'https' else 80}", root)
        self._origins: dict[str, str | None] = {}  # a URL's text up to its path -> its origin

    @classmethod
    def of(cls, contract: Contract, options: ReadOptions) -> HostScope:
        return cls((contract.server_url, *PROVIDER_SERVERS, *options.servers))

    def origin(self, prefix: str) -> str | None:
        """`origin()` of a URL's scheme://authority, looked up once per distinct text (a HAR has few)."""
        if prefix in self._origins:
            return self._origins[prefix]
        found = origin(prefix)
        if len(self._origins) < 4096:  # a capture of endless distinct hosts is looked up each time
            self._origins[prefix] = found
        return found


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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, see `_Terminated`) while one file was read: `partial` is what it judged so far."""

    def __init__(self, how: str, partial: AuditResult | None) -> None:
        super().__init__(how)
        self.how, self.partial = how, partial


class _Terminated(KeyboardInterrupt):
    """Raised in the main process by its SIGTERM handler: stopped like Ctrl-C, and said so."""


def _how(stop: KeyboardInterrupt) -> str:
    return stop.how if isinstance(stop, Interrupted) else "SIGTERM" if isinstance(stop, _Terminated) else "Ctrl-C"


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
            result = AuditResult(capture.fmt, Ledger(options.acceptance))
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
            raise Interrupted(_how(stop), result) from None
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


def audit_lines(  # noqa: PLR0912, PLR0915 - the hot loop is kept flat on purpose: no helper call per line
    stream: IO[bytes],
    contract: Contract,
    result: AuditResult,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
) -> int:
    """JSON Lines, one record at a time; returns how many lines it read. The audit's hot path: keep it flat.

    Per in-scope line it costs one orjson parse, one line-format check and one body check
    (both in Rust, jsonschema_rs) and `inspect_parts`; no Exchange is built. Everything
    else is a dict lookup or a local: bench/run.py measures what one more step costs.
    A line is read up to `max_body_size` bytes and no further: a longer one is one line, exit 4.
    """
    options = options or ReadOptions()
    scope = HostScope.of(contract, options)
    loads, in_path, method = orjson.loads, contract.path_pattern.fullmatch, contract.method
    valid_line, add, judge = _LINE_VALIDATOR.is_valid, result.ledger.add, inspect_parts
    limit = options.max_body_size
    entries = skipped = validated = 0  # locals, not attributes: this loop runs a million times
    want_target = result.base_url is None
    number = 0
    # readline(n) never holds more than n bytes of a line (iterating the file would hold all of it)
    lines = iter(functools.partial(stream.readline, limit + 2), b"")
    try:
        for number, line in enumerate(lines, 1):
            if len(line) > limit and (len(line) > limit + 1 or line[-1:] != b"\n"):
                raise AuditInputError(
                    f"line {number}: larger than {size_text(limit)} (--max-body-size), not read; no exchange "
                    "record is that large: is this the capture you meant? (raise --max-body-size to read it)"
                )
            try:
                record = loads(line)
            except orjson.JSONDecodeError as exc:
                if not line.strip():
                    continue  # a blank line (often the last one) holds no exchange
                record = _record_with_surrogates(line, exc, number)
            try:
                request = record["request"]
                path = request["path"]
                if "?" in path:  # reports carry the path only: a query string may hold a credential
                    path, query = path.split("?", 1)
                    result.keep_secrets(_query_credentials(query))
                matched = in_path(path)  # what contract.match_path does, kept for the requested id
                same_method = matched is not None and (
                    request["method"] == method or request["method"].upper() == method
                )
            except (TypeError, KeyError, AttributeError):
                raise AuditInputError(_record_error(record, f"line {number}")) from None
            entries += 1
            if not same_method or matched is None:  # (both, so the type checker sees `matched` is set below)
                skipped += 1
            elif not valid_line(record):  # the format in full, so no malformed record passes
                raise AuditInputError(_record_error(record, f"line {number}"))
            elif (root := _record_root(record, scope, result) if "provenance" in record else None) == "":
                pass  # another host's record: counted on `result`, not judged
            else:
                if root is not None:
                    path = root + path  # a record naming its host: its findings name it too
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
                    if result.secrets:  # a credential the capture carries may show in a finding: mask it first
                        inspection = _masked_line(line, path, contract, inspection)
                    add(inspection, f"line {number}")
                else:
                    add(inspection)
                if want_target:  # the host a recorded fixture names, from the first judged record
                    result.base_url, want_target = root, False
            if progress is not None and not number & PROGRESS_MASK:
                progress(stream.tell(), entries)
    except RecursionError:  # a body_text nested deeper than the JSON parser can follow
        raise AuditInputError(f"line {number}: the response body is JSON nested too deep to judge") from None
    finally:
        result.entries += entries
        result.skipped += skipped
        result.ledger.add(VALIDATED, times=validated)
    return number


def _record_root(record: Mapping[str, Any], scope: HostScope, result: AuditResult) -> str | None:
    """The root (scheme://host[:port]) of the host a record names (`provenance.target`, host[:port] as the
    recorder writes it); "" when it is not this API's (counted on `result`); None when it names none."""
    target = _target_of(record)
    if target is None:
        return None
    root = scope.netlocs.get(target.lower())
    if root is None:
        result.note_host(target.lower())
        return ""
    return root


def _masked_line(line: bytes, where: str, contract: Contract, inspection: Inspection) -> Inspection:
    """The line judged again with the capture's credentials masked, so no finding can show one (a finding
    cuts a long value short, and a credential cut in two would escape the masking of the output)."""
    masked = redact(line)
    if masked == line:
        return inspection
    try:
        record = orjson.loads(masked)
        request, response = record["request"], record["response"]
        parsed = response.get("body", NOT_PARSED)
        return inspect_parts(
            contract,
            contract.method,
            where,
            response["status"],
            lower_headers(response["headers"]),
            None if parsed is not NOT_PARSED else raw_body(response),
            parsed,
            request.get("credentials", "valid"),
            contract.match_path(request["path"]),
        )
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError, ValueError):
        return inspection  # the masking broke the record (a credential across its syntax): the output masks it


def _query_credentials(query: str) -> list[str]:
    """Values of a query string's parameters named like credentials (access_token, api_key, sig, ...)."""
    try:
        pairs = parse_qsl(query.split("#", 1)[0], keep_blank_values=False)
    except ValueError:
        return []
    return [value for name, value in pairs if len(value) >= MIN_COOKIE_SECRET and _QUERY_CREDENTIAL.search(name)]


def _record_with_surrogates(line: bytes, exc: orjson.JSONDecodeError, number: int) -> Any:
    """A line orjson refused: read as `findings.read_body` reads a body (an escaped unpaired surrogate is
    JSON), else one line naming it."""
    record = read_body(line) if "surrogate in string" in str(exc) else Unreadable(f"not JSON ({exc})")
    if isinstance(record, Unreadable):
        raise AuditInputError(f"line {number}: {record.reason}; each line must be one exchange record") from None
    return record


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
    if message.startswith(rendered):  # "0 is less than the minimum of 100": the value leads, and only there
        return "the value" + message[len(rendered) :]
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
    options: ReadOptions | None = None,
) -> None:
    """A HAR, parsed incrementally: one entry in memory at a time, never the whole document.

    Nesting is bounded (MAX_DEPTH) before the parser sees it, and so are strings and entries (see
    `DepthGuard`), so memory stays flat for any input. `split_marker`: the stream is one part of a HAR cut
    for workers (see `_har_parts`), closed by this entry; _SplitMismatchError when it is not the last entry
    of log.entries (the cut was not between entries).
    """
    options = options or ReadOptions()
    reading = _HarReading(contract, result, HostScope.of(contract, options), options.max_body_size)
    number = 0
    guarded = reading.guard = DepthGuard(
        stream,
        MAX_DEPTH,
        string_limit=string_limit(options.max_body_size),
        entry_limit=entry_limit(options.max_body_size),
    )
    entries = _har_entries(guarded)
    seen: list[bool] = []
    if split_marker is not None:
        entries = _before_marker(entries, split_marker, seen)
    try:
        for number, entry in enumerate(entries, 1):
            guarded.entry_bytes = 0  # the entry is whole: the next one's bytes count from here
            result.entries += 1
            where = f"entry {number}"
            exchange = reading.exchange(entry, where)
            if exchange is not None:
                inspection = reading.judge(exchange)
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
    except RecordTooLargeError as exc:
        raise AuditInputError(
            f"entry {number + 1} (before byte {exc.offset:,}): {exc.what} larger than {size_text(exc.limit)}, "
            f"not read (--max-body-size {size_text(options.max_body_size)}); no HAR entry is that large: is "
            "this the capture you meant? (raise --max-body-size to read it)"
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
    # (Some of its messages come as bytes, whose str() is one line holding all of them: decode them first.)
    message = exc.args[0] if exc.args else ""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    detail = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    truncated = "premature EOF" in detail or "Incomplete" in detail
    what = "the HAR ends early: the file is truncated" if truncated else f"the HAR is not valid JSON ({detail})"
    return f"entry {number + 1}{near}: {what}; export or copy the capture again"


class NestingError(Exception):
    """The input nests deeper than the guard allows; `offset` is where the guard stopped reading."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class RecordTooLargeError(Exception):
    """One HAR entry, or one value in it, passes the guard's bound: `what` it was, at `offset`."""

    def __init__(self, offset: int, what: str, limit: int) -> None:
        super().__init__(offset, what, limit)
        self.offset, self.what, self.limit = offset, what, limit


def string_limit(max_body_size: int) -> int:
    """How long a HAR string may grow before the guard cuts it: a body of `max_body_size` bytes as a HAR
    writes it (base64 adds a third, escapes more) stays whole; a longer body is judged as too large."""
    return 2 * max_body_size


def entry_limit(max_body_size: int) -> int:
    """The most bytes one HAR entry may take (each of its strings bounded as above): a body, headers, timings.
    Counted between two entries, so the HAR's prelude (creator, pages) counts toward the first one's."""
    return max(32 << 20, 4 * max_body_size)


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")  # an opener counts 2, a closer 0: depth after k is sum - k
_NOT_DELIMITER = b" \t\r\n,:"  # what ends a number or a literal outside strings
# Put by the guard at the end of a string it cut short: never in a HAR, so a body ending so was too large.
CUT_MARK = f"<panic-contract: cut here, {os.urandom(6).hex()}>"
_CUT_MARK = CUT_MARK.encode()


class DepthGuard:
    """A reader in front of the HAR parser that stops input nested deeper than `limit`, and bounds strings.

    ijson keeps a prefix string per open level, each as long as the path to it, so nesting costs
    memory and time quadratic in its depth (50,000 levels: 6 GB). Each chunk is scanned before
    the parser sees it, with bytes operations only (no Python step per byte): escapes masked,
    strings cut out, brackets counted; the exact peak is computed only where a cheap bound says
    it could pass the limit.

    With `string_limit`, no string reaches the parser longer than that (and a chunk): yajl would buffer
    all of it, and ijson build it (a 400 MiB body took 1.3 GB). The guard passes the string's first bytes,
    then CUT_MARK, and drops the rest up to its closing quote, so the entries after it are read as usual.
    A bare value (a number) that long, or more than `entry_limit` bytes between two entries (the reader
    resets `entry_bytes` after each), raise RecordTooLargeError.
    """

    def __init__(
        self, stream: IO[bytes], limit: int, *, string_limit: int | None = None, entry_limit: int | None = None
    ) -> None:
        self.stream, self.limit = stream, limit
        self.string_limit, self.entry_limit = string_limit, entry_limit
        self.depth = 0
        self.in_string = False
        self.carry = b""  # backslashes at the end of a chunk: their escape may go on in the next one
        self.offset = 0
        self.run = 0  # bytes of the string (or bare value) still open at the end of the last chunk
        self.tail = b""  # that string's last bytes, masked: where a cut looks back for an escape begun there
        self.dropping = False  # inside a string cut short: dropping bytes up to its closing quote
        self.entry_bytes = 0
        self.cuts = 0

    def read(self, size: int = -1) -> bytes:
        while True:
            chunk = self.stream.read(size)
            if not chunk:
                return chunk
            self.offset += len(chunk)
            if self.dropping:
                chunk = self._drop(chunk)
                if not chunk:
                    continue
            passed = self._scan(chunk)
            if self.entry_limit is not None:
                self.entry_bytes += len(passed)
                if self.entry_bytes > self.entry_limit:
                    raise RecordTooLargeError(self.offset, "an entry", self.entry_limit)
            return passed

    def tell(self) -> int:
        return self.stream.tell()

    def _scan(self, chunk: bytes) -> bytes:
        carried = len(self.carry)
        data = self.carry + chunk if self.carry else chunk
        kept = len(data) - len(data.rstrip(b"\\"))
        self.carry = data[len(data) - kept :] if kept else b""
        if kept:
            data = data[: len(data) - kept]
        if b"\\" in data:  # escapes occur only in strings: an escaped quote must not end one
            data = _masked_escapes(data)
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
        if self.string_limit is None:
            return chunk
        if not self.in_string:
            # a bare value runs on only through chunks with no delimiter at all (rare: checked only then)
            bare = len(parts) == 1 and not structure and len(data.translate(None, _NOT_DELIMITER)) == len(data)
            self.run = self.run + len(data) if bare else 0
            if self.run > self.string_limit:
                raise RecordTooLargeError(self.offset, "a value", self.string_limit)
            return chunk
        last = data.rfind(b'"')
        self.run = self.run + len(data) if last < 0 else len(data) - last - 1
        if self.run <= self.string_limit:
            self.tail = (self.tail + data)[-_ESCAPE_SPAN:] if len(data) < _ESCAPE_SPAN else data[-_ESCAPE_SPAN:]
            return chunk
        return self._cut(chunk, data, carried, last)

    def _cut(self, chunk: bytes, data: bytes, carried: int, last: int) -> bytes:
        """Pass the open string up to a point in this chunk where cutting leaves valid JSON, then CUT_MARK."""
        # An escape or a UTF-8 character may have begun in the previous chunk: look back into its tail.
        view = self.tail + data if last < 0 else data
        shift = len(view) - len(data)
        cut = _safe_cut(view, shift + (last + 1 if last >= 0 else carried))
        if cut is not None:
            cut -= shift
        else:
            self.tail = (self.tail + data)[-_ESCAPE_SPAN:]
            limit = cast(int, self.string_limit)
            # Text has a safe point every 12 bytes at most (a surrogate pair): 64 bytes past the limit
            # without one is not text at all (invalid UTF-8), and the parser must not take it in either.
            if self.run > limit + 64:
                raise RecordTooLargeError(self.offset, "a string", limit)
            return chunk
        self.cuts += 1
        self.dropping, self.run, self.tail = True, 0, b""
        return chunk[: cut - carried] + _CUT_MARK

    def _drop(self, chunk: bytes) -> bytes:
        """Drop a string cut short up to its closing quote; the rest of the chunk, from that quote on."""
        data = self.carry + chunk if self.carry else chunk
        kept = len(data) - len(data.rstrip(b"\\"))
        body = data[: len(data) - kept] if kept else data
        if b"\\" in body:
            body = _masked_escapes(body)
        end = body.find(b'"')
        if end < 0:
            self.carry = data[len(data) - kept :] if kept else b""
            return b""
        self.dropping, self.carry = False, b""
        return data[end:]


def _masked_escapes(data: bytes) -> bytes:
    """`\\\\` and `\\"` as two bytes no JSON string holds raw (a quote so escaped ends nothing), the second
    marking where no cut may fall; the same length, so offsets stay true. `data` starts where no escape is open."""
    return data.replace(b"\\\\", _PAIR).replace(b'\\"', _PAIR)


_PAIR = b"\x02\x01"
_ESCAPE_SPAN = 12  # a surrogate pair as two escapes (12 bytes): the longest stretch a cut must not split
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")


def _safe_cut(data: bytes, start: int) -> int | None:
    """The first offset from `start` that is neither inside a UTF-8 character, nor inside an escape, nor
    between the two escapes of a surrogate pair (yajl would read a lone half as `?`).

    `data` has its two-byte escapes of a backslash or a quote masked, so any backslash left starts an escape:
    `\\uXXXX` (6 bytes) or one of 2. Only called on a string cut short: a Python loop is fine here.
    """
    for at in range(start, len(data)):
        if 0x80 <= data[at] < 0xC0 or data[at] == 1:  # a UTF-8 continuation byte, a masked escape's second
            continue
        back = data.rfind(b"\\", max(0, at - 6), at)
        if back >= 0 and at < back + (6 if data[back + 1 : back + 2] == b"u" else 2):
            continue
        if at >= 6 and _HIGH_SURROGATE.fullmatch(data, at - 6, at):
            continue
        return at
    return None


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
        events = _IJSON.parse(DepthGuard(stream, MAX_DEPTH, string_limit=string_limit(DEFAULT_MAX_BODY_SIZE)))
        return any(prefix == "log.entries" and event == "start_array" for prefix, event, _ in events)
    except (ijson.JSONError, NestingError, RecordTooLargeError):
        return False


# content.encoding values that leave the text as it is (HAR 1.2 has the field left out; some exporters write utf8)
_PLAIN_TEXT = frozenset({"", "utf8", "utf-8", "identity"})


class _HarExchange(NamedTuple):
    """What one HAR entry holds for the judge (`inspect_parts`'s arguments), and its own credentials."""

    line: str  # what a finding names: the origin and path, never the query string
    status: int
    headers: dict[str, str]
    body: bytes | str | None
    parsed: Any
    credentials: Credentials
    raw_id: str
    own: list[str]  # the request's credential values, masked in its findings even when not registered


@dataclass
class _HarReading:
    """Reads HAR entries into exchanges to judge, counting on `result` what it does not judge."""

    contract: Contract
    result: AuditResult
    scope: HostScope
    max_body_size: int
    guard: DepthGuard | None = None

    def exchange(self, entry: Any, where: str) -> _HarExchange | None:
        """The exchange in one entry, or None when it is not one to judge (counted on `result`)."""
        contract, result = self.contract, self.result
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
        assert isinstance(response, dict)
        url = request["url"]
        prefix, path = _split_url(url)
        matched = contract.path_pattern.fullmatch(path)
        if matched is None or request["method"].upper() != contract.method:
            result.skipped += 1
            return None
        host = self.scope.origin(prefix) if prefix else None  # a URL without a host is judged, as a path
        if host is not None and host not in self.scope.origins:
            result.note_host(host)
            return None
        if status == 0:  # browsers write status 0 for a request that got no response (aborted, blocked)
            result.unanswered += 1
            return None
        shown, own = _request_credentials(request, url)
        result.keep_secrets(own)  # before anything is judged: every output masks them
        credentials: Credentials = "valid" if shown else "unknown"  # a sanitized export drops Authorization
        if not shown:
            result.no_credential += 1
        content = response.get("content")
        content = content if isinstance(content, dict) else {}
        body, parsed = self._body(content)
        if parsed is NOT_SAVED and status in contract.responses and signal_of(status, credentials) is None:
            result.unsaved += 1
        if result.base_url is None:
            result.base_url = host
        return _HarExchange(
            f"{host}{path}" if host else path,
            status,
            _response_headers(response, content),
            body,
            parsed,
            credentials,
            matched[1],
            own,
        )

    def _body(self, content: Mapping[str, Any]) -> tuple[bytes | str | None, Any]:  # noqa: PLR0911 - a ladder
        """The body as saved (text, or bytes from base64) and its reading: JSON, Unreadable, or NOT_SAVED."""
        text = content.get("text")
        if not isinstance(text, str):
            # A browser leaves the text out for a body it never read, an export "without content" for all;
            # a size of 0 says the body was empty, and an empty body is what the response was.
            return ("", read_body("")) if content.get("size") == 0 else (None, NOT_SAVED)
        if text.endswith(CUT_MARK) or len(text) > self.max_body_size:
            return None, self._too_large()
        encoding = str(content.get("encoding") or "").lower()
        if encoding in _PLAIN_TEXT:
            return text, read_body(text)
        if encoding != "base64":  # HAR 1.2 names only base64; any other encoding cannot be read back
            return None, NOT_SAVED
        try:
            body = base64.b64decode(text)
        except (binascii.Error, ValueError):  # the export is broken, not the response: judged without it
            return None, NOT_SAVED
        if len(body) > self.max_body_size:
            return None, self._too_large()
        return body, read_body(body)

    def _too_large(self) -> Unreadable:
        return Unreadable(f"larger than {size_text(self.max_body_size)} (--max-body-size), not read")

    def judge(self, exchange: _HarExchange) -> Inspection:
        """`inspect_parts` on the exchange; again on a masked copy when a finding could show a credential."""
        inspection = self._inspect(exchange)
        if not inspection.findings or not (self.result.secrets or exchange.own):
            return inspection
        body = exchange.body if exchange.body is None else _masked(exchange.body, exchange.own)
        headers = {name: _masked(value, exchange.own) for name, value in exchange.headers.items()}
        if body == exchange.body and headers == exchange.headers:
            return inspection
        parsed = exchange.parsed if body is None else read_body(body)
        return self._inspect(exchange._replace(body=body, headers=headers, parsed=parsed))

    def _inspect(self, exchange: _HarExchange) -> Inspection:
        contract = self.contract
        return inspect_parts(
            contract,
            contract.method,
            exchange.line,
            exchange.status,
            exchange.headers,
            exchange.body,
            exchange.parsed,
            exchange.credentials,
            exchange.raw_id,
        )


def _masked(value: Any, own: Sequence[str]) -> Any:
    """`value` (text or bytes) with every registered secret and the exchange's own credentials masked."""
    masked = redact(value)
    for secret in own:
        if isinstance(masked, bytes):
            masked = masked.replace(secret.encode(), MASK.encode())
        else:
            masked = masked.replace(secret, MASK)
    return masked


def _split_url(url: str) -> tuple[str, str]:
    """(scheme://authority, path) of a URL, without query or fragment; ("", path) for a relative URL.

    urlsplit would do, but costs more than judging the exchange; a HAR has one URL per entry.
    """
    prefix = ""
    scheme_end = url.find("://")
    if scheme_end >= 0:
        slash = url.find("/", scheme_end + 3)
        prefix, url = (url[:slash], url[slash:]) if slash >= 0 else (url, "/")
    for mark in "?#":
        url = url.split(mark, 1)[0]
    return prefix, url


def _request_credentials(request: Mapping[str, Any], url: str) -> tuple[bool, list[str]]:
    """Whether the request shows its Authorization header, and the credential values it carries.

    Authorization (without its scheme), Proxy-Authorization, X-Api-Key, Cookie (each cookie's value),
    credentials in the query string and a URL's password. They are only registered as secrets, never kept.
    """
    shown = False
    values: list[str] = []
    headers = request.get("headers")
    for header in headers if isinstance(headers, list) else ():
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        if name not in CREDENTIAL_HEADERS:
            continue
        value = str(header.get("value", "")).strip()
        if name == "cookie":
            values.extend(_cookie_values(value))
            continue
        shown = shown or (name == "authorization" and bool(value))
        # Without its scheme (Bearer, Basic): masking every 12-character run of "Bearer <token>" would also
        # mask text that merely shares the scheme's space and the token's first characters.
        credential = value.split(" ", 1)[-1].strip()
        if len(credential) >= MIN_SECRET_LENGTH:
            values.append(credential)
    cookies = request.get("cookies")
    for cookie in cookies if isinstance(cookies, list) else ():
        if isinstance(cookie, dict) and len(str(cookie.get("value", ""))) >= MIN_COOKIE_SECRET:
            values.append(str(cookie["value"]))
    if "?" in url:
        values.extend(_query_credentials(url.split("?", 1)[1]))
    if "@" in url.partition("://")[2].partition("/")[0]:
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password
            if password and len(password) >= MIN_SECRET_LENGTH:
                values.append(password)
    return shown, values


def _cookie_values(header: str) -> list[str]:
    """Each cookie's value (not the whole header, whose runs would span the cookies' names)."""
    values = []
    for pair in header.split(";"):
        value = pair.partition("=")[2].strip().strip('"')
        if len(value) >= MIN_COOKIE_SECRET:
            values.append(value)
    return values


def url_path(url: str) -> str:
    """The path of an absolute or relative URL, without query or fragment."""
    return _split_url(url)[1]


def origin(url: str) -> str | None:
    """scheme://host[:port] of a URL, never the user:password@ it may carry; the scheme's own port left out."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an invalid IPv6 literal
        return None
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == {"https": 443, "http": 80}.get(parts.scheme):
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
    again: bool = False  # a HAR part that did not check out: audit its file again in one pass
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
            result = AuditResult(task.fmt, Ledger(task.options.acceptance))
            if task.fmt == "jsonl":
                return _outcome(result, audit_lines(stream, contract, result, options=task.options))
            try:
                audit_har(stream, contract, result, split_marker=task.marker, options=task.options)
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
    Ctrl-C (or SIGTERM, with `run`'s handler) raises AuditInterruptedError holding what was judged so far;
    every worker is ended first.
    """
    contract = contract or default_contract()
    options = options or ReadOptions()
    plans = [_plan(path, jobs, options) for path in paths]
    total = AuditResult("jsonl", Ledger(options.acceptance))
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
                _fold(total, path, [_outcome(stop.partial)], named)
            raise AuditInterruptedError(total, stop.how) from None
        _fold(total, path, [outcome], named)
        done += _size(path)


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
                if outcome.again:
                    ahead.drop(number)
                    outcomes = [_local(path, contract, None, task.options)]
                    break
                outcomes.append(outcome)
                if outcome.error is not None:
                    break
                done += _size(path) if task.fmt is None else (task.end or 0) - task.start
                if progress is not None:
                    progress(done, total.entries + sum(o.entries for o in outcomes))
            finished, outcomes = outcomes, []
            _fold(total, path, finished, named)
    except KeyboardInterrupt as stop:
        _end_workers(pool)
        partial = stop.partial if isinstance(stop, Interrupted) else None
        _fold(total, path, [*outcomes, *([_outcome(partial)] if partial is not None else [])], named)
        raise AuditInterruptedError(total, _how(stop)) from None
    except BrokenProcessPool:
        _end_workers(pool)
        if _terminated.is_set():  # SIGTERM reached the workers first: stopped, as the main process was
            _fold(total, path, outcomes, named)
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


def _local(path: Path, contract: Contract, progress: Progress | None, options: ReadOptions) -> _Outcome:
    try:
        return _outcome(audit_file(path, contract, progress=progress, options=options))
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
        part_bytes = _part_bytes(os.environ.get(PART_BYTES_ENV))
        options = ReadOptions(values["max_body_size"], tuple(values["server"] or ()), acceptance, part_bytes)
    except (AuditInputError, SpecError, settings.SettingError, AcceptedDriftError) as exc:
        return fail(Decision(Verdict.USAGE, str(exc)))
    interrupted: str | None = None
    try:
        with _sigterm_stops():
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
    decision = judge(result, strict_drift=strict_drift, source=source, interrupted=interrupted)
    run_info = reports.RunInfo(
        target="audit",
        base_url=result.base_url or source,
        spec=contract.spec_path.name,
        started_at=started_at,
        duration_s=time.monotonic() - started,
    )
    head = [f"{PROG}: {shown} ({kinds}): {result.summary()}", *where_lines(result.ledger)]
    ending = end_run(result.ledger, decision, run_info, values["drift_report"], values["drift_report_md"], head=head)
    # Every line is masked: a finding may quote a value the capture's own credentials echo into.
    for line in ending.lines:
        print(terminal_line(line))
    for line in ending.errors:
        print(terminal_line(f"{PROG}: {line}"), file=sys.stderr)
    print(terminal_line(ending.verdict_line))
    return ending.exit_code


_terminated = threading.Event()  # set by the SIGTERM handler: a worker that died of the same SIGTERM is no error


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """While the audit runs, SIGTERM stops it as Ctrl-C does: workers ended, the verdict of what was read.

    (By default SIGTERM ends this process at once and leaves its workers running, orphaned.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        _terminated.set()
        raise _Terminated

    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def judge(result: AuditResult, *, strict_drift: bool, source: str, interrupted: str | None = None) -> Decision:
    """The suite's verdict; an audit that judged no exchange of the operation, or no body of one, is
    inconclusive, never ok. Interrupted: the suite's `interrupted` (130), never a pass, saying what was read."""
    decision = _judge_whole(result, strict_drift=strict_drift, source=source)
    if interrupted is None:
        return decision
    return Decision(
        Verdict.INTERRUPTED,
        f"interrupted by {interrupted} after {result.entries:,} exchanges, before the audit finished: the reports "
        f"hold what was read ({decision.verdict}: {decision.reason}); run it again for a verdict",
    )


def _judge_whole(result: AuditResult, *, strict_drift: bool, source: str) -> Decision:
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
        size = sum(_size(path) for path in paths)
        bar = ProgressBar(sys.stderr, size) if size >= PROGRESS_MIN_BYTES else None
    try:
        return audit_files(paths, contract, jobs=jobs, progress=bar, options=options)
    finally:
        if bar is not None:
            bar.close()
