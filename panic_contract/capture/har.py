"""Reading HAR captures: parsed entry by entry (ijson behind `guard.DepthGuard`), each exchange judged as read.

A HAR is what browsers and proxies export: its entries' URLs are scoped by their origin (`scope`), the
credentials a request shows are registered and masked (`credentials`), and a body is read as saved (text or
base64), or judged without it when the export left it out.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

import ijson
import orjson

from panic_contract.capture.credentials import request_credentials
from panic_contract.capture.guard import (
    CUT_MARK,
    MAX_DEPTH,
    DepthGuard,
    NestingError,
    RecordTooLargeError,
    entry_limit,
    string_limit,
)
from panic_contract.capture.result import (
    DEFAULT_MAX_BODY_SIZE,
    PROGRESS_MASK,
    READ_BUFFER,
    AuditInputError,
    AuditResult,
    Progress,
    ReadOptions,
)
from panic_contract.capture.scope import OTHER_HOST, Scope, split_url
from panic_contract.core.contract import Contract
from panic_contract.core.coverage import Coverage
from panic_contract.core.findings import NOT_SAVED, VALIDATED, Inspection, Unreadable, inspect_fields, read_body
from panic_contract.faults import Credentials, signal_of
from panic_contract.redaction import MASK, redact
from panic_contract.settings import size_text

try:
    IJSON: Any = ijson.get_backend("yajl2_c")  # the C parser, several times faster than the Python one
except ImportError:  # pragma: no cover - a platform without a yajl2_c wheel
    IJSON = ijson


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
    """A HAR, read entry by entry: a few entries in memory at a time, never the whole document.

    Nesting is bounded (MAX_DEPTH) before any parser sees it, and so are strings and entries (see
    `DepthGuard`), so memory stays flat for any input. Entries are found by a byte scan and parsed by
    orjson (`_FastEntries`); a HAR that scan cannot read exactly as ijson would (bad JSON, an entry past a
    bound, an unusual layout) is read again by ijson, whose errors name the position, so what is reported
    is the same either way. `split_marker`: the stream is one part of a HAR cut for workers (see
    `splitting._har_parts`), closed by this entry; SplitMismatchError when it is not the last entry of
    log.entries (the cut was not between entries).
    """
    options = options or ReadOptions()
    guarded = _guard(stream, options)
    fast = _FastEntries(guarded)
    try:
        number = _judge_entries(fast, guarded, contract, result, progress, stream, split_marker, options)
    except _NotFastError:
        again = None if fast.replay is not None else (second_pass or (lambda: None))()
        if fast.replay is None and again is None and split_marker is not None:
            raise SplitMismatchError from None  # a part: its file is audited again in one pass
        if again is not None:  # judged again from the start, as if the fast reader had never run
            fresh = AuditResult(result.format, options.ledger(contract))  # as the first pass made it
            result.__dict__.update({**fresh.__dict__, "secrets": result.secrets})
            guarded = _guard(again, options)
            head, offset = b"", 0
        else:  # the bytes the fast reader took, then the rest: ijson goes on where it stopped
            head, offset = (fast.replay, 0) if fast.replay is not None else (_HAR_HEAD + fast.pending(), fast.done)
        entries = _har_entries(_Replayed(head, guarded) if head else guarded)
        if again is None and fast.failed is not None:  # standard input, read once: the guard's own line
            entries, offset = _raising(fast.failed), fast.done
        number = _judge_entries(
            entries, guarded, contract, result, progress, stream, split_marker, options, first=offset
        )
    if number == 0:
        again = (second_pass or (lambda: None))()
        found = None if again is None else _has_entries_array(again)
        if found is None:
            raise AuditInputError("no HAR entries: it has no log.entries array, or an empty one")
        if not found:
            raise AuditInputError("not a HAR file: it has no log.entries array (for JSON Lines, name the file .jsonl)")


def _guard(stream: IO[bytes], options: ReadOptions) -> DepthGuard:
    return DepthGuard(
        stream,
        MAX_DEPTH,
        string_limit=string_limit(options.max_body_size),
        entry_limit=entry_limit(options.max_body_size),
    )


def _judge_entries(  # noqa: PLR0912, PLR0917 - private; the two readers' one loop
    entries: Iterable[Any],
    guarded: DepthGuard,
    contract: Contract,
    result: AuditResult,
    progress: Progress | None,
    stream: IO[bytes],
    split_marker: dict[str, str] | None,
    options: ReadOptions,
    *,
    first: int = 0,
) -> int:
    """Judge each entry as it comes; the number of the last. Errors of the reader become one line naming it."""
    reading = _HarReading(contract, result, Scope.of(contract, options), options.max_body_size)
    reading.guard = guarded
    exchange_of, inspect, add, judge, method = (
        reading.exchange,
        reading.inspect,
        result.ledger.add,
        inspect_fields,
        contract.method,
    )
    seen: list[bool] = []
    if split_marker is not None:
        entries = _before_marker(entries, split_marker, seen)
    number = first
    validated = 0  # a local, not the ledger: most entries conform, and are folded in once
    cover = result.ledger.coverage  # None unless --coverage
    conforms = _quick_entry(contract, reading) if QUICK_ENTRIES and cover is None else None
    try:
        for number, entry in enumerate(entries, first + 1):
            guarded.entry_bytes = 0  # the entry is whole: the next one's bytes count from here
            if progress is not None and not (number - 1) & PROGRESS_MASK and number > first + 1:  # those before it
                progress(stream.tell(), result.entries + number - 1 - first)
            if conforms is not None and conforms(entry):
                validated += 1  # the common case: counted here, folded into the ledger once
                continue
            exchange = exchange_of(entry, number)
            if exchange is not None:
                # the judge as is first; `inspect` judges again, masked, only an exchange with findings
                inspection = judge(contract, method, *exchange.judged())
                if inspection is VALIDATED:
                    validated += 1
                else:
                    add(inspect(exchange, inspection), f"entry {number}") if inspection.findings else add(inspection)
                if cover is not None:  # --coverage: counted from what the judge found
                    reading.cover(cover, exchange, inspection)
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
    finally:
        result.entries += number - first
        add(VALIDATED, times=validated)
    if split_marker is not None and seen != [True]:
        raise SplitMismatchError
    return number


QUICK_ENTRIES = True  # the tests turn the quick check off to prove the full reading agrees with it


def _quick_entry(contract: Contract, reading: _HarReading) -> Callable[[Any], bool] | None:
    """A check of the common entry at once: a GET of the operation's path on one of this API's hosts (its origin
    written as usual), answered 200 with the documented media type in a Content-Type header and a body that
    passes `Contract.conforming_callout` and holds the id the URL asked for, the request showing its token.
    True when `entry` is one, counted as read on `result`; any other entry is read in full by
    `_HarReading.exchange`, which reaches the same verdict on these (tests/self/test_audit_quick.py proves it).
    """
    prefix = contract.id_prefix
    if prefix is None or not prefix.endswith("/"):  # the URL is cut at its last slash
        return None
    roots = {root + prefix: root for root in reading.scope.origins}  # "https://host/panic-api/v2/callouts/"
    method, media_type, conforming = contract.method, contract.responses[200].media_type, contract.conforming_callout
    max_body_size, result, loads = reading.max_body_size, reading.result, orjson.loads

    def conforms(entry: Any) -> bool:  # noqa: PLR0911 - a closure, not a method: its names are locals
        try:
            request, response = entry["request"], entry["response"]
            url = request["url"]
            cut = url.rfind("/") + 1
            root = roots.get(url[:cut])
            if root is None or request["method"] != method or response["status"] != 200:
                return False
            content = response["content"]
            text = content["text"]
            if type(text) is not str or "encoding" in content or len(text) > max_body_size or text.endswith(CUT_MARK):
                return False
            media = None
            for header in response["headers"]:  # as `_response_headers` reads them: the last one counts
                if header["name"].lower() == "content-type":
                    media = header["value"]
            if media != media_type:
                return False
            body = loads(text)
            # conforming first: it passes only an integer id, which str() is safe with (not a list 1,000 deep)
            if type(body) is not dict or not conforming(body) or str(body["id"]) != url[cut:]:
                return False
            shown, own = request_credentials(request, url)
        except (TypeError, KeyError, AttributeError, ValueError):  # orjson's JSONDecodeError is a ValueError
            return False
        if not shown:
            return False  # no token shown: the full reading counts it
        result.keep_secrets(own)
        if result.base_url is None:
            result.base_url = root
        return True

    return conforms


class _NotFastError(Exception):
    """The fast reader cannot go on exactly as ijson would; `_FastEntries.replay` or `pending` say what it took."""


_HAR_HEAD = b'{"log":{"entries":['
_ENTRIES_KEY = re.compile(rb'"entries"\s*:\s*\[')
_FIRST_KEY = re.compile(rb'\s*\{\s*"([A-Za-z0-9_$.@-]{1,64})"\s*:')
_PRELUDE_MAX = 4 << 20  # log's members before its entries (version, creator, pages): a few KiB in practice
# Entries are parsed this many bytes at a time: larger batches hold more objects at once, which costs more
# (the garbage collector walks them) than the calls a smaller batch saves.
_BATCH = 32 << 10
# orjson takes about twelve times its input while it parses (its reader sizes its work space by the input):
# entries longer than this (a body of megabytes) are parsed by ijson, whose memory follows the strings.
_LARGE_BATCH = 1 << 20


class _FastEntries:
    """The entries of log.entries, found by a byte scan and parsed by orjson, a batch of them per call.

    In valid JSON, `,{"KEY":` (KEY the first key of the first entry; a quote right after `{` cannot be in a
    string) always starts an element of some array: where it starts one of log.entries, the bytes before it
    back to the previous such point are whole entries, and orjson parses them as one array. A point inside
    an entry (an array of objects with the same first key) makes that parse fail, as does bad JSON: either
    raises `_NotFastError`, and ijson reads the HAR instead. The bytes come through the `DepthGuard`, which
    bounds nesting, strings and entries as it does for ijson.
    """

    def __init__(self, guard: DepthGuard) -> None:
        self.guard = guard
        self.replay: bytes | None = b""  # every byte taken, while no entry has been given out
        self.buffer = bytearray()  # grown in place; a batch is parsed where it lies (see `_parse`)
        self.start = 0  # where the entries not yet parsed begin in `buffer`
        self.done = 0  # entries given out
        self.failed: NestingError | RecordTooLargeError | None = None  # what the guard stopped at

    def pending(self) -> bytes:
        return bytes(self.buffer[self.start :])

    def _read(self) -> bytes:
        try:
            chunk = self.guard.read(READ_BUFFER)
        except (NestingError, RecordTooLargeError) as exc:
            self.replay, self.failed = None, exc  # the guard stopped mid-chunk: a second pass says what ijson would
            raise _NotFastError from None
        if self.replay is not None:
            # kept while small; past that, a HAR the fast reader cannot read is read again from the start
            self.replay = self.replay + chunk if len(self.replay) < _PRELUDE_MAX else None
        return chunk

    def __iter__(self) -> Iterator[Any]:
        prelude = self._prelude()
        while len(self.buffer) - self.start < 4096 and (chunk := self._read()):  # the first entry's first key
            self.buffer += chunk
        key = _FIRST_KEY.match(self.buffer, self.start)
        if key is not None:
            yield from self._batches(re.compile(rb",\s*\{\s*\"" + re.escape(key[1]) + rb'"\s*:'))
        elif bytes(self.buffer[self.start :]).lstrip()[:1] not in (b"]", b""):
            raise _NotFastError  # an entry that is not an object, or one with an unusual first key
        yield from self._last(prelude)

    def _prelude(self) -> bytes:
        """Read up to the first entry; the document's bytes before it (they end with log.entries's `[`)."""
        searched = 0
        while True:
            chunk = self._read()
            self.buffer += chunk
            for found in _ENTRIES_KEY.finditer(self.buffer, max(0, searched - 64)):
                if _opens_log_entries(bytes(self.buffer[: found.end()])):
                    self.start = found.end()
                    return bytes(self.buffer[: found.end()])
            searched = len(self.buffer)
            if not chunk or searched > _PRELUDE_MAX:
                raise _NotFastError

    def _batches(self, entry_start: re.Pattern[bytes]) -> Iterator[Any]:
        """Every entry but the last few, a batch at a time; the rest stays in `buffer`."""
        searched = 0
        while True:
            found = entry_start.search(self.buffer, max(self.start + _BATCH, searched))
            if found is None:
                chunk = self._read()
                if not chunk:
                    return
                searched = max(0, len(self.buffer) - self.start - 64)  # a match may straddle the two
                self._append(chunk)
                continue
            cut = found.start()
            batch = self._parse(cut)
            self.start = cut + 1
            self.replay = None
            self.done += len(batch)
            yield from batch
            del batch  # not held while the next batch is parsed

    def _append(self, chunk: bytes) -> None:
        del self.buffer[: self.start - 1]  # the byte before the entries stays: it is made the next batch's `[`
        self.buffer += chunk
        self.start = 1

    def _parse(self, cut: int) -> list[Any]:
        """The entries from `start` to the comma at `cut`, parsed as one array in place: the bytes just
        before them (log.entries's `[`, or the comma after the last batch) and at `cut` are made its brackets."""
        buffer, start = self.buffer, self.start
        if cut - start > _LARGE_BATCH:  # ijson, as the old reader: it holds a long string in twice its size
            try:
                return list(IJSON.items(io.BytesIO(b"[" + buffer[start:cut] + b"]"), "item", use_float=True))
            except ijson.JSONError:
                raise _NotFastError from None
        before = buffer[start - 1]
        buffer[start - 1], buffer[cut] = 0x5B, 0x5D  # [ and ]
        try:
            with memoryview(buffer) as whole, whole[start - 1 : cut + 1] as batch:
                entries = orjson.loads(batch)
        except orjson.JSONDecodeError:
            raise _NotFastError from None
        finally:
            buffer[start - 1], buffer[cut] = before, 0x2C  # as they were: the comma at `cut`
        if not isinstance(entries, list):
            raise _NotFastError
        return entries

    def _last(self, prelude: bytes) -> Iterator[Any]:
        """The last entries, up to log.entries's `]`, once the whole document is read and checked."""
        while chunk := self._read():
            self._append(chunk)
        if len(self.buffer) - self.start > _LARGE_BATCH:
            raise _NotFastError  # read by ijson instead (see _LARGE_BATCH)
        rest = b"[" + self.buffer[self.start :]
        try:
            orjson.loads(rest)
            raise _NotFastError  # nothing after log.entries: the document is not closed
        except orjson.JSONDecodeError as exc:
            if not exc.msg.startswith("unexpected content after document"):
                raise _NotFastError from None
            end = exc.pos
        tail = rest[end:]
        if b'"entries"' in tail or b'"log"' in tail:
            raise _NotFastError  # a second entries array, or log: ijson would read their entries too
        try:
            orjson.loads(prelude + b"]" + tail)
            batch = orjson.loads(rest[:end])
        except orjson.JSONDecodeError:
            raise _NotFastError from None
        self.replay = None
        self.done += len(batch)
        yield from batch


def _raising(exc: Exception) -> Iterator[Any]:
    raise exc
    yield  # a generator: it raises when the loop asks for the first entry


def _opens_log_entries(prefix: bytes) -> bool:
    """Whether `prefix` (a document's first bytes) ends with the `[` that opens log.entries."""
    last = None
    try:
        for prefix_path, event, _ in IJSON.parse(DepthGuard(io.BytesIO(prefix), MAX_DEPTH)):
            last = (prefix_path, event)
    except (ijson.JSONError, NestingError):
        pass
    return last == ("log.entries", "start_array")


class _Replayed:
    """Bytes already taken from a reader, then the rest of that reader: what ijson reads after the fast reader."""

    def __init__(self, head: bytes, rest: DepthGuard) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            taken, self.head = (self.head, b"") if size < 0 else (self.head[:size], self.head[size:])
            return taken
        return self.rest.read(size)

    def tell(self) -> int:
        return self.rest.tell()


class SplitMismatchError(Exception):
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
    return IJSON.items(stream, "log.entries.item", use_float=True, buf_size=READ_BUFFER)  # type: ignore[no-any-return]


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


def _has_entries_array(stream: IO[bytes]) -> bool:
    """Only asked when a HAR gave no entry at all: was that an empty HAR, or not a HAR?"""
    try:
        events = IJSON.parse(DepthGuard(stream, MAX_DEPTH, string_limit=string_limit(DEFAULT_MAX_BODY_SIZE)))
        return any(prefix == "log.entries" and event == "start_array" for prefix, event, _ in events)
    except (ijson.JSONError, NestingError, RecordTooLargeError):
        return False


# content.encoding values that leave the text as it is (HAR 1.2 has the field left out; some exporters write utf8)
_PLAIN_TEXT = frozenset({"", "utf8", "utf-8", "identity"})


class _HarExchange(NamedTuple):
    """What one HAR entry holds for the judge (`inspect_fields`'s arguments), and its own credentials."""

    line: str  # what a finding names: the origin and path, never the query string
    status: int
    headers: dict[str, str]
    body: bytes | str | None
    parsed: Any
    credentials: Credentials
    raw_id: str
    own: list[str]  # the request's credential values, masked in its findings even when not registered

    def judged(self) -> tuple[str, int, dict[str, str], bytes | str | None, Any, Credentials, str]:
        """`inspect_fields`'s arguments after the contract and the method, in order."""
        return self.line, self.status, self.headers, self.body, self.parsed, self.credentials, self.raw_id


@dataclass
class _HarReading:
    """Reads HAR entries into exchanges to judge, counting on `result` what it does not judge."""

    contract: Contract
    result: AuditResult
    scope: Scope
    max_body_size: int
    guard: DepthGuard | None = None

    def exchange(self, entry: Any, number: int) -> _HarExchange | None:
        """The exchange in entry `number`, or None when it is not one to judge (counted on `result`)."""
        contract, result = self.contract, self.result
        request = entry.get("request") if isinstance(entry, dict) else None
        method = request.get("method") if isinstance(request, dict) else None
        url = request.get("url") if isinstance(request, dict) else None
        if not isinstance(method, str) or not isinstance(url, str):
            raise AuditInputError(f"entry {number}: has no request with a method and url; is this a HAR file?")
        response = entry.get("response")
        status = response.get("status") if isinstance(response, dict) else None
        if type(status) is not int:  # the common case costs one test; the others are read as they always were
            if isinstance(status, float) and status.is_integer():
                status = int(status)  # some exporters write 200.0
            if not isinstance(status, int) or isinstance(status, bool):
                raise AuditInputError(
                    f"entry {number}: has no response with a status; export the HAR again with responses"
                )
        assert isinstance(request, dict)
        assert isinstance(response, dict)
        prefix, path = split_url(url)
        matched = self.scope.operation(method, path)
        if matched is None:
            result.skipped += 1
            return None
        host = self.scope.root_of_url(prefix, result)  # None: a URL without a host is judged, as a path
        if host == OTHER_HOST:  # counted on `result`
            return None
        if status == 0:  # browsers write status 0 for a request that got no response (aborted, blocked)
            result.unanswered += 1
            return None
        shown, own = request_credentials(request, url)
        result.keep_secrets(own)  # before anything is judged: every output masks them
        credentials: Credentials = "valid" if shown else "unknown"  # a sanitized export drops Authorization
        if not shown:
            result.no_credential += 1
        content = response.get("content")
        content = content if isinstance(content, dict) else {}
        body, parsed = self._body(content)
        if (
            parsed is NOT_SAVED
            and status in contract.responses
            and signal_of(status, credentials, method.upper(), contract.method) is None
        ):
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
        encoding = content.get("encoding")
        if not encoding or (encoding := str(encoding).lower()) in _PLAIN_TEXT:  # most exports leave it out
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

    def inspect(self, exchange: _HarExchange, inspection: Inspection | None = None) -> Inspection:
        """`inspect_fields` on the exchange (`inspection`, when judged already); again on a masked copy when a
        finding could show a credential."""
        if inspection is None:
            inspection = self._inspect_as_is(exchange)
        if not inspection.findings or not (self.result.secrets or exchange.own):
            return inspection
        body = exchange.body if exchange.body is None else _masked(exchange.body, exchange.own)
        headers = {name: _masked(value, exchange.own) for name, value in exchange.headers.items()}
        if body == exchange.body and headers == exchange.headers:
            return inspection
        parsed = exchange.parsed if body is None else read_body(body)
        return self._inspect_as_is(exchange._replace(body=body, headers=headers, parsed=parsed))

    def cover(self, coverage: Coverage, exchange: _HarExchange, inspection: Inspection) -> None:
        """Count the exchange for --coverage; its field names and status value masked first when it carries a
        credential that is not registered (past MAX_CAPTURE_SECRETS), which the reports' masking cannot know."""
        if exchange.own and exchange.body is not None and not self.result.secrets.issuperset(exchange.own):
            coverage.add(exchange.status, read_body(_masked(exchange.body, exchange.own)))  # not the judged body
        else:
            coverage.add_judged(exchange.status, exchange.parsed, inspection)

    def _inspect_as_is(self, exchange: _HarExchange) -> Inspection:
        contract = self.contract
        return inspect_fields(contract, contract.method, *exchange.judged())


def _masked(value: Any, own: Sequence[str]) -> Any:
    """`value` (text or bytes) with every registered secret and the exchange's own credentials masked."""
    masked = redact(value)
    for secret in own:
        if isinstance(masked, bytes):
            masked = masked.replace(secret.encode(), MASK.encode())
        else:
            masked = masked.replace(secret, MASK)
    return masked


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
