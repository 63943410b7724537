"""Reading JSON Lines captures: one exchange record per line, in the fixture format, judged as it is read.

A record is the fixture format (`request` and `response` required; description, operation and provenance
may be left out); one that names its host (`provenance.target`, as `record` writes it) is scoped by it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import IO, Any, NoReturn

import jsonschema_rs
import orjson

from panic_contract.capture.credentials import query_credentials
from panic_contract.capture.result import PROGRESS_MASK, AuditInputError, AuditResult, Progress, ReadOptions
from panic_contract.capture.scope import OTHER_HOST, Scope
from panic_contract.core.contract import JSON_MEDIA_TYPE, Contract
from panic_contract.core.coverage import CALLOUT_STATUS
from panic_contract.core.findings import NOT_PARSED, VALIDATED, Inspection, Unreadable, inspect_fields, read_body
from panic_contract.core.fixtures import FIXTURE_SCHEMA, lower_headers, raw_body
from panic_contract.redaction import redact
from panic_contract.settings import size_text

# One line of JSON Lines: the fixture format itself, minus the metadata a capture need not carry.
LINE_SCHEMA: dict[str, Any] = {**FIXTURE_SCHEMA, "required": ["request", "response"]}
_LINE_VALIDATOR = jsonschema_rs.Draft202012Validator(LINE_SCHEMA, validate_formats=True)
# Errors whose message names only keys of the record, never a value.
_KEYS_ONLY = (jsonschema_rs.ValidationErrorKind.Required, jsonschema_rs.ValidationErrorKind.AdditionalProperties)


def audit_lines(
    stream: IO[bytes],
    contract: Contract,
    result: AuditResult,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
) -> int:
    """JSON Lines, one record at a time; returns how many lines it read. The audit's hot path: keep it flat.

    A line is parsed by orjson. A record in the shape nearly every line of a clean capture has (request and
    response only; GET of the operation's path with the id the body holds; a 200 with the media type as its
    one header; valid credentials) costs one compiled check of its body, `Contract.conforming_callout`,
    and a few comparisons; any other line (and every line under --coverage) is read in full by `_Lines.judge`,
    which reaches the same verdict on those records (tests/self/test_audit_quick.py proves it). bench/run.py
    measures what one more step costs. A line longer than `max_body_size` bytes is one line, exit 4, read
    no further.
    """
    options = options or ReadOptions()
    lines = _Lines(contract, result, Scope.of(contract, options))
    loads, judge, conforming, method = orjson.loads, lines.judge, contract.conforming_callout, contract.method
    id_prefix = contract.id_prefix  # None: the path goes on after the id, and no line is checked quickly
    # --coverage counts every field: each line is read in full
    quick = QUICK_LINES and result.ledger.coverage is None and id_prefix is not None
    prefix = id_prefix or ""
    limit = options.max_body_size
    number = validated = 0  # locals, not attributes: this loop runs a million times
    # readline(n) never holds more than n bytes of a line (iterating the file would hold all of it)
    lines_of = iter(functools.partial(stream.readline, limit + 2), b"")
    try:
        for line in lines_of:
            if not number & PROGRESS_MASK and number and progress is not None:  # the lines before this one
                progress(stream.tell() - len(line), lines.entries + validated)
            number += 1
            if len(line) > limit and (len(line) > limit + 1 or line[-1:] != b"\n"):
                _too_long(number, limit)
            try:
                record = loads(line)
            except orjson.JSONDecodeError as exc:
                if line.strip():  # a blank line (often the last one) holds no exchange
                    judge(_record_with_surrogates(line, exc, number), line, number, validated)
                continue
            if quick:
                try:
                    request, response = record["request"], record["response"]
                    body = response["body"]
                    if (
                        len(record) == 2
                        and response["status"] == 200
                        and response["headers"] == _JSON_ONLY
                        and len(response) == 3  # status, headers and body, nothing else
                        and request["method"] == method
                        and (len(request) == 2 or (len(request) == 3 and request.get("credentials") == "valid"))
                        and conforming(body)  # first: it passes only an integer id, which str() is safe with
                        and request["path"] == prefix + str(body["id"])  # the path and the id it asked for
                    ):
                        validated += 1  # the common case: counted here, folded into the ledger once
                        continue
                except (TypeError, KeyError, AttributeError, ValueError):
                    pass  # not the common shape: the full reading says what it is
            judge(record, line, number, validated)
    except RecursionError:  # a body_text nested deeper than the JSON parser can follow
        raise AuditInputError(f"line {number}: the response body is JSON nested too deep to judge") from None
    finally:
        result.entries += lines.entries + validated
        result.skipped += lines.skipped
        result.ledger.add(VALIDATED, times=lines.validated + validated)
    return number


QUICK_LINES = True  # the tests turn the quick check off to prove the full reading agrees with it
_JSON_ONLY = {"content-type": JSON_MEDIA_TYPE}  # the one header the recorder keeps, as it keeps it


def _too_long(number: int, limit: int) -> NoReturn:
    raise AuditInputError(
        f"line {number}: larger than {size_text(limit)} (--max-body-size), not read; no exchange "
        "record is that large: is this the capture you meant? (raise --max-body-size to read it)"
    )


class _Lines:
    """The full reading of one line: the record checked against the line format, scoped, and judged by
    `inspect_fields`, with what it counts kept here for `audit_lines` to add once."""

    def __init__(self, contract: Contract, result: AuditResult, scope: Scope) -> None:
        self.contract, self.result, self.scope = contract, result, scope
        self.entries = self.skipped = self.validated = 0
        self.want_target = result.base_url is None

    def judge(self, record: Any, line: bytes, number: int, quick_before: int) -> None:  # noqa: PLR0912 - one ladder
        """Judge line `number`; `quick_before`: how many lines before it `audit_lines` judged conforming."""
        contract, result, scope = self.contract, self.result, self.scope
        try:
            request = record["request"]
            path = request["path"]
            if "?" in path:  # reports carry the path only: a query string may hold a credential
                path, query = path.split("?", 1)
                result.keep_secrets(query_credentials(query))
            matched = scope.operation(request.get("method"), path)  # the match holds the requested id
        except (TypeError, KeyError, AttributeError):
            raise AuditInputError(_record_error(record, f"line {number}")) from None
        self.entries += 1
        if matched is None:
            self.skipped += 1
            return
        if not _LINE_VALIDATOR.is_valid(record):  # the format in full, so no malformed record passes
            raise AuditInputError(_record_error(record, f"line {number}"))
        root = scope.root_of_target(_target_of(record), result) if "provenance" in record else None
        if root == OTHER_HOST:
            return  # another host's record: counted on `result`, not judged
        if root is not None:
            path = root + path  # a record naming its host: its findings name it too
        response = record["response"]
        headers = response["headers"]
        if len(headers) != 1 or "content-type" not in headers:  # the recorder's one header needs no copy
            headers = lower_headers(headers)
        parsed = response.get("body", NOT_PARSED)
        body = None if parsed is not NOT_PARSED else raw_body(response)
        status, cover = response["status"], result.ledger.coverage  # cover: None unless --coverage
        if cover is not None and body is not None and status == CALLOUT_STATUS:
            parsed, body = read_body(body), None  # read once, here: the judge takes the reading as it is
        credentials = request.get("credentials", "valid")
        inspection = inspect_fields(
            contract, contract.method, path, status, headers, body, parsed, credentials, matched[1]
        )
        if cover is not None:
            cover.add_judged(status, parsed, inspection)
        if inspection is VALIDATED:
            self.validated += 1
        elif inspection.findings:
            if result.secrets:  # a credential the capture carries may show in a finding: mask it first
                inspection = _masked_line(line, path, contract, inspection)
            result.ledger.add(inspection, f"line {number}")
        else:
            result.ledger.add(inspection)
        if self.want_target:  # the host a recorded fixture names, from the first judged record
            if not quick_before:  # else that record named none
                result.base_url = root
            self.want_target = False


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
        return inspect_fields(
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
