"""Turn one observed exchange into findings of a fixed vocabulary: the only code that judges a response.

The schemathesis checks, the fixture tests, the recorder's shape diff and the bulk audit all call
`inspect()` (the audit `inspect_fields()`); the ledger, the verdict and the reports only count and
render what it returns. `exchange_of` is where a response the sender got becomes an `Exchange`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import orjson

from panic_contract.core.contract import Contract, describe_type, parse_callout_id, without_query
from panic_contract.core.fingerprint import fingerprint as fingerprint_key
from panic_contract.faults import Credentials, Signal, signal_of
from panic_contract.redaction import redact

if TYPE_CHECKING:
    import httpx


class Kind(StrEnum):
    """The fixed vocabulary of drift. README.md documents each one."""

    MISSING_FIELD = "missing-field"
    TYPE_CHANGED = "type-changed"
    NULL_IN_NON_NULLABLE = "null-in-non-nullable"
    FORMAT_VIOLATED = "format-violated"
    UNKNOWN_STATUS = "unknown-status"
    NEW_FIELD = "new-field"
    UNDOCUMENTED_STATUS_CODE = "undocumented-status-code"
    SERVER_ERROR = "server-error"
    WRONG_CONTENT_TYPE = "wrong-content-type"
    MALFORMED_BODY = "malformed-body"
    AUTH_NOT_ENFORCED = "auth-not-enforced"
    ID_MISMATCH = "id-mismatch"
    SCHEMATHESIS_CHECK = "schemathesis-check"  # a schemathesis check failed where no kind above fits


Severity = Literal["breaking", "additive"]
ADDITIVE_KINDS = frozenset({Kind.NEW_FIELD})


def severity_of(kind: Kind) -> Severity:
    return "additive" if kind in ADDITIVE_KINDS else "breaking"


class _NotParsed:
    def __repr__(self) -> str:
        return "NOT_PARSED"


NOT_PARSED: Any = _NotParsed()


class _NotSaved:
    def __repr__(self) -> str:
        return "NOT_SAVED"


# The body was not kept by whatever captured the exchange (a browser drops unread bodies): the exchange is
# judged on its method, status and headers only.
NOT_SAVED: Any = _NotSaved()


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A body that cannot be read as JSON, and why, as its malformed-body finding says it."""

    reason: str


def read_body(body: bytes | str | None) -> Any:
    """The one reading of a response body: its JSON value, or `Unreadable` saying why there is none.

    Strict, as RFC 8259 has it: UTF-8 only (UTF-16/32 text and a byte order mark are not JSON), no NaN or
    Infinity, no number beyond a double (1e400). orjson reads exactly this, and so does every path: the
    suite, the recorder, the audit's bodies and its JSON Lines records (orjson too). Integers beyond 64 bits
    come back as doubles (orjson's limit; RFC 8259 section 6 allows one).

    One leniency: an escaped unpaired surrogate (`"\\ud800"`) is valid JSON grammar (RFC 8259 section 8.2
    leaves what it means to the reader), and servers send them; orjson refuses them, so such a body is read
    by the standard library instead, held to the same rules.
    """
    try:
        return orjson.loads(body or b"")
    except orjson.JSONDecodeError as exc:
        if "surrogate in string" in str(exc):  # an escape (\ud800), not raw bytes
            return _read_with_surrogates(body or b"", exc)
        return Unreadable(_why_not_json(body or b"", exc))


def _not_a_number(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("a number too large for a double")
    return value


def _read_with_surrogates(body: bytes | str, exc: orjson.JSONDecodeError) -> Any:
    """A body orjson refused only for an escaped unpaired surrogate: the standard library's reading of it."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text, parse_constant=_not_a_number, parse_float=_finite)
    except RecursionError:
        return Unreadable(TOO_DEEP)
    except UnicodeDecodeError:
        return Unreadable("not JSON (not UTF-8 text)")
    except json.JSONDecodeError:
        return Unreadable(_why_not_json(body, exc))
    except ValueError as problem:  # NaN, Infinity, 1e400: as orjson would have said of them
        return Unreadable(f"not JSON ({problem})")


TOO_DEEP = "JSON nested too deep"
_BOMS = (  # longest first: UTF-32LE's starts with UTF-16LE's
    (b"\xff\xfe\x00\x00", "UTF-32 text with a byte order mark; JSON is UTF-8"),
    (b"\x00\x00\xfe\xff", "UTF-32 text with a byte order mark; JSON is UTF-8"),
    (b"\xef\xbb\xbf", "a byte order mark before the JSON"),
    (b"\xff\xfe", "UTF-16 text with a byte order mark; JSON is UTF-8"),
    (b"\xfe\xff", "UTF-16 text with a byte order mark; JSON is UTF-8"),
)
_NOT_NUMBERS = ("NaN", "Infinity")


def _why_not_json(body: bytes | str, exc: orjson.JSONDecodeError) -> str:  # noqa: PLR0911 - one ladder, top down
    """What a malformed-body finding says; it never quotes the body, which may hold a credential.

    Text is looked at as its UTF-8 bytes, so a body saved as text (a HAR's) reads as the same body received.
    """
    message = str(exc.args[0]) if exc.args else ""
    if "depth limit exceeded" in message:
        return TOO_DEEP
    data = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    if not data.strip():
        return "not JSON (an empty body)"
    for mark, what in _BOMS:
        if data.startswith(mark):
            return f"not JSON ({what})"
    encoding = json.detect_encoding(data)
    if encoding != "utf-8":  # NUL bytes where UTF-16/32 puts them
        return f"not JSON ({encoding.upper().replace('-BE', '').replace('-LE', '')} text; JSON is UTF-8)"
    if "not valid UTF-8" in message:
        return "not JSON (not UTF-8 text)"
    if "infinity when parsed as double" in message:
        return "not JSON (a number too large for a double)"
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    at = text[exc.pos : exc.pos + len("Infinity")]  # orjson points past a minus sign
    for word in _NOT_NUMBERS:
        if at.startswith(word):
            return f"not JSON ({word} is not a JSON number)"
    return f"not JSON ({message.split(':')[0]})"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its response, as observed. Headers are keyed in lower case."""

    method: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes | str | None = None
    parsed: Any = NOT_PARSED  # the body decoded as JSON when the source had it so; NOT_SAVED; an Unreadable
    credentials: Credentials = "valid"
    oversized: int | None = None  # the body grew past this many bytes (--max-body-size) and was not read whole

    @property
    def request(self) -> str:
        return f"{self.method} {self.path}"


def exchange_of(response: httpx.Response, credentials: Credentials) -> Exchange:
    """What `inspect` judges of a response the sender got (its secrets already masked): one request, as sent."""
    from panic_contract.sending.sender import OVERSIZED_EXTENSION  # loaded already by whoever holds a response

    request = response.request
    return Exchange(
        method=request.method.upper(),
        path=without_query(request.url.raw_path.decode("ascii", "replace")),
        status=response.status_code,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=response.content,
        credentials=credentials,
        oversized=response.extensions.get(OVERSIZED_EXTENSION),
    )


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    field: str | None
    expected: str
    actual: str
    request: str
    # What the request carried, so a reproducer sends it again as it was (no token, a wrong one). How it was
    # asked, not what was found: findings that differ only in it compare equal.
    credentials: Credentials = dataclasses.field(default="valid", compare=False)
    # What a diagnosis (core/diagnoses.py) reads beyond the finding's own words, also not what was found: for a
    # `new-field` holding an object, `TYPE PATH` of each value inside it (`integer $.callout.id`); for a
    # `wrong-content-type` or `malformed-body`, what the body is (`html`, `text`, `json`) and the status code.
    evidence: tuple[str, ...] = dataclasses.field(default=(), compare=False)

    @property
    def severity(self) -> Severity:
        return severity_of(self.kind)

    @property
    def subject(self) -> str:
        return self.field or _SUBJECTS.get(self.kind, "response")

    def message(self) -> str:
        """`GET /panic-api/v2/callouts/992011: $.customerId is null, contract says integer [...]`."""
        return f"{self.request}: {self.subject} is {self.actual}, contract says {self.expected} [{self.kind}]"


def fingerprint(finding: Finding) -> str:
    """A finding's short stable id across runs and rewordings (`core.fingerprint`): what arrived is left
    out, so every value of one drift (each unknown status text) shares it."""
    return fingerprint_key(str(finding.kind), finding.field, finding.expected)


_SUBJECTS = {
    Kind.UNDOCUMENTED_STATUS_CODE: "status code",
    Kind.SERVER_ERROR: "status code",
    Kind.WRONG_CONTENT_TYPE: "Content-Type",
    Kind.MALFORMED_BODY: "body",
    Kind.AUTH_NOT_ENFORCED: "status code",
}


@dataclass(frozen=True, slots=True)
class Inspection:
    findings: tuple[Finding, ...] = ()
    signal: Signal | None = None
    validated_body: bool = False  # a 200 body was held to the Callout schema


CLEAN = Inspection()
VALIDATED = Inspection(validated_body=True)  # shared: Inspection is frozen, and most responses conform
_SIGNALLED = {signal: Inspection(signal=signal) for signal in Signal}


def json_path(parts: Iterable[str | int]) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


# The one table of JSON type names, by the Python type a JSON value is read as.
JSON_TYPE_NAMES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def describe_value(value: Any) -> str:
    """How a value reads in a finding: `null`, `string "992011"`, `number 1.5`."""
    if value is None:
        return "null"
    name = JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    # json.dumps writes a plain int as repr() does; skipping it matters when a capture drifts a lot
    text = repr(value) if type(value) is int else json.dumps(value, ensure_ascii=False)
    text = redact(text)  # before the cut: a cut run of a secret is still one
    if len(text) > 60:
        text = text[:57] + "..."
    return (
        f"{name} {text}"
        if name in {"string", "integer", "number", "boolean"}
        else f"an {name}"
        if name in {"array", "object"}
        else name
    )


def type_described(description: str) -> str | None:
    """The JSON type a `describe_value` text names (`string "992011"` -> string, `an object` -> object), or None."""
    word = description.removeprefix("an ").split(" ", 1)[0]
    return word if word in _TYPE_WORDS else None


_TYPE_WORDS = frozenset(JSON_TYPE_NAMES.values())
MAX_MEMBERS = 64  # the values inside an undocumented object a finding keeps (evidence), shallowest first
_MEMBER_DEPTH = 3


def members(value: Mapping[str, Any], path: str) -> tuple[str, ...]:
    """`TYPE PATH` of each value inside an object found at `path`, a few levels down: a diagnosis's evidence."""
    found: list[str] = []
    level: list[tuple[str, Mapping[str, Any]]] = [(path, value)]
    for _ in range(_MEMBER_DEPTH):
        deeper: list[tuple[str, Mapping[str, Any]]] = []
        for where, item in level:
            for name, inner in item.items():
                if len(found) >= MAX_MEMBERS:
                    return tuple(found)
                inner_path = f"{where}.{name}"
                found.append(f"{JSON_TYPE_NAMES.get(type(inner), 'unknown')} {inner_path}")
                if isinstance(inner, dict):
                    deeper.append((inner_path, inner))
        level = deeper
    return tuple(found)


def page_of(body: bytes | str | None, parsed: Any = NOT_PARSED) -> str:
    """What a body the contract wants as JSON is: `json`, an `html` page, or `text`. Read for error-page only."""
    if parsed is not NOT_PARSED and not isinstance(parsed, Unreadable):
        return "json"  # the source had it as JSON already
    head = (body or b"")[:2048]
    lowered = (head.decode("utf-8", "replace") if isinstance(head, bytes) else head).lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in lowered:
        return "html"
    return "text" if isinstance(read_body(body), Unreadable) else "json"


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def inspect(exchange: Exchange, contract: Contract) -> Inspection:
    """Everything the contract says about one exchange with its one operation."""
    if exchange.oversized is not None:  # a body not read whole cannot be judged further, nor should it be
        size = f"larger than {exchange.oversized / (1 << 20):g} MiB (--max-body-size)"
        return _single(
            Kind.MALFORMED_BODY, None, "a JSON object", size, exchange.request, credentials=exchange.credentials
        )
    return inspect_fields(
        contract,
        exchange.method,
        exchange.path,
        exchange.status,
        exchange.headers,
        exchange.body,
        exchange.parsed,
        exchange.credentials,
        contract.match_path(exchange.path),
    )


def inspect_fields(  # noqa: PLR0917 - positional: called per record
    contract: Contract,
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    parsed: Any,
    credentials: Credentials,
    raw_id: str | None,
) -> Inspection:
    """`inspect`, given the fields of an `Exchange` rather than one.

    The bulk audit calls this for every record without building an Exchange (a frozen
    dataclass costs more to build than judging it). `raw_id` is `contract.match_path(path)`:
    the audit has matched the path already to decide the record is in scope.
    The request line for a finding is built only when there is a finding.
    """
    # The common case first, each check as the ladder below makes it: a 200 with the exact media type, a body
    # read already that one compiled check passes (valid, no undocumented field, a known status) and the
    # requested id. Any other answer goes down the ladder, which finds what is wrong: both give the
    # same Inspection for every exchange (tests/self/test_findings.py proves it with hypothesis).
    if (
        status == 200
        and (credentials == "valid" or credentials == "unknown")  # noqa: PLR1714 - two comparisons cost less than a set
        and type(parsed) is dict
        and method == contract.method
        and headers.get("content-type") == contract.responses[200].media_type
    ):
        try:  # valid, no undocumented field, a known status: one compiled check
            conforms = contract.conforming_callout(parsed)
        except (UnicodeEncodeError, ValueError):  # the ladder's own handling of these bodies applies
            conforms = False
        # the id written as the path writes it is the requested id (an id of another spelling: the ladder)
        if conforms and (raw_id is None or (type(got := parsed.get("id")) is int and str(got) == raw_id)):
            return VALIDATED
    return _inspect_in_full(contract, method, path, status, headers, body, parsed, credentials, raw_id)


def _inspect_in_full(  # noqa: PLR0911, PLR0912, PLR0917 - one ladder, read top down
    contract: Contract,
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | None,
    parsed: Any,
    credentials: Credentials,
    raw_id: str | None,
) -> Inspection:
    """The ladder of `inspect_fields`: every check, in order, for any exchange."""
    signal = signal_of(status, credentials, method, contract.method)
    if signal is not None:
        return _SIGNALLED[signal]
    if method != contract.method:
        return CLEAN  # other methods are not this operation; schemathesis's unsupported_method judges them
    if 300 <= status < 400:  # never followed: a redirect could carry our token to another host
        documented = ", ".join(str(code) for code in contract.documented_statuses)
        actual = f"{status} redirecting to {redirect_target(headers.get('location', ''))}"
        return _single(
            Kind.UNDOCUMENTED_STATUS_CODE,
            None,
            f"one of {documented}",
            actual,
            f"{method} {path}",
            credentials=credentials,
        )
    # "unknown": the source does not say. Two comparisons cost less than a set lookup, once per audited record.
    if 200 <= status < 300 and credentials != "valid" and credentials != "unknown":  # noqa: PLR1714
        return Inspection(
            findings=(
                Finding(
                    Kind.AUTH_NOT_ENFORCED,
                    None,
                    "401 for a request without a valid token",
                    f"{status} for a request with {'no' if credentials == 'missing' else 'a wrong'} token",
                    f"{method} {path}",
                    credentials,
                ),
            )
        )
    if status >= 500:
        return _single(
            Kind.SERVER_ERROR,
            None,
            "no 5xx for a well-formed request",
            str(status),
            f"{method} {path}",
            credentials=credentials,
        )
    response = contract.responses.get(status)
    if response is None:
        documented = ", ".join(str(code) for code in contract.documented_statuses)
        return _single(
            Kind.UNDOCUMENTED_STATUS_CODE,
            None,
            f"one of {documented}",
            str(status),
            f"{method} {path}",
            credentials=credentials,
        )
    media = headers.get("content-type", "")
    if media != response.media_type:  # the exact media type is the common case: no need to normalise it
        media = _media(media)
        if media != response.media_type:
            return _single(
                Kind.WRONG_CONTENT_TYPE,
                None,
                response.media_type,
                media or "missing",
                f"{method} {path}",
                credentials=credentials,
                evidence=() if parsed is NOT_SAVED else (page_of(body, parsed), str(status)),
            )
    if parsed is NOT_PARSED:
        parsed = read_body(body)
    if not isinstance(parsed, dict):  # the checks below cost nothing on the common path: a dict
        if parsed is NOT_SAVED:
            return CLEAN  # nothing more to judge without the body
        evidence: tuple[str, ...] = ()
        if isinstance(parsed, Unreadable):
            actual, evidence = parsed.reason, (page_of(body), str(status))
        else:
            actual = describe_value(parsed)
        return _single(
            Kind.MALFORMED_BODY,
            None,
            "a JSON object",
            actual,
            f"{method} {path}",
            credentials=credentials,
            evidence=evidence,
        )
    is_callout = status == 200
    requested = None if raw_id is None or not is_callout else parse_callout_id(raw_id)  # parsed once, here
    # is_valid first: iter_errors costs far more, and a body the schema takes (another code's, or a 200 the front
    # check refused for its status or id) needs none of it
    try:
        schema_valid = response.validator.is_valid(parsed)
    except UnicodeEncodeError:
        parsed = _surrogates_escaped(parsed)
        schema_valid = response.validator.is_valid(parsed)
    except ValueError:  # jsonschema_rs takes in no value nested deeper than ~250 levels ("Recursion limit reached")
        return _single(
            Kind.MALFORMED_BODY, None, "a JSON object", TOO_DEEP, f"{method} {path}", credentials=credentials
        )
    if (
        schema_valid
        and response.properties.issuperset(parsed)
        and (not is_callout or _callout_semantics_hold(parsed, requested, contract))
    ):
        return VALIDATED if is_callout else CLEAN
    request = f"{method} {path}"
    # iter_errors costs ten is_valid calls: only ask it when is_valid said there is something to find
    try:
        findings = (
            []
            if schema_valid
            else list(_schema_findings(parsed, response.schema, response.validator, request, credentials))
        )
    except UnicodeEncodeError:
        parsed = _surrogates_escaped(parsed)
        findings = list(_schema_findings(parsed, response.schema, response.validator, request, credentials))
    except ValueError:  # as above: is_valid may stop at the first error before it meets the deep value
        return _single(Kind.MALFORMED_BODY, None, "a JSON object", TOO_DEEP, request, credentials=credentials)
    findings.extend(
        Finding(
            Kind.NEW_FIELD,
            json_path([name]),
            "no such field",
            f"an undocumented field ({describe_value(parsed[name])})",
            request,
            credentials,
            members(parsed[name], json_path([name])) if isinstance(parsed[name], dict) else (),
        )
        for name in parsed
        if name not in response.properties
    )
    if is_callout:
        findings.extend(_callout_findings(parsed, request, requested, contract, credentials))
    return Inspection(findings=tuple(findings), validated_body=is_callout)


def redirect_target(location: str) -> str:
    """Where a Location points, as scheme://host[:port]/path, masked and cut to 80 characters.

    Never its user:password@, query or fragment: that is where credentials travel (`?access_token=`,
    `?sig=`), and the host and path say where it leads.
    """
    if not location.strip():
        return "nowhere (no Location)"
    try:
        parts = urlsplit(location.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, a bracket left open
        return "a Location that is not a URL"
    netloc = ""
    if parts.hostname:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"//{host}" + (f":{port}" if port is not None else "")
    where = redact((f"{parts.scheme}:" if parts.scheme else "") + netloc + parts.path)
    return where[:80] or "the same path (a Location with only a query or fragment)"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogates_escaped(value: Any) -> Any:
    """`value` with each lone surrogate in its strings and keys written as its escape (`\\ud800`).

    jsonschema-rs cannot take one (JSON may hold "\\ud800") where it reads a key or reports a value: no
    upstream issue found; schemathesis works around the same (schemathesis/schemathesis#3573).
    """
    if isinstance(value, str):
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, dict):
        return {_surrogates_escaped(key): _surrogates_escaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_surrogates_escaped(item) for item in value]
    return value


def _single(
    kind: Kind,
    field_: str | None,
    expected: str,
    actual: str,
    request: str,
    *,
    credentials: Credentials,
    evidence: tuple[str, ...] = (),
) -> Inspection:
    return Inspection(findings=(Finding(kind, field_, expected, actual, request, credentials, evidence),))


def _schema_findings(
    body: Mapping[str, Any], schema: Mapping[str, Any], validator: Any, request: str, credentials: Credentials
) -> Iterator[Finding]:
    properties = schema.get("properties", {})
    for error in validator.iter_errors(body):
        kind_name = type(error.kind).__name__
        path = list(error.instance_path)
        if kind_name == "Required":
            name = error.kind.property
            expected = describe_type(properties.get(name, {}))
            yield Finding(
                Kind.MISSING_FIELD, json_path([*path, name]), f"{expected} (required)", "missing", request, credentials
            )
            continue
        prop = properties.get(path[0], {}) if len(path) == 1 else {}
        expected = describe_type(prop) if prop else error.message
        if kind_name == "Type":
            kind = Kind.NULL_IN_NON_NULLABLE if error.instance is None else Kind.TYPE_CHANGED
            yield Finding(kind, json_path(path), expected, describe_value(error.instance), request, credentials)
        elif kind_name == "Format":
            yield Finding(
                Kind.FORMAT_VIOLATED, json_path(path), expected, describe_value(error.instance), request, credentials
            )
        else:  # any other keyword the spec may grow: still a breaking change of the value's type
            yield Finding(
                Kind.TYPE_CHANGED,
                json_path(path),
                expected,
                f"{describe_value(error.instance)} ({error.message})",
                request,
                credentials,
            )


def _callout_semantics_hold(body: Mapping[str, Any], requested: int | None, contract: Contract) -> bool:
    status = body.get("status")
    if isinstance(status, str) and status.casefold() not in contract.known_statuses_folded:
        return False
    return requested is None or body.get("id") == requested


def _callout_findings(
    body: Mapping[str, Any], request: str, requested: int | None, contract: Contract, credentials: Credentials
) -> Iterator[Finding]:
    status = body.get("status")
    if isinstance(status, str) and status.casefold() not in contract.known_statuses_folded:
        known = ", ".join(contract.known_statuses)
        yield Finding(
            Kind.UNKNOWN_STATUS,
            "$.status",
            f"one of {known} (any casing)",
            describe_value(status),
            request,
            credentials,
        )
    returned = body.get("id")
    # `type() is int`: a boolean id is a type change, not also a mismatch
    if requested is not None and type(returned) is int and returned != requested:
        yield Finding(
            Kind.ID_MISMATCH, "$.id", f"the requested id {requested}", describe_value(returned), request, credentials
        )
