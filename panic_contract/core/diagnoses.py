"""Diagnoses: the common shapes of a change, each named in one line above the raw findings it explains.

A renamed field is a `missing-field` and a `new-field`; the provider's newer, wrapped shape is nine missing
fields and two new ones. A diagnosis says what happened, from the ledger's findings alone (their counts, first
requests, the values that arrived and a finding's `evidence`): a pure function, so the suite and the audit
name the same diagnosis through the reports. The vocabulary is fixed (`Pattern`, README.md "Diagnoses"); each
finding is explained by one diagnosis at most, and where the evidence does not hold, none is claimed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from panic_contract.core.contract import path_steps
from panic_contract.core.findings import Kind, fingerprint, type_described
from panic_contract.core.ledger import LedgerEntry


class Pattern(StrEnum):
    """The fixed vocabulary of diagnoses. README.md documents each one; the mock has a drift switch of each name."""

    RENAMED_FIELD = "renamed-field"
    MOVED_FIELD = "moved-field"
    WRAPPED_BODY = "wrapped-body"
    VALUE_AS_STRING = "value-as-string"
    ERROR_PAGE = "error-page"


@dataclass(frozen=True)
class Diagnosis:
    pattern: Pattern
    summary: str  # the one line a person reads first
    fields: tuple[str, ...]  # the JSON paths involved
    fingerprints: tuple[str, ...]  # of the findings it explains (`findings.fingerprint`)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pattern": str(self.pattern),
            "summary": self.summary,
            "fields": list(self.fields),
            "fingerprints": list(self.fingerprints),
        }

    def line(self) -> str:
        """How the terminal leads with it: `diagnosis renamed-field: customerId renamed to customerID?`."""
        return f"diagnosis {self.pattern}: {self.summary}"


# Names this alike (difflib's ratio, case folded) may be one field renamed: customerId, customerID, customer_id.
RENAME_SIMILARITY = 0.8
# The newer documented shape, as the provider's other reference page has it (shared/reference/provider-facts.md).
NEWER_DOCUMENTED_KEYS = ("callout", "message")


def diagnose(entries: Iterable[LedgerEntry], documented: Collection[str]) -> list[Diagnosis]:
    """The diagnoses of a run's findings; `documented`: the top-level fields of the callout the spec documents."""
    entries = list(entries)
    missing = [e for e in entries if e.first.kind is Kind.MISSING_FIELD and _top(e.first.field)]
    new = [e for e in entries if e.first.kind is Kind.NEW_FIELD and _top(e.first.field)]
    used: set[int] = set()  # the entries a diagnosis explains, by id: each explained once
    found = _wrapped_or_moved(missing, new, documented, used)
    found += _renamed(missing, new, used)
    found += [d for e in entries if (d := _as_string(e)) is not None]
    found += [d for e in entries if (d := _error_page(e)) is not None]
    return found


def _top(field: str | None) -> str | None:
    """The name of a top-level field (`$.customerId` -> customerId), else None."""
    steps = path_steps(field or "")
    return steps[0] if steps is not None and len(steps) == 1 and isinstance(steps[0], str) else None


def _name(entry: LedgerEntry) -> str:
    return _top(entry.first.field) or ""


def _together(one: LedgerEntry, other: LedgerEntry) -> bool:
    """Seen in the same responses, as far as the ledger tells: as many of them, first seen at the same places."""
    return one.count == other.count and one.samples == other.samples


def _expected_types(expected: str) -> set[str]:
    """`integer or null (required)` -> {integer, null}; formats in parentheses dropped."""
    return set(re.sub(r"\s*\([^)]*\)", "", expected).split(" or "))


def _fits(json_type: str | None, expected: set[str]) -> bool:
    return json_type is not None and (json_type in expected or (json_type == "integer" and "number" in expected))


def _new_types(entry: LedgerEntry) -> list[str | None]:
    """The JSON types of the values a new field arrived with (`an undocumented field (integer 420)`)."""
    return [type_described(actual.partition("(")[2].removesuffix(")")) for actual in entry.actuals]


def _members(entry: LedgerEntry) -> list[tuple[str, list[str | int]]]:
    """What an undocumented object held (its finding's evidence): (JSON type, steps below the object), shallowest
    first."""
    held = []
    for item in entry.first.evidence:
        json_type, _, path = item.partition(" ")
        steps = path_steps(path)
        if steps is not None and len(steps) > 1:
            held.append((json_type, steps[1:]))
    return held


def _wrapped_or_moved(
    missing: Sequence[LedgerEntry], new: Sequence[LedgerEntry], documented: Collection[str], used: set[int]
) -> list[Diagnosis]:
    """An undocumented object that holds documented fields missing at the top, seen in the same responses: the
    whole callout wrapped under it (more than half of the documented fields), or some fields moved under it."""
    found = []
    for holder in new:
        if id(holder) in used or not holder.first.evidence:
            continue
        held: dict[str, tuple[str, list[str | int]]] = {}  # name -> its JSON type and steps, shallowest first
        for json_type, steps in _members(holder):
            if isinstance(steps[-1], str):
                held.setdefault(steps[-1], (json_type, steps))
        moved = [
            entry
            for entry in missing
            if id(entry) not in used
            and _together(entry, holder)
            and _name(entry) in held
            and _fits(held[_name(entry)][0], _expected_types(entry.first.expected))
        ]
        if not moved:
            continue
        key = holder.first.field or ""
        names = [_name(entry) for entry in moved]
        fields = [key, *(entry.first.field or "" for entry in moved)]
        if 2 * len(moved) > len(documented):
            beside = [e for e in new if e is not holder and id(e) not in used and _together(e, holder)]
            summary = f"the callout is wrapped under {key}"
            if beside:
                summary += ", beside " + ", ".join(e.first.field or "" for e in beside)
            if (_name(holder), *sorted(_name(e) for e in beside)) == NEWER_DOCUMENTED_KEYS:
                summary += " — the provider's newer documented shape"
            explained = [holder, *beside, *moved]
            fields = [key, *(e.first.field or "" for e in beside), *fields[1:]]
            pattern = Pattern.WRAPPED_BODY
        else:
            summary = f"{', '.join(names)} moved under {key}"
            explained = [holder, *moved]
            pattern = Pattern.MOVED_FIELD
        used.update(id(entry) for entry in explained)
        found.append(Diagnosis(pattern, summary, tuple(fields), tuple(fingerprint(e.first) for e in explained)))
    return found


def _similar(one: str, other: str) -> float:
    first, second = (re.sub(r"[_\-]", "", name.casefold()) for name in (one, other))
    return 1.0 if first == second else difflib.SequenceMatcher(None, first, second).ratio()


def _renamed(missing: Sequence[LedgerEntry], new: Sequence[LedgerEntry], used: set[int]) -> list[Diagnosis]:
    """A documented field missing and an undocumented one present in the same responses, with a name alike and
    every value it arrived with of the documented type: most alike first, each field in one rename at most."""
    pairs = sorted(
        (
            (-_similar(_name(old), _name(now)), index, old, now)
            for index, (old, now) in enumerate((old, now) for old in missing for now in new)
            if _together(old, now)
            and _similar(_name(old), _name(now)) >= RENAME_SIMILARITY
            and all(_fits(t, _expected_types(old.first.expected)) for t in _new_types(now))
        ),
        key=lambda pair: pair[:2],
    )
    found = []
    for _, _, old, now in pairs:
        if id(old) in used or id(now) in used:
            continue
        used.update((id(old), id(now)))
        found.append(
            Diagnosis(
                Pattern.RENAMED_FIELD,
                f"{_name(old)} renamed to {_name(now)}?",
                (old.first.field or "", now.first.field or ""),
                (fingerprint(old.first), fingerprint(now.first)),
            )
        )
    return found


_STRING_HOLDS = {
    "integer": re.compile(r"-?[0-9]+"),
    "number": re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"),
    "boolean": re.compile(r"true|false"),
}


def _as_string(entry: LedgerEntry) -> Diagnosis | None:
    """A number or boolean field that arrived, every time, as a string holding one."""
    finding = entry.first
    if finding.kind is not Kind.TYPE_CHANGED or not finding.field:
        return None
    expected = _expected_types(finding.expected) & set(_STRING_HOLDS)
    shown = []
    for actual in entry.actuals or [finding.actual]:
        text = actual.removeprefix("string ")
        try:
            value = json.loads(text) if text != actual else None
        except json.JSONDecodeError:  # cut short: not whole, so not claimed
            return None
        if not isinstance(value, str) or not any(_STRING_HOLDS[t].fullmatch(value) for t in expected):
            return None
        shown.append(text)
    name = finding.field.removeprefix("$.")
    return Diagnosis(
        Pattern.VALUE_AS_STRING,
        f"{name} is now sent as a string: {', '.join(shown)}",
        (finding.field,),
        (fingerprint(finding),),
    )


_PAGES = {"html": "an HTML page", "text": "a plain-text page"}


def _error_page(entry: LedgerEntry) -> Diagnosis | None:
    """A documented status whose body is an HTML or plain-text page, not JSON (whatever its Content-Type says)."""
    finding = entry.first
    if finding.kind not in {Kind.WRONG_CONTENT_TYPE, Kind.MALFORMED_BODY} or len(finding.evidence) != 2:
        return None
    page, status = finding.evidence
    if page not in _PAGES:
        return None
    # a malformed body passed the Content-Type check: it came labelled as the contract's JSON
    media = finding.actual if finding.kind is Kind.WRONG_CONTENT_TYPE else "labelled JSON"
    return Diagnosis(
        Pattern.ERROR_PAGE,
        f"{status} answered with {_PAGES[page]} ({media}), not JSON: an error, login or maintenance page in front "
        "of the API?",
        ("$",),
        (fingerprint(finding),),
    )
