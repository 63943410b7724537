"""The fixture file format: one self-describing exchange per JSON file in `contracts/`.

The same shape is one line of a JSON Lines capture for the audit. The recorder writes it,
the mock serves the 200 callouts in it, and the fixture tests hold each file to the contract.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema_rs

from panic_contract.core.contract import PACKAGE_DIR, shipped_folder
from panic_contract.core.findings import NOT_PARSED, Exchange
from panic_contract.outputs import file_bytes

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


class FixtureError(Exception):
    """A fixture file that cannot be used; the message is one line saying where and how to fix it."""


@dataclass(frozen=True)
class Fixture:
    path: Path | None
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.path.name if self.path else "<inline>"

    @property
    def description(self) -> str:
        return str(self.data["description"])

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
        found = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(body), "a number")
        problem = f"it is {found}"
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


class FixtureWriteError(OSError):
    """A file of a set could not be written; `filename` is the file the user named, never a temporary one."""


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename: a crash leaves the old file whole.

    Anything else (a character device such as /dev/null, a FIFO, a link such as /dev/stdout or
    /dev/fd/N) is written in place, through the link, as a shell's `>` would: renaming over it would
    replace the device or the link with a plain file where /dev is writable (as root in a CI
    container), and fail elsewhere.
    """
    try:
        mode = path.lstat().st_mode
    except OSError:
        mode = stat.S_IFREG  # none yet (or unreadable): the staged write creates it, or says why not
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):  # a folder: staging names the error, as for a file
        write_all_or_nothing({path: text})
        return
    try:
        with path.open("wb") as handle:
            handle.write(file_bytes(text))
    except OSError as exc:
        raise FixtureWriteError(exc.errno, exc.strerror or str(exc), str(path)) from None


def write_all_or_nothing(files: Mapping[Path, str]) -> None:
    """Write every file, or none: on any failure, every target is left as it was.

    Each file is staged first (a temporary file beside its target, written and synced), then all are
    renamed into place; a failure while renaming puts back what was there. Files are created with the
    user's umask, as any other file they write. FixtureWriteError names the target that could not be written.
    """
    created = _make_folders({path.parent for path in files})
    staged: dict[Path, Path] = {}  # target -> its staged temporary file
    backups: dict[Path, Path] = {}  # target -> a hard link to (or copy of) what it held before
    replaced: list[Path] = []
    current = next(iter(files), Path())
    try:
        for current, text in files.items():
            staged[current] = _stage(current, file_bytes(text))
        for current in files:
            if current.exists():
                backups[current] = _keep(current)
        for current, tmp in staged.items():
            os.replace(tmp, current)
            replaced.append(current)
    except BaseException as exc:
        _roll_back(replaced, backups)
        _remove(list(staged.values()) + list(backups.values()))
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise FixtureWriteError(exc.errno, reason, str(current)) from None
        raise
    _remove(list(backups.values()))


def _make_folders(folders: set[Path]) -> list[Path]:
    """Create the missing folders; returns those created, outermost first, so a failure can remove them."""
    created: list[Path] = []
    for folder in sorted(folders):
        missing = [folder, *folder.parents]
        missing = [f for f in missing if not f.exists()]
        for each in reversed(missing):
            try:
                each.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                for made in reversed(created):
                    with contextlib.suppress(OSError):
                        made.rmdir()
                raise FixtureWriteError(exc.errno, exc.strerror or str(exc), str(each)) from None
            created.append(each)
    return created


def _temporary_name(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.{tag}")


def _stage(path: Path, data: bytes) -> Path:
    while True:
        tmp = _temporary_name(path, "tmp")
        try:  # os.open with 0o666, not mkstemp's 0o600: the umask decides, as for any file the user writes
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _keep(path: Path) -> Path:
    """What `path` holds now, under another name, until the set is in place."""
    backup = _temporary_name(path, "old")
    try:
        os.link(path, backup)  # no copy: the old file itself, so keeping it cannot fill the disk
    except OSError:
        shutil.copy2(path, backup)
    return backup


def _roll_back(replaced: list[Path], backups: Mapping[Path, Path]) -> None:
    for path in reversed(replaced):
        with contextlib.suppress(OSError):
            if path in backups:
                os.replace(backups[path], path)
            else:
                path.unlink()


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def fixture_text(data: Mapping[str, Any], path: Path) -> str:
    """The file's text for a fixture; FixtureError if `data` is not one."""
    check_record(data, str(path))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def dump_fixture(data: Mapping[str, Any], path: Path) -> None:
    write_atomically(path, fixture_text(data, path))
