"""Scrubbing a recorded body: customerId pseudonymised, coordinates coarsened, a non-JSON body naming them withheld.

A body is read by `findings.read_body`, the one reading of a body, and kept as the fixture format says
(`body`, `body_text` or `body_base64`); a key (PANIC_CONTRACT_SCRUB_KEY) makes the pseudonyms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from panic_contract.core.findings import Unreadable, read_body

# Keep this key secret to make pseudonyms that no one can reverse by hashing every candidate id;
# without it a built-in key still keeps raw ids out of the files, and pseudonyms stay stable.
SCRUB_KEY_VARIABLE = "PANIC_CONTRACT_SCRUB_KEY"
DEFAULT_SCRUB_KEY = b"panic-contract: fixture pseudonyms"
PSEUDONYM_FIELDS = frozenset({"customerId"})
COARSENED_FIELDS = frozenset({"latitude", "longitude"})
COORDINATE_DECIMALS = 2  # about a kilometre: enough for the shape, too coarse for an address


def scrub_key_from(environ: Mapping[str, str]) -> bytes:
    return environ.get(SCRUB_KEY_VARIABLE, "").encode() or DEFAULT_SCRUB_KEY


def body_entry(raw: bytes | str | None, scrub_key: bytes | None) -> dict[str, Any]:
    """`{"body": parsed}` for JSON, else `{"body_text": text}`, else (not UTF-8) `{"body_base64": ...}`.

    JSON is read by `findings.read_body`, the one reading of a body, so a body the suite judges malformed
    (UTF-16, a byte order mark, NaN, 1e400) is never written as a clean `body`; a body that is not UTF-8 is
    kept byte for byte, never with replacement characters. Scrubbed unless the key is None.
    """
    body = read_body(raw)
    if not isinstance(body, Unreadable):
        return {"body": scrub(body, scrub_key) if scrub_key is not None else body}
    text = _utf8(raw) if isinstance(raw, bytes) else raw or ""
    if text is None:
        assert isinstance(raw, bytes)
        if scrub_key is not None and names_personal_fields(raw.decode("utf-8", errors="replace")):
            return {"body_text": withheld(len(raw), "bytes")}
        return {"body_base64": base64.b64encode(raw).decode("ascii")}
    return {"body_text": scrub_text(text) if scrub_key is not None else text}


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def scrub(value: Any, key: bytes) -> Any:
    """Pseudonymise customerId and coarsen coordinates at any depth (the wrapped shape nests them)."""
    if isinstance(value, dict):
        return {name: _scrub_field(name, item, key) for name, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, key) for item in value]
    return value


def _scrub_field(name: str, value: Any, key: bytes) -> Any:
    if name in PSEUDONYM_FIELDS:
        return pseudonym(value, key)
    if name in COARSENED_FIELDS:
        return coarsen(value)
    return scrub(value, key)


def pseudonym(value: Any, key: bytes) -> Any:
    """A stable stand-in of the same JSON type: same input, same output; null and booleans stay."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [pseudonym(item, key) for item in value]
    if isinstance(value, dict):
        return {name: pseudonym(item, key) for name, item in value.items()}
    if isinstance(value, float):
        return float(_keyed_number(str(int(value)) if value.is_integer() else repr(value), key))
    number = _keyed_number(str(value).strip(), key)
    return number if isinstance(value, int) else str(number)


def _keyed_number(text: str, key: bytes) -> int:
    """Nine digits from a keyed hash: an integer like the ids it replaces, and still a JSON integer."""
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return 100_000_000 + int.from_bytes(digest[:8], "big") % 900_000_000


_DECIMAL = re.compile(r"-?\d+\.\d+")


def coarsen(value: Any) -> Any:
    """Round coordinates; numbers stay numbers (a float stays a float), strings stay strings."""
    if value is None or isinstance(value, bool | int):
        return value  # whole degrees are already coarse
    if isinstance(value, float):
        return round(value, COORDINATE_DECIMALS)
    if isinstance(value, str):
        return _DECIMAL.sub(lambda m: f"{round(float(m.group()), COORDINATE_DECIMALS):.{COORDINATE_DECIMALS}f}", value)
    if isinstance(value, list):
        return [coarsen(item) for item in value]
    if isinstance(value, dict):
        return {name: coarsen(item) for name, item in value.items()}
    return value


def scrub_text(text: str) -> str:
    """A body that is not JSON cannot be scrubbed field by field: withhold it if it names a personal field.

    The placeholder is still not JSON, so the fixture keeps its malformed-body finding.
    """
    return withheld(len(text), "characters") if names_personal_fields(text) else text


def names_personal_fields(text: str) -> bool:
    folded = text.casefold()
    return any(name.casefold() in folded for name in PSEUDONYM_FIELDS | COARSENED_FIELDS)


def withheld(size: int, unit: str) -> str:
    return (
        f"<withheld by scrubbing: a non-JSON body of {size} {unit} naming personal fields; "
        "record with --no-scrub to keep it>"
    )
