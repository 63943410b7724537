"""Reading HAR captures: parsed entry by entry (ijson behind `guard.DepthGuard`), each exchange judged as read.

A HAR is what browsers and proxies export: its entries' URLs are scoped by their origin (`scope`), the
credentials a request shows are registered and masked (`credentials`), and a body is read as saved (text or
base64), or judged without it when the export left it out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

import ijson

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
from panic_contract.core.findings import NOT_SAVED, Inspection, Unreadable, inspect_fields, read_body
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
    """A HAR, parsed incrementally: one entry in memory at a time, never the whole document.

    Nesting is bounded (MAX_DEPTH) before the parser sees it, and so are strings and entries (see
    `DepthGuard`), so memory stays flat for any input. `split_marker`: the stream is one part of a HAR cut
    for workers (see `splitting._har_parts`), closed by this entry; SplitMismatchError when it is not the last entry
    of log.entries (the cut was not between entries).
    """
    options = options or ReadOptions()
    reading = _HarReading(contract, result, Scope.of(contract, options), options.max_body_size)
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
                inspection = reading.inspect(exchange)
                result.ledger.add(inspection, where if inspection.findings else None)
                if result.ledger.coverage is not None:  # --coverage
                    reading.cover(result.ledger.coverage, exchange, inspection)
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
        raise SplitMismatchError
    if number == 0:
        again = (second_pass or (lambda: None))()
        found = None if again is None else _has_entries_array(again)
        if found is None:
            raise AuditInputError("no HAR entries: it has no log.entries array, or an empty one")
        if not found:
            raise AuditInputError("not a HAR file: it has no log.entries array (for JSON Lines, name the file .jsonl)")


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


@dataclass
class _HarReading:
    """Reads HAR entries into exchanges to judge, counting on `result` what it does not judge."""

    contract: Contract
    result: AuditResult
    scope: Scope
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
        prefix, path = split_url(url)
        matched = self.scope.operation(request["method"], path)
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
        signal = signal_of(status, credentials, request["method"].upper(), contract.method)
        if parsed is NOT_SAVED and status in contract.responses and signal is None:
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

    def inspect(self, exchange: _HarExchange) -> Inspection:
        """`inspect_fields` on the exchange; again on a masked copy when a finding could show a credential."""
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
        return inspect_fields(
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
