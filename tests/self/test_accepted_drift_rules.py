"""An accepted-drift entry cannot be written so that it silently accepts nothing, or without a reason.

A reason still `TODO` (what `panic-contract accept` writes) and a `field` of another shape than the one a
finding of its kind carries are each a usage error naming the file and the line to edit, in the suite and in
the audit; a status `value:` matches in any casing, as the known statuses do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.core.accepted import (
    CHECK_KIND,
    FIELDLESS_KINDS,
    PLACEHOLDERS,
    Acceptance,
    AcceptedDriftError,
    loads,
    today_utc,
)
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Finding, Kind, describe_value, inspect
from tests.self.samples import DOCUMENTED_CALLOUT
from tests.self.test_accepted_values import CASES, exchange, finding_of

CONTRACT = default_contract()
TODAY = date(2026, 11, 28)
WHERE = "accepted-drift.yaml"
PATH_KINDS = sorted(str(kind) for kind in Kind if str(kind) not in FIELDLESS_KINDS and str(kind) != CHECK_KIND)


def dumped(**entry: Any) -> bytes:
    """One entry as YAML writes it, keys in the order given (so `field` is on line 2 after `kind`).

    Escaped, not written raw: YAML reads a raw NEL or LINE SEPARATOR inside a scalar as a line break.
    """
    raw = yaml.safe_dump([entry], sort_keys=False).encode()
    assert [entry] == yaml.safe_load(raw)  # the file says what the test means
    return raw


def refused(raw: bytes) -> str:
    with pytest.raises(AcceptedDriftError) as caught:
        loads(raw, WHERE, TODAY)
    message = str(caught.value)
    assert [message] == message.splitlines()
    return message


def entry(kind: str = "unknown-status", field: str | None = "$.status", reason: str = "ticket 4411") -> bytes:
    return dumped(kind=kind, field=field, reason=reason, expires=date(2026, 12, 31))


# --- reason: a person must write it ----------------------------------------------------------------

NOT_WRITTEN = ["TODO", "todo", "Todo", "TODO: ask the provider", "todo - later", "(TODO)", "FIXME", "tbd", "XXX", "-",
               "...", "?", "TODO_later"]  # fmt: skip
WRITTEN = ["ticket 4411", "ticket 4411; TODO remove once fixed", "todos reviewed with the provider", "4411", "TODO4411"]


@pytest.mark.parametrize("reason", NOT_WRITTEN)
def test_a_reason_not_yet_written_is_refused_naming_its_line(reason: str) -> None:
    message = refused(entry(reason=reason))
    expected = (
        f"{WHERE} line 3: reason is {reason!r}, not yet written (panic-contract accept writes TODO): say why this "
        "drift is accepted, e.g. reason: reported to the provider as ticket 4411"
    )
    assert expected == message


@pytest.mark.parametrize("reason", WRITTEN)
def test_a_written_reason_is_taken(reason: str) -> None:
    (loaded,) = loads(entry(reason=reason), WHERE, TODAY).entries
    assert reason == loaded.reason


def casings(word: str) -> st.SearchStrategy[str]:
    """`word` with each character in upper or lower case."""
    flips = st.lists(st.booleans(), min_size=len(word), max_size=len(word))
    return flips.map(lambda up: "".join(c.upper() if u else c for c, u in zip(word, up, strict=True)))


NOT_ALNUM = st.characters(exclude_categories=["Cs"]).filter(lambda c: not c.isalnum())
PLACEHOLDER = st.sampled_from(sorted(PLACEHOLDERS)).flatmap(casings)


def round_trips(reason: str) -> bytes:
    raw = entry(reason=reason)
    assume(yaml.safe_load(raw)[0]["reason"] == reason and reason.strip())
    return raw


@given(
    before=st.text(NOT_ALNUM, max_size=3),
    word=PLACEHOLDER,
    after=st.one_of(st.just(""), st.tuples(NOT_ALNUM, st.text(max_size=20)).map("".join)),
)
def test_any_reason_led_by_a_placeholder_in_any_casing_is_refused(before: str, word: str, after: str) -> None:
    assert "not yet written" in refused(round_trips(before + word + after))


@given(st.text(NOT_ALNUM, min_size=1, max_size=10))
def test_any_reason_without_a_letter_or_digit_is_refused(reason: str) -> None:
    assert "not yet written" in refused(round_trips(reason))


@given(
    before=st.text(NOT_ALNUM, max_size=3),
    word=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12).filter(
        lambda w: w.isalnum() and w.casefold() not in PLACEHOLDERS
    ),
    after=st.one_of(st.just(""), st.tuples(NOT_ALNUM, st.text(max_size=20)).map("".join)),
)
def test_any_reason_led_by_another_word_is_taken(before: str, word: str, after: str) -> None:
    reason = before + word + after
    (loaded,) = loads(round_trips(reason), WHERE, TODAY).entries
    assert " ".join(reason.split()) == loaded.reason


# --- field: the shape a finding of the kind carries --------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CASES), ids=str)
def test_the_field_a_finding_carries_is_the_field_an_entry_may_name(kind: Kind) -> None:
    """Holds FIELDLESS_KINDS and the JSON-path rule to what findings.inspect (and the suite) really write."""
    found = finding_of(kind, CASES[kind].made)
    acceptance = loads(entry(str(kind), found.field), WHERE, TODAY)
    assert acceptance.classify(found) is not None
    if found.field is None:
        assert str(kind) in FIELDLESS_KINDS
    elif str(kind) == CHECK_KIND:
        assert found.field.isidentifier()
    else:
        assert found.field.startswith("$")


@given(kind=st.sampled_from(PATH_KINDS), field=st.text(max_size=30).filter(lambda f: not f.startswith("$")))
def test_any_field_without_a_leading_dollar_is_refused_naming_its_line(kind: str, field: str) -> None:
    message = refused(entry(kind, field))
    assert message.startswith(f"{WHERE} line 2: field "), message
    assert " is not a JSON path: write the path from the root $, e.g. field: $" in message, message


@given(kind=st.sampled_from(PATH_KINDS), rest=st.text(max_size=30).filter(lambda r: not r.startswith((".", "["))))
def test_a_dollar_not_followed_by_a_dot_or_bracket_is_refused(kind: str, rest: str) -> None:
    assume(rest)  # `$` alone is the root, a path
    assert " is not a JSON path" in refused(entry(kind, "$" + rest))


@given(kind=st.sampled_from(PATH_KINDS), step=st.sampled_from(["", ".", "["]), rest=st.text(max_size=30))
def test_any_json_path_is_taken_and_matches_the_finding_with_that_field(kind: str, step: str, rest: str) -> None:
    field = "$" + step + (rest if step else "")
    acceptance = loads(entry(kind, field), WHERE, TODAY)
    assert acceptance.classify(Finding(Kind(kind), field, "x", "y", "GET /x")) is not None


NO_FIELD = b"- kind: id-mismatch\n  reason: r\n  expires: 2026-12-31\n"
WRONG_FIELDS = {
    "null": (entry("missing-field", None), "line 2: field is required for kind missing-field: write the path from*"),
    "absent": (NO_FIELD, "line 1: field is required for kind id-mismatch: write the path from the root $*"),
    "no-dollar": (entry("unknown-status", "status"), "line 2: field 'status' is not a JSON path:* field: $.status"),
    "leading-dot": (entry("new-field", ".eta"), "line 2: field '.eta' is not a JSON path:* e.g. field: $.eta"),
    "dollar-name": (entry("type-changed", "$id"), "line 2: field '$id' is not a JSON path:* e.g. field: $.id"),
    "bracket": (entry("missing-field", "[0]"), "line 2: field '[[]0]' is not a JSON path:* e.g. field: $[[]0]"),
    "on-fieldless": (
        entry("server-error", "$.status"),
        "line 2: kind server-error has no field; drop field: (the entry then covers every server-error finding, "
        "or narrow it with value:)",
    ),
    "empty-on-fieldless": (
        entry("malformed-body", ""),
        "line 2: kind malformed-body has no field; drop field: (the entry then covers every malformed-body finding)",
    ),
    "check-absent": (
        entry(CHECK_KIND, None),
        "line 2: field is required for kind schemathesis-check: name the check as schemathesis does, "
        "e.g. field: unsupported_method",
    ),
    "check-a-path": (entry(CHECK_KIND, "$.status"), "line 2: field '$.status' is not a check name: name the check*"),
    "a-number": (NO_FIELD.replace(b"  reason", b"  field: 5\n  reason"), "line 2: field '5' is not a JSON path*"),
}


@pytest.mark.parametrize(("text", "line"), WRONG_FIELDS.values(), ids=WRONG_FIELDS.keys())
def test_a_field_of_the_wrong_shape_is_one_line_saying_what_to_write(text: bytes, line: str) -> None:
    message = refused(text)
    assert fnmatchcase(message, f"{WHERE} {line}"), message


# --- value: a status in any casing ------------------------------------------------------------------

CASE_CHANGES: list[Callable[[str], str]] = [str.upper, str.lower, str.swapcase, str.casefold, str.title, str]


@st.composite
def recased(draw: st.DrawFn, text: str) -> str:
    return "".join(draw(st.sampled_from(CASE_CHANGES))(char) for char in text)


def shown_whole(status: str) -> bool:
    return not describe_value(status).endswith("...")


def unknown(status: str) -> bool:
    return status.casefold() not in CONTRACT.known_statuses_folded


def status_acceptance(value: str) -> Acceptance:
    raw = dumped(kind="unknown-status", field="$.status", value=value, reason="ticket 4411", expires=TODAY)
    return loads(raw, WHERE, TODAY)


@given(st.data())
def test_any_casing_of_an_accepted_status_is_accepted(data: st.DataObject) -> None:
    """As known statuses compare (casefolded): the entry matches a status iff their casefolds are equal."""
    status = data.draw(st.text(max_size=30).filter(lambda s: unknown(s) and shown_whole(s)), label="status")
    value = data.draw(recased(status).filter(shown_whole), label="value")
    (found,) = inspect(exchange({"status": status}), CONTRACT).findings
    (accepting,) = status_acceptance(value).entries
    assert (value.casefold() == status.casefold()) == accepting.matches(found)


@given(st.data())
def test_any_casing_of_a_latin_status_is_accepted(data: st.DataObject) -> None:
    status = data.draw(st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -", min_size=1, max_size=30))
    assume(unknown(status))
    value = data.draw(recased(status))
    (found,) = inspect(exchange({"status": status}), CONTRACT).findings
    assert status_acceptance(value).classify(found) is not None


# --- in the suite and the audit: exit 4 and the line ------------------------------------------------


def capture(tmp_path: Path, status: str = "Escalated") -> Path:
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/992011"},
        "response": {
            "status": 200,
            "headers": {"content-type": "application/json"},
            "body": {**DOCUMENTED_CALLOUT, "status": status},
        },
    }
    path = tmp_path / "capture.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


def audit_stops(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert 4 == cli.main(["audit", *args])
    (err,) = capsys.readouterr().err.splitlines()
    return err


def test_what_accept_prints_is_refused_until_a_reason_is_written(
    run_suite: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's path: a drifting run, `panic-contract accept` of its report, the entries pasted unedited."""
    drifted = run_suite("--mock-drift", "unknown-status")
    assert 1 == drifted.result.ret, drifted.output
    capsys.readouterr()
    report = tmp_path / "drift.json"
    report.write_text(json.dumps(drifted.report))
    assert 0 == cli.main(["accept", str(report)])
    printed = capsys.readouterr().out
    assert "  reason: TODO" in printed.splitlines()  # still TODO: a person must edit it
    pasted = tmp_path / "accepted-drift.yaml"
    pasted.write_text(printed)
    line = next(n for n, text in enumerate(printed.splitlines(), 1) if text == "  reason: TODO")
    expected = f"{pasted} line {line}: reason is 'TODO', not yet written (panic-contract accept writes TODO): say why*"

    run = run_suite("--mock-drift", "unknown-status", f"--accepted-drift={pasted}")
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    assert "Traceback" not in run.output
    err = audit_stops([str(capture(tmp_path)), f"--accepted-drift={pasted}"], capsys)
    assert fnmatchcase(err, f"panic-contract audit: verdict: usage (exit 4): {expected}"), err

    pasted.write_text(printed.replace("TODO", "reported to the provider as ticket 4411"))
    assert 0 == cli.main(["audit", str(capture(tmp_path)), f"--accepted-drift={pasted}"])


def test_a_field_without_its_dollar_stops_the_run_instead_of_going_stale(
    run_suite: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the drift failed the run (exit 1) and the entry was reported stale, "delete it"."""
    path = tmp_path / "accepted-drift.yaml"
    path.write_text(f"- kind: unknown-status\n  field: status\n  reason: ticket 4411\n  expires: {today_utc()}\n")
    expected = f"{path} line 2: field 'status' is not a JSON path: write the path from the root $, e.g. field: $.status"
    run = run_suite("--mock-drift", "unknown-status", f"--accepted-drift={path}")
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    assert "stale" not in run.output
    err = audit_stops([str(capture(tmp_path)), f"--accepted-drift={path}"], capsys)
    assert f"panic-contract audit: verdict: usage (exit 4): {expected}" == err
