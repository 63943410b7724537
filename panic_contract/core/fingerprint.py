"""A finding's stable fingerprint: what it is about, not how its message is worded.

The fingerprint hashes the finding's kind, its field (as a JSON path, with array indices folded: `$.units[3]`
and `$.units[0]` are one field of the contract) and what the contract expects there, each with its spacing
and case folded. A reworded message, a different actual value, a count or a request keep it; a different
expectation (the spec changed) is a different finding. Sixteen hex digits of SHA-256, as oasdiff gives each
change a short stable id.
"""

from __future__ import annotations

import hashlib
import re

_INDEX = re.compile(r"\[\d+\]")
_SPACE = re.compile(r"\s+")


def _folded(text: str | None) -> str:
    return _SPACE.sub(" ", text or "").strip().casefold()


def fingerprint(kind: str, field: str | None, expected: str) -> str:
    field_ = _INDEX.sub("[*]", field or "")
    key = "\x1f".join((_folded(kind), _folded(field_), _folded(expected)))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
