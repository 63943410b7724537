"""Load the hand-written OpenAPI spec into the one contract every check reads, once per process.

Data flows one way: spec -> contract -> findings -> ledger -> verdict -> reports. This module is
the first arrow: it knows the spec file, the single operation in it, the response schema per
documented status code, the known status values (`x-known-values` on Callout.status) and the one
reading of a callout id.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
import yaml

from panic_contract.errors import SpecError
from panic_contract.shipped import shipped_folder

SPEC_PATH = shipped_folder("spec") / "panic-api.openapi.yaml"
KNOWN_VALUES_KEY = "x-known-values"
JSON_MEDIA_TYPE = "application/json"
# The spec's server; the suite never defaults to production (panic.aura.services).
STAGING_URL = "https://staging-panic.aura.services"


@dataclass(frozen=True)
class ResponseContract:
    """What one documented status code promises: a JSON body of `schema`."""

    status: int
    media_type: str
    schema: Mapping[str, Any]
    properties: frozenset[str]
    validator: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class Contract:
    spec_path: Path
    server_url: str
    method: str
    path_template: str
    operation_id: str
    path_parameter: str
    responses: Mapping[int, ResponseContract]
    known_statuses: tuple[str, ...]
    path_pattern: re.Pattern[str] = field(repr=False, compare=False)

    @property
    def documented_statuses(self) -> tuple[int, ...]:
        return tuple(sorted(self.responses))

    @cached_property  # read on every 200 the audit judges: build the set once per contract
    def known_statuses_folded(self) -> frozenset[str]:
        return frozenset(value.casefold() for value in self.known_statuses)

    @cached_property
    def conforming_callout(self) -> Any:
        """`is_valid` of one compiled check that a 200 body is what the audit counts as conforming: valid, no
        undocumented field and a known status value (each ASCII letter in either case; any other character
        as written). A body it passes is one the full reading also passes; one it refuses is read in full."""
        response = self.responses[200]
        known = "^(?:" + "|".join(map(_any_ascii_case, self.known_statuses)) + ")$"
        schema = copy.deepcopy(dict(response.schema))
        status = schema.get("properties", {}).get("status")
        if "patternProperties" not in schema and isinstance(status, dict) and "pattern" not in status:
            # merged into the schema, which the validator checks in half the time of an allOf beside it
            schema["additionalProperties"], status["pattern"] = False, known  # a pattern tests strings only
        else:
            schema = {"allOf": [schema, {"propertyNames": {"enum": sorted(response.properties)},
                                         "properties": {"status": {"pattern": known}}}]}  # fmt: skip
        return jsonschema_rs.Draft202012Validator(schema, validate_formats=True).is_valid

    @property
    def nullable_fields(self) -> tuple[str, ...]:
        """The callout's top-level fields the 200 schema allows to be null, sorted."""
        properties = self.responses[200].schema.get("properties", {}) if 200 in self.responses else {}
        return tuple(sorted(name for name, prop in properties.items() if "null" in prop.get("type", ())))

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path_template}"

    @property
    def id_prefix(self) -> str | None:
        """The path up to the callout id when the id ends it (`/panic-api/v2/callouts/`), else None: the audit's
        quick checks compare a path with this and the id the body holds."""
        prefix, suffix = _around_id(self.path_template, self.path_parameter)
        return None if suffix else prefix

    def path_for(self, callout_id: object) -> str:
        return self.path_template.replace("{" + self.path_parameter + "}", str(callout_id))

    def match_path(self, path: str) -> str | None:
        """The raw path parameter if `path` (a query string allowed) is this operation's path, else None."""
        matched = self.path_pattern.fullmatch(without_query(path))
        return matched.group(1) if matched else None

    def documents(self, path: str) -> bool:
        """Whether a JSON path from the root (`$.status`, `$.responders[0].id`) names a field of the 200 body."""
        steps = path_steps(path)
        schema: Any = self.responses[200].schema
        for step in steps or ():
            schema = (schema.get("items") if isinstance(step, int) else schema.get("properties", {}).get(step)) or None
            if not isinstance(schema, Mapping):
                return False
        return steps is not None

    def requested_id(self, path: str) -> int | None:
        """The callout id `path` asks for, if it is this operation's path with an id in it, else None."""
        raw = self.match_path(path)
        return None if raw is None else parse_callout_id(raw)


def _any_ascii_case(value: str) -> str:
    """A regular expression for `value` with each ASCII letter in either case and every other character as it
    is, each in a class of its own (the same in the validator's dialect and in Python's)."""
    return "".join(
        f"[{char.lower()}{char.upper()}]"
        if char.isascii() and char.isalpha()
        else "[" + _IN_CLASS.get(char, char) + "]"
        for char in value
    )


_IN_CLASS = {char: "\\" + char for char in "\\]^-["}  # the characters a class must escape
_PATH_STEP = re.compile(r"\.([^.\[\]\s]+)|\[([0-9]{1,9})\]")


def path_steps(path: str) -> list[str | int] | None:
    """The steps of a JSON path from the root as findings write them (`$.a.b`, `$.a[0]`); None if it is not one."""
    if not path.startswith("$"):
        return None
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        step = _PATH_STEP.match(path, at)
        if step is None:
            return None
        steps.append(step[1] if step[1] is not None else int(step[2]))
        at = step.end()
    return steps


def without_query(target: str) -> str:
    """A request target without its query string: the path alone."""
    return target.partition("?")[0]


# ASCII digits only ("²".isdigit() is true, int("²") is not), and bounded: int() of a long digit string is slow.
_CALLOUT_ID = re.compile(r"-?[0-9]{1,18}", re.ASCII)


def parse_callout_id(raw: str) -> int | None:
    """The one reading of a callout id in a path or a list: an integer of at most 18 digits, else None."""
    return int(raw) if _CALLOUT_ID.fullmatch(raw) else None


def callout_ids(text: str) -> tuple[int, ...]:
    """Comma-separated callout ids, in order, each once. ValueError names the first part that is not one."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    parsed = [parse_callout_id(part) for part in parts]
    bad = [part for part, value in zip(parts, parsed, strict=True) if value is None or value < 0]
    if bad:
        raise ValueError(f"{bad[0][:30]!r} is not a callout id")
    if not parts:
        raise ValueError("no callout id in it")
    return tuple(dict.fromkeys(value for value in parsed if value is not None))


def server_root(url: str) -> str:
    """`url` without a trailing slash, if it is an http(s) server root (scheme://host[:port]); else ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
        raise ValueError("it is not an http(s) server root")
    if parts.query or parts.fragment:
        raise ValueError("a server root has no query or fragment")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ValueError("its port is not a number from 1 to 65535") from None
    return url.rstrip("/")


def describe_type(schema: Mapping[str, Any]) -> str:
    """`{"type": ["integer", "null"]}` -> "integer or null"; formats are named too."""
    types = schema.get("type", "any")
    text = " or ".join(types) if isinstance(types, list) else str(types)
    if "format" in schema and schema["format"] != "double":
        text += f" ({schema['format']})"
    return text


def _single_operation(document: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Any]]:
    operations = [
        (path, method, operation)
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch", "head", "options"}
    ]
    if len(operations) != 1:
        raise SpecError(f"the spec must describe exactly one operation, found {len(operations)}")
    return operations[0]


def _response_contract(status: int, response: Mapping[str, Any]) -> ResponseContract:
    content = response.get("content", {})
    if JSON_MEDIA_TYPE not in content:
        raise SpecError(f"response {status} must document an {JSON_MEDIA_TYPE} body")
    schema = content[JSON_MEDIA_TYPE]["schema"]
    validator = jsonschema_rs.Draft202012Validator(schema, validate_formats=True)
    return ResponseContract(
        status=status,
        media_type=JSON_MEDIA_TYPE,
        schema=schema,
        properties=frozenset(schema.get("properties", {})),
        validator=validator,
    )


def load_contract(spec_path: Path | str = SPEC_PATH) -> Contract:
    """The contract of the spec at `spec_path`, read once per process while the file stays as it was: a
    second call returns the same one, unless the file changed in between (`propose --write`).

    SpecError (usage) for a spec that cannot be read or is not one operation; errors are not kept.
    """
    path = Path(spec_path)
    try:
        stat = path.stat()
    except OSError:
        return _loaded(path, None)  # _loaded words the error
    return _loaded(path, (stat.st_mtime_ns, stat.st_size, stat.st_ino))


@cache  # keyed by the path as given and the file's state: read once per process, whoever asks for it first
def _loaded(path: Path, _state: tuple[int, int, int] | None) -> Contract:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read the spec {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise SpecError(f"the spec {path} is not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"the spec {path} is not an OpenAPI document")
    try:
        return _contract_of(path, jsonschema_rs.dereference(raw))
    except (KeyError, ValueError, TypeError) as exc:
        raise SpecError(f"the spec {path} is not a complete OpenAPI document of one operation: {exc!r}") from None


def _contract_of(path: Path, document: Mapping[str, Any]) -> Contract:
    path_template, method, operation = _single_operation(document)
    (parameter,) = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
    responses = {
        int(code): _response_contract(int(code), response) for code, response in operation.get("responses", {}).items()
    }
    if 200 not in responses:
        raise SpecError("the spec must document a 200 response")
    status_schema = responses[200].schema.get("properties", {}).get("status", {})
    known = tuple(status_schema.get(KNOWN_VALUES_KEY, ()))
    if not known:
        raise SpecError(f"Callout.status must list its known values in {KNOWN_VALUES_KEY}")
    prefix, suffix = _around_id(path_template, parameter)
    return Contract(
        spec_path=path,
        server_url=document["servers"][0]["url"],
        method=method.upper(),
        path_template=path_template,
        operation_id=operation["operationId"],
        path_parameter=parameter,
        responses=responses,
        known_statuses=known,
        path_pattern=re.compile(re.escape(prefix) + r"([^/]+)" + re.escape(suffix)),
    )


def _around_id(path_template: str, parameter: str) -> tuple[str, str]:
    """The path template before and after its one path parameter."""
    prefix, _, suffix = path_template.partition("{" + parameter + "}")
    return prefix, suffix


def default_contract() -> Contract:
    """The contract of the spec shipped in `spec/`."""
    return load_contract(SPEC_PATH)
