"""The fixture file format: one self-describing exchange per JSON file in `contracts/`, read and checked.

The same shape is one line of a JSON Lines capture for the audit. The recorder writes it,
the mock serves the 200 callouts in it, and the fixture tests hold each file to the contract.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs

from panic_contract.core.findings import JSON_TYPE_NAMES, NOT_PARSED, Exchange
from panic_contract.errors import FixtureError
from panic_contract.shipped import PACKAGE_DIR, shipped_folder

# The project's fixtures: the repo's contracts/ in a checkout, the wheel's package data once installed.
CONTRACTS_DIR = shipped_folder("contracts")
# True when CONTRACTS_DIR is the checkout's folder (a place to record into), not package data.
CONTRACTS_IN_CHECKOUT = not CONTRACTS_DIR.is_relative_to(PACKAGE_DIR)

_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"

# The format of a fixture file, held by a JSON Schema rather than by hand-written checks.
FIXTURE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["description", "operation", "provenance", "request", "response"],
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "operation": {"type": "string", "minLength": 1},
        "provenance": {
            "type": "object",
            "required": ["source"],
            "properties": {
                "source": {"enum": ["documented-example", "synthetic", "recorded"]},
                "target": {"type": "string"},
                "recorded_at": {"type": "string", "format": "date-time"},
                "tool_version": {"type": "string"},
            },
            "if": {"properties": {"source": {"const": "recorded"}}},
            "then": {"required": ["target", "recorded_at", "tool_version"]},
        },
        "request": {
            "type": "object",
            "required": ["method", "path"],
            "properties": {
                "method": {"type": "string"},
                "path": {"type": "string", "pattern": "^/"},
                "credentials": {"enum": ["valid", "missing", "invalid"]},
            },
            "additionalProperties": False,  # headers are never stored: no credential can leak here
        },
        "response": {
            "type": "object",
            "required": ["status", "headers"],
            "properties": {
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": {},
                "body_text": {"type": "string"},
                # A body that is not UTF-8 text, byte for byte (standard base64, padded).
                "body_base64": {"type": "string", "pattern": _BASE64},
            },
            "not": {  # at most one of the three
                "anyOf": [
                    {"required": ["body", "body_text"]},
                    {"required": ["body", "body_base64"]},
                    {"required": ["body_text", "body_base64"]},
                ]
            },
        },
    },
}
_FIXTURE_VALIDATOR = jsonschema_rs.Draft202012Validator(dict(FIXTURE_SCHEMA), validate_formats=True)


@dataclass(frozen=True)
class Fixture:
    path: Path | None
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.path.name if self.path else "<inline>"

    @property
    def operation(self) -> str:
        return str(self.data["operation"])

    @property
    def status(self) -> int:
        return int(self.data["response"]["status"])

    @property
    def body(self) -> Any:
        return self.data["response"].get("body")

    def to_exchange(self) -> Exchange:
        return exchange_from_record(self.data)


def exchange_from_record(record: Mapping[str, Any]) -> Exchange:
    request, response = record["request"], record["response"]
    return Exchange(
        method=request["method"].upper(),
        path=request["path"],
        status=response["status"],
        headers=lower_headers(response.get("headers", {})),
        body=raw_body(response),
        parsed=response.get("body", NOT_PARSED),
        credentials=request.get("credentials", "valid"),
    )


def raw_body(response: Mapping[str, Any]) -> bytes | str | None:
    """The body as received when it was not JSON: `body_text`, or the bytes of `body_base64`."""
    if "body_base64" in response:
        return base64.b64decode(response["body_base64"])
    text: str | None = response.get("body_text")
    return text


def lower_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Response headers as an Exchange keys them: names in lower case."""
    return {str(k).lower(): str(v) for k, v in headers.items()}


def served_callout(fixture: Fixture) -> Mapping[str, Any] | None:
    """The callout a fixture stands for: the JSON body of a 200 answered to a request with a valid token.

    None for any other fixture (errors, probes without a token, a 200 whose body is not JSON). The mock
    serves these callouts and the fixture tests read their `id` and `status`, so a body that is not an
    object with both is a FixtureError naming the file; its value is never echoed.
    """
    response = fixture.data["response"]
    credentials = fixture.data["request"].get("credentials", "valid")
    if fixture.status != 200 or credentials != "valid" or "body" not in response:
        return None
    body: Any = response["body"]
    if not isinstance(body, dict):
        name = JSON_TYPE_NAMES.get(type(body), "number")
        name = "number" if name == "integer" else name  # whole or not, it reads "a number"
        problem = f"it is {_ARTICLES.get(name, 'a ')}{name}"
    else:
        missing = [name for name in ("id", "status") if name not in body]
        problem = f"it has no {' and no '.join(missing)}" if missing else ""
        if not problem and isinstance(body["id"], dict | list):
            problem = "its id is not a single value"
    if problem:
        raise FixtureError(
            f"{fixture.path or fixture.name}: response.body of a 200 fixture must be a callout object with an id "
            f"and a status, but {problem} (fix the body, or record the fixture again)"
        )
    callout: Mapping[str, Any] = body
    return callout


_ARTICLES = {"array": "an ", "null": ""}


def check_record(record: Any, where: str) -> None:
    """Raise FixtureError naming the first way `record` is not in the fixture format."""
    for error in _FIXTURE_VALIDATOR.iter_errors(record):
        location = "/".join(str(part) for part in error.instance_path) or "the top level"
        raise FixtureError(
            f"{where}: not a fixture: at {location}: {error.message} "
            "(see README.md, 'Adding a fixture', for the format)"
        )


def load_fixture(path: Path) -> Fixture:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read the fixture: {exc.strerror}") from None
    except ValueError as exc:
        raise FixtureError(f"{path}: not valid JSON: {exc} (fix or delete the file)") from None
    check_record(data, str(path))
    return Fixture(path, data)


def fixture_paths(directory: Path = CONTRACTS_DIR) -> list[Path]:
    """The fixture files in `directory`, in a stable order; none when it does not exist."""
    return sorted(directory.glob("*.json"))


def iter_fixtures(directory: Path = CONTRACTS_DIR) -> Iterator[Fixture]:
    if not directory.is_dir():
        raise FixtureError(f"{directory}: no such fixture folder (create it, or point --contracts-dir at one)")
    for path in fixture_paths(directory):
        yield load_fixture(path)


def fixture_text(data: Mapping[str, Any], path: Path) -> str:
    """The file's text for a fixture; FixtureError if `data` is not one."""
    check_record(data, str(path))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
