"""Reading JSON Lines captures: one exchange record per line, in the fixture format, judged as it is read.

A record is the fixture format (`request` and `response` required; description, operation and provenance
may be left out); one that names its host (`provenance.target`, as `record` writes it) is scoped by it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import IO, Any

import jsonschema_rs
import orjson

from panic_contract.capture.credentials import query_credentials
from panic_contract.capture.result import PROGRESS_MASK, AuditInputError, AuditResult, Progress, ReadOptions
from panic_contract.capture.scope import OTHER_HOST, Scope
from panic_contract.core.contract import Contract
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


def audit_lines(  # noqa: PLR0912, PLR0915 - the hot loop is kept flat on purpose: one helper call per line
    stream: IO[bytes],
    contract: Contract,
    result: AuditResult,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
) -> int:
    """JSON Lines, one record at a time; returns how many lines it read. The audit's hot path: keep it flat.

    Per in-scope line it costs one orjson parse, one line-format check and one body check
    (both in Rust, jsonschema_rs), `Scope.operation` and `inspect_fields`; no Exchange is built.
    Everything else is a dict lookup or a local: bench/run.py measures what one more step costs.
    A line is read up to `max_body_size` bytes and no further: a longer one is one line, exit 4.
    """
    options = options or ReadOptions()
    scope = Scope.of(contract, options)
    loads, in_scope, in_path, method = orjson.loads, scope.operation, contract.path_pattern.fullmatch, contract.method
    valid_line, add, inspect_one = _LINE_VALIDATOR.is_valid, result.ledger.add, inspect_fields
    limit = options.max_body_size
    entries = skipped = validated = 0  # locals, not attributes: this loop runs a million times
    want_target = result.base_url is None
    cover = result.ledger.coverage  # None unless --coverage: then one `is not None` a line is all it costs
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
                    result.keep_secrets(query_credentials(query))
                # the match holds the requested id; `in_scope` asked only for a method not written as ours
                matched = in_path(path)
                if matched is not None and (requested := request.get("method")) != method:
                    matched = in_scope(requested, path)
            except (TypeError, KeyError, AttributeError):
                raise AuditInputError(_record_error(record, f"line {number}")) from None
            entries += 1
            if matched is None:
                skipped += 1
            elif not valid_line(record):  # the format in full, so no malformed record passes
                raise AuditInputError(_record_error(record, f"line {number}"))
            elif (
                root := scope.root_of_target(_target_of(record), result) if "provenance" in record else None
            ) == OTHER_HOST:
                pass  # another host's record: counted on `result`, not judged
            else:
                if root is not None:
                    path = root + path  # a record naming its host: its findings name it too
                response = record["response"]
                headers = response["headers"]
                if len(headers) != 1 or "content-type" not in headers:  # the recorder's one header needs no copy
                    headers = lower_headers(headers)
                parsed = response.get("body", NOT_PARSED)
                body = None if parsed is not NOT_PARSED else raw_body(response)
                if cover is not None and body is not None and response["status"] == CALLOUT_STATUS:
                    parsed, body = read_body(body), None  # read once, here: the judge takes the reading as it is
                inspection = inspect_one(
                    contract,
                    method,
                    path,
                    response["status"],
                    headers,
                    body,
                    parsed,
                    request.get("credentials", "valid"),
                    matched[1],
                )
                if cover is not None:  # None unless --coverage
                    cover.add_judged(response["status"], parsed, inspection)
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
