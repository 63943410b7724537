"""What `value:` in an accepted-drift entry means, kind by kind: it matches the finding it names and only it.

Every finding here is made by `findings.inspect` from an exchange (or, for `schemathesis-check`, as the
suite makes it), so a change in how the judge words what arrived fails here instead of turning an entry
into one that silently never matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.core.accepted import VALUE_KINDS, Acceptance, load, loads
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Exchange, Finding, Kind, describe_value, inspect
from panic_contract.core.ledger import Ledger
from panic_contract.errors import AcceptedDriftError
from tests.self.samples import DOCUMENTED_CALLOUT

CONTRACT = default_contract()
TODAY = date(2026, 11, 28)
PATH = "/panic-api/v2/callouts/{}"


def exchange(body: Any = None, *, status: int = 200, callout_id: int = 992011, **options: Any) -> Exchange:
    headers = options.pop("headers", {"content-type": "application/json"})
    raw = options.pop("raw", None)
    payload = raw if raw is not None else json.dumps({**DOCUMENTED_CALLOUT, **(body or {})}).encode()
    return Exchange("GET", PATH.format(callout_id), status, headers, payload, **options)


def finding_of(kind: Kind, made: Exchange | Finding) -> Finding:
    if isinstance(made, Finding):
        return made
    (found,) = [f for f in inspect(made, CONTRACT).findings if f.kind is kind]
    return found


def check(name: str, actual: str) -> Finding:
    """A schemathesis check's failure, as `checks.check_finding` words it."""
    return Finding(Kind.SCHEMATHESIS_CHECK, name, "that schemathesis check passes", f"failing: {actual}", "GET /x")


@dataclass(frozen=True)
class Case:
    made: Exchange | Finding  # makes the finding an entry with `value` accepts
    other: Exchange | Finding  # the same kind and field with another value: not accepted by that entry
    value: str | None  # the entry's value, as YAML; None: the kind has no value to match


NO_CALLOUT = {key: value for key, value in DOCUMENTED_CALLOUT.items() if key != "calloutClassificationId"}
# One case per finding kind: a kind added to the vocabulary fails `test_every_kind_has_a_case` until it has one.
CASES: dict[Kind, Case] = {
    Kind.UNKNOWN_STATUS: Case(exchange({"status": "Escalated"}), exchange({"status": "Paused"}), "Escalated"),
    # the field's value as JSON: 420 is an integer, "420" a string
    Kind.NEW_FIELD: Case(exchange({"responderEta": 420}), exchange({"responderEta": "420"}), "420"),
    Kind.TYPE_CHANGED: Case(exchange({"id": "992011"}), exchange({"id": "992012"}), "'992011'"),
    Kind.FORMAT_VIOLATED: Case(
        exchange({"createdAt": "20/04/2024 14:45"}), exchange({"createdAt": "yesterday"}), "'20/04/2024 14:45'"
    ),
    Kind.ID_MISMATCH: Case(
        exchange({"id": 992012}, callout_id=992014), exchange({"id": 992013}, callout_id=992014), "992012"
    ),
    Kind.UNDOCUMENTED_STATUS_CODE: Case(exchange(status=418), exchange(status=400), "418"),
    Kind.SERVER_ERROR: Case(exchange(status=500), exchange(status=501), "500"),
    Kind.WRONG_CONTENT_TYPE: Case(
        exchange(headers={"content-type": "text/html"}), exchange(headers={"content-type": "text/plain"}), "text/html"
    ),
    Kind.MISSING_FIELD: Case(
        exchange(raw=json.dumps(NO_CALLOUT).encode()), exchange(raw=json.dumps(NO_CALLOUT).encode()), None
    ),
    Kind.NULL_IN_NON_NULLABLE: Case(exchange({"customerId": None}), exchange({"customerId": None}), None),
    Kind.MALFORMED_BODY: Case(exchange(raw=b"{not json"), exchange(raw=b"[]"), None),
    Kind.AUTH_NOT_ENFORCED: Case(exchange(credentials="missing"), exchange(credentials="invalid"), None),
    Kind.SCHEMATHESIS_CHECK: Case(
        check("unsupported_method", "TRACE returned 200"), check("unsupported_method", "TRACE returned 204"), None
    ),
}


def entry_text(kind: str, field: str | None, value: str | None = None) -> str:
    lines = [f"- kind: {kind}", f"  field: {json.dumps(field)}" if field else "  field: null"]
    lines += [f"  value: {value}"] if value is not None else []
    return "\n".join([*lines, "  reason: ticket 4411", "  expires: 2026-12-31", ""])


def loaded(tmp_path: Path, text: str) -> Acceptance:
    path = tmp_path / "accepted-drift.yaml"
    path.write_text(text, encoding="utf-8")
    return load(path, TODAY)


def test_every_kind_has_a_case() -> None:
    assert set(Kind) == set(CASES)
    assert VALUE_KINDS == {str(kind) for kind, case in CASES.items() if case.value is not None}


@pytest.mark.parametrize("kind", sorted(CASES), ids=str)
def test_an_entry_matches_its_kind_and_field_whatever_arrived(kind: Kind, tmp_path: Path) -> None:
    case = CASES[kind]
    found, other = finding_of(kind, case.made), finding_of(kind, case.other)
    (entry,) = loaded(tmp_path, entry_text(str(kind), found.field)).entries
    assert (True, True) == (entry.matches(found), entry.matches(other))


@pytest.mark.parametrize("kind", sorted(k for k, case in CASES.items() if case.value is not None), ids=str)
def test_an_entry_with_a_value_matches_that_value_only(kind: Kind, tmp_path: Path) -> None:
    case = CASES[kind]
    found, other = finding_of(kind, case.made), finding_of(kind, case.other)
    (entry,) = loaded(tmp_path, entry_text(str(kind), found.field, case.value)).entries
    assert (True, False) == (entry.matches(found), entry.matches(other)), (found.actual, other.actual)


@pytest.mark.parametrize("kind", sorted(CASES), ids=str)
def test_an_entry_matches_no_finding_of_another_kind(kind: Kind, tmp_path: Path) -> None:
    text = "".join(entry_text(str(k), finding_of(k, c.made).field, c.value) for k, c in CASES.items() if k != kind)
    acceptance = loaded(tmp_path, text)
    found = finding_of(kind, CASES[kind].made)
    assert [] == [entry.kind for entry in acceptance.entries if entry.matches(found)]
    assert acceptance.classify(found) is None


@pytest.mark.parametrize("kind", sorted(k for k, case in CASES.items() if case.value is None), ids=str)
def test_a_value_on_a_kind_without_one_is_refused_naming_the_line(kind: Kind, tmp_path: Path) -> None:
    field = finding_of(kind, CASES[kind].made).field
    with pytest.raises(AcceptedDriftError, match=rf"line 1: a {kind} finding has no value to accept; drop value:"):
        loaded(tmp_path, entry_text(str(kind), field, "anything"))


@pytest.mark.parametrize(
    ("kind", "value", "means"),
    [
        ("unknown-status", "12", "the status text"),
        ("new-field", "[1, 2]", "a single value"),
        ("id-mismatch", "'992011'", "the id that came back"),
        ("undocumented-status-code", "99", "the status code"),
        ("server-error", "404", "the status code"),
        ("wrong-content-type", "''", "the media type"),
        ("unknown-status", "'" + "E" * 61 + "'", "longer than the 60 characters a finding keeps"),
    ],
)
def test_a_value_that_cannot_match_is_refused(kind: str, value: str, means: str, tmp_path: Path) -> None:
    with pytest.raises(AcceptedDriftError, match=means):
        loaded(tmp_path, entry_text(kind, {"unknown-status": "$.status", "id-mismatch": "$.id"}.get(kind), value))


def test_an_accepted_status_matches_in_any_casing_as_known_ones_do(tmp_path: Path) -> None:
    (entry,) = loaded(tmp_path, entry_text("unknown-status", "$.status", "escalated")).entries
    assert entry.matches(finding_of(Kind.UNKNOWN_STATUS, exchange({"status": "ESCALATED"})))


def test_a_redirect_is_matched_by_its_status_code(tmp_path: Path) -> None:
    redirect = exchange(status=302, headers={"location": "https://elsewhere.example/login"})
    (entry,) = loaded(tmp_path, entry_text("undocumented-status-code", None, "302")).entries
    assert entry.matches(finding_of(Kind.UNDOCUMENTED_STATUS_CODE, redirect))


# Statuses a finding shows whole: one rendered longer than 60 characters (a control character is six) is cut,
# and an entry naming such a value is refused (test_accepted_drift_loader.py).
UNKNOWN = st.text(max_size=50).filter(
    lambda s: s.casefold() not in CONTRACT.known_statuses_folded and not describe_value(s).endswith("...")
)


def acceptance_for(kind: str, field: str, value: Any) -> Acceptance:
    """One entry accepting `value`, written as YAML writes it."""
    entry = {"kind": kind, "field": field, "value": value, "reason": "ticket 4411", "expires": date(2026, 12, 31)}
    return loads(yaml.safe_dump([entry]).encode(), "accepted-drift.yaml", TODAY)


@given(accepted=UNKNOWN, other=UNKNOWN)
def test_an_accepted_status_value_accepts_that_status_and_no_other(accepted: str, other: str) -> None:
    acceptance = acceptance_for("unknown-status", "$.status", accepted)
    ledger = Ledger(acceptance)
    for status in (accepted, other):
        ledger.add(inspect(exchange({"status": status}), CONTRACT))
    same = accepted.casefold() == other.casefold()
    assert ([] if same else [f"string {json.dumps(other, ensure_ascii=False)}"]) == [
        e.first.actual for e in ledger.sorted_entries()
    ]
    assert [f"string {json.dumps(accepted, ensure_ascii=False)}"] == [e.first.actual for e in ledger.accepted_entries()]


# Integers a body can carry as integers: one reading of a body (findings.read_body, orjson) reads a larger
# one as a double, which no longer equals the integer an entry names.
INT64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)


@given(value=st.one_of(st.none(), st.booleans(), INT64, st.text(max_size=40)), other=INT64)
def test_an_accepted_new_field_value_accepts_that_value_and_no_other(value: Any, other: int) -> None:
    (entry,) = acceptance_for("new-field", "$.responderEta", value).entries
    assert entry.matches(finding_of(Kind.NEW_FIELD, exchange({"responderEta": value})))
    differs = type(value) is not int or value != other
    assert differs != entry.matches(finding_of(Kind.NEW_FIELD, exchange({"responderEta": other})))
