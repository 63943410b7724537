"""Diagnoses: the common shapes of a change are named in one line above their findings, in the suite and the audit
alike, and never claimed where the evidence does not hold (two unrelated fields missing and added are no rename)."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.core.contract import default_contract
from panic_contract.core.diagnoses import Pattern, diagnose
from panic_contract.core.findings import Exchange, Finding, Kind, fingerprint, inspect
from panic_contract.core.fingerprint import fingerprint as fingerprint_key
from panic_contract.core.ledger import Ledger
from panic_contract.mock import DRIFTS, MOCK_TOKEN, create_app, serve
from tests.self.samples import DOCUMENTED_CALLOUT, PATTERN_DRIFTS

CONTRACT = default_contract()
DOCUMENTED = CONTRACT.responses[200].properties
PATH = "/panic-api/v2/callouts/992011"


def judged(*bodies: Any, media: str = "application/json", status: int = 200) -> Ledger:
    """A ledger of one response per body (a dict is sent as JSON, a str as it is)."""
    ledger = Ledger()
    for body in bodies:
        raw = body if isinstance(body, str) else json.dumps(body)
        exchange = Exchange("GET", PATH, status, {"content-type": media}, raw.encode())
        ledger.add(inspect(exchange, CONTRACT), sample=PATH)
    return ledger


def patterns(ledger: Ledger) -> list[str]:
    return [str(d.pattern) for d in diagnose(ledger.sorted_entries(), DOCUMENTED)]


def callout(**changes: Any) -> dict[str, Any]:
    body = {**DOCUMENTED_CALLOUT, **changes}
    return {name: value for name, value in body.items() if value is not ...}


def mock_response(drift: str) -> httpx.Response:
    with serve(create_app(drift=[drift])) as url:
        return httpx.get(url + PATH, headers={"Authorization": f"Bearer {MOCK_TOKEN}"})


# --- the vocabulary and its switches --------------------------------------------------------------------------


def test_every_pattern_has_a_mock_drift_switch_of_its_name_and_an_expected_diagnosis() -> None:
    assert {str(p) for p in Pattern} <= {str(d) for d in DRIFTS}
    assert {str(p) for p in Pattern} == set(PATTERN_DRIFTS)


def test_a_diagnosis_names_its_findings_by_the_history_s_fingerprint() -> None:
    """One fingerprint for every report: the diagnoses' and the history's (`core.fingerprint`)."""
    finding = Finding(Kind.UNKNOWN_STATUS, "$.status", "one of created", 'string "Escalated"', PATH)
    assert fingerprint_key("unknown-status", "$.status", "one of created") == fingerprint(finding)
    assert 16 == len(fingerprint(finding))


@given(st.text(max_size=30), st.text(max_size=30))
def test_findings_that_differ_only_in_what_arrived_share_a_fingerprint(one: str, other: str) -> None:
    first = Finding(Kind.UNKNOWN_STATUS, "$.status", "one of created", one, PATH)
    assert fingerprint(first) == fingerprint(Finding(Kind.UNKNOWN_STATUS, "$.status", "one of created", other, "x"))
    assert fingerprint(first) != fingerprint(Finding(Kind.UNKNOWN_STATUS, "$.other", "one of created", one, PATH))


# --- the suite and the audit name each one --------------------------------------------------------------------


@pytest.mark.parametrize("drift", sorted(PATTERN_DRIFTS))
def test_the_suite_leads_the_api_drift_section_with_the_diagnosis(drift: str, run_suite) -> None:
    pattern, summary, (kind, field) = PATTERN_DRIFTS[drift]
    run = run_suite("--mock-drift", drift)
    assert 1 == run.result.ret, run.output
    lines = run.result.stdout.lines
    section = next(i for i, line in enumerate(lines) if "= API drift =" in line)
    assert f"diagnosis {pattern}: {summary}" == lines[section + 1]
    (diagnosis,) = run.report["diagnoses"]
    assert (pattern, summary) == (diagnosis["pattern"], diagnosis["summary"])
    explained = {f["fingerprint"]: (f["kind"], f["field"]) for f in run.report["findings"]}
    assert set(diagnosis["fingerprints"]) <= set(explained)
    assert (kind, field) in {explained[print_] for print_ in diagnosis["fingerprints"]}
    assert run.markdown.index(f"- **{pattern}**: ") < run.markdown.index("| kind | severity |")


def _capture(tmp_path: Path, drift: str) -> Path:
    response = mock_response(drift)
    record = {
        "request": {"method": "GET", "path": PATH, "credentials": "valid"},
        "response": {"status": response.status_code, "headers": {"Content-Type": response.headers["content-type"]}},
    }
    try:
        record["response"]["body"] = response.json()
    except ValueError:
        record["response"]["body_text"] = response.text
    path = tmp_path / "capture.jsonl"
    path.write_bytes(orjson.dumps(record) + b"\n")
    return path


@pytest.mark.parametrize("drift", sorted(PATTERN_DRIFTS))
def test_the_audit_names_the_diagnosis_of_the_same_drift(
    drift: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pattern, summary, _ = PATTERN_DRIFTS[drift]
    report = tmp_path / "audit.json"
    code = cli.main(["audit", str(_capture(tmp_path, drift)), f"--drift-report={report}", "--jobs", "1"])
    out = capsys.readouterr().out
    assert 1 == code, out
    assert [(pattern, summary)] == [(d["pattern"], d["summary"]) for d in json.loads(report.read_text())["diagnoses"]]
    lines = out.splitlines()
    # after the audit's own lines (what it read, where each finding was first seen), before the findings
    first_finding = next(i for i, line in enumerate(lines) if line.startswith(("breaking ", "warning ", "additive ")))
    assert f"diagnosis {pattern}: {summary}" == lines[first_finding - 1]


# --- and none is claimed where it does not hold ----------------------------------------------------------------


def test_two_unrelated_fields_missing_and_added_are_not_a_rename(run_suite) -> None:
    run = run_suite("--mock-drift", "missing-field", "--mock-drift", "new-field")
    assert {"missing-field", "new-field"} == {f["kind"] for f in run.report["findings"]}
    assert [] == run.report["diagnoses"]
    assert not any(line.startswith("diagnosis ") for line in run.result.stdout.lines)


def test_a_json_body_labelled_text_html_is_not_an_error_page() -> None:
    assert [] == patterns(judged(callout(), media="text/html"))


def test_an_html_body_labelled_json_is_an_error_page() -> None:
    assert ["error-page"] == patterns(judged("<html><body>Sign in</body></html>"))


def test_a_rename_to_another_type_is_not_a_rename() -> None:
    assert [] == patterns(judged(callout(customerId=..., customerID="178921")))


def test_a_rename_seen_in_only_some_responses_of_the_missing_field_is_not_a_rename() -> None:
    ledger = judged(callout(customerId=..., customerID=178921), callout(customerId=...))
    assert [] == patterns(ledger)


def test_fields_moved_under_an_object_with_other_types_are_not_moved() -> None:
    body = callout(latitude=..., longitude=..., location={"latitude": "-33.9", "longitude": "18.4"})
    assert [] == patterns(judged(body))


def test_a_few_fields_under_a_new_object_are_moved_not_a_wrapped_body() -> None:
    body = callout(latitude=..., longitude=..., location={"latitude": -33.9, "longitude": 18.4})
    assert ["moved-field"] == patterns(judged(body))


def test_a_wrapped_callout_under_another_key_is_wrapped_but_not_the_newer_documented_shape() -> None:
    (diagnosis,) = diagnose(judged({"data": DOCUMENTED_CALLOUT}).sorted_entries(), DOCUMENTED)
    assert ("wrapped-body", "the callout is wrapped under $.data") == (diagnosis.pattern, diagnosis.summary)


def test_each_finding_is_explained_once() -> None:
    body = callout(customerId=..., customerID=178921, latitude=..., longitude=..., location={"latitude": 1.5})
    found = diagnose(judged(body).sorted_entries(), DOCUMENTED)
    prints = [p for d in found for p in d.fingerprints]
    assert len(prints) == len(set(prints))
    assert ["moved-field", "renamed-field"] == [str(d.pattern) for d in found]


# --- properties -------------------------------------------------------------------------------------------------

NAMES = sorted(name for name in DOCUMENTED if name not in {"id", "status"})
VALUES = {"integer": st.integers(-(2**31), 2**31), "string": st.text(max_size=10), "boolean": st.booleans()}


@st.composite
def variants(draw: st.DrawFn, name: str) -> str:
    """The name as a rename keeps it alike: a casing changed, an underscore put in."""
    chars = [draw(st.sampled_from([c.lower(), c.upper()])) for c in name]
    if draw(st.booleans()):
        chars.insert(draw(st.integers(1, len(chars) - 1)), "_")
    variant = "".join(chars)
    return variant if variant != name else name.upper()


@settings(max_examples=60)
@given(st.data())
def test_a_rename_is_claimed_iff_the_new_name_is_alike_and_its_values_of_the_documented_type(data: Any) -> None:
    old = data.draw(st.sampled_from(NAMES))
    alike = data.draw(st.booleans())
    # unalike: a name of letters the old one does not have, so nothing of it carries over
    others = "".join(sorted(set(string.ascii_letters) - set(old.lower()) - set(old.upper())))
    new = data.draw(variants(old) if alike else st.text(others, min_size=3, max_size=12))
    value_type = data.draw(st.sampled_from(sorted(VALUES)))
    body = callout(**{old: ..., new: data.draw(VALUES[value_type])})
    expected_type = str(CONTRACT.responses[200].schema["properties"][old]["type"])
    fits = value_type in expected_type or (value_type == "integer" and "number" in expected_type)
    assert (["renamed-field"] if alike and fits else []) == patterns(judged(body))


@given(st.integers(-(2**53), 2**53))
def test_any_number_sent_as_a_string_is_value_as_string(number: int) -> None:
    (diagnosis,) = diagnose(judged(callout(responseTypeId=str(number))).sorted_entries(), DOCUMENTED)
    assert (Pattern.VALUE_AS_STRING, f'responseTypeId is now sent as a string: "{number}"') == (
        diagnosis.pattern,
        diagnosis.summary,
    )


@given(st.text(max_size=20).filter(lambda text: not text.strip().lstrip("-").isdigit()))
def test_a_string_that_holds_no_number_is_not_value_as_string(text: str) -> None:
    assert [] == patterns(judged(callout(responseTypeId=text)))


@given(st.text(st.characters(codec="utf-8", exclude_characters="<>"), max_size=200))
def test_any_html_page_on_a_documented_status_is_an_error_page(text: str) -> None:
    for status in (200, 404):
        assert ["error-page"] == patterns(judged(f"<html><body>{text}</body></html>", media="text/html", status=status))
