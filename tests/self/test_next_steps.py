"""Every report says what to do next: one step per verdict and per finding kind, in every report.

The table (`core/next_steps.py`) is complete (a new verdict or kind without a step fails here), each step
fills in the run's own things (the report's path, the spec, the values that arrived), and the terminal
section, the JSON report, the Markdown summary and so the job summary all show them, masked and escaped.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.core import next_steps
from panic_contract.core.contract import SPEC_PATH, load_contract
from panic_contract.core.findings import Exchange, Finding, Inspection, Kind, describe_value, inspect
from panic_contract.core.ledger import Ledger
from panic_contract.core.next_steps import AUDIT_VERDICT_STEPS, KIND_STEPS, VERDICT_STEPS, Where
from panic_contract.core.reports import RunInfo, append_step_summary, as_json, as_markdown, terminal_lines
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, decide, verdict_line
from panic_contract.redaction import register
from tests.self.test_audit import CALLOUT

STARTED = datetime(2026, 11, 27, 18, 40, tzinfo=UTC)
STAGING = "https://staging-panic.aura.services"
LIVE = RunInfo("staging", STAGING, "panic-api.openapi.yaml", STARTED, 1.0, json_report="out/drift.json")
MOCK = RunInfo("mock", "http://127.0.0.1:8000", "panic-api.openapi.yaml", STARTED, 1.0, mock_drift=("unknown-status",))
AUDIT = RunInfo("audit", "capture.jsonl", "panic-api.openapi.yaml", STARTED, 1.0, json_report="audit.json")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def example_finding(kind: Kind) -> Finding:
    field_ = {Kind.SCHEMATHESIS_CHECK: "negative_data_rejection"}.get(kind, "$.status")
    return Finding(kind, field_, "one of created (any casing)", 'string "Escalated"', "GET /x/992011")


def ledger_of(*findings: Finding) -> Ledger:
    ledger = Ledger()
    ledger.add(Inspection(validated_body=True))
    ledger.add_findings(findings)
    return ledger


# --- the table is complete ------------------------------------------------------------------------------


def test_every_verdict_has_a_next_step() -> None:
    """A new Verdict without a step here fails this test, so no run ends without saying what to do next."""
    assert set(Verdict) == set(VERDICT_STEPS)
    assert set(AUDIT_VERDICT_STEPS) <= set(Verdict)


def test_every_kind_has_a_next_step() -> None:
    """A new Kind (README.md documents each) without a step fails this test."""
    assert set(Kind) == set(KIND_STEPS)


@pytest.mark.parametrize("run", [LIVE, MOCK, AUDIT, RunInfo("staging", STAGING, "x", STARTED, 1.0)], ids=str)
@pytest.mark.parametrize("verdict", list(Verdict), ids=str)
def test_each_verdict_s_step_is_filled_in_and_each_paste_is_one_line(verdict: Verdict, run: RunInfo) -> None:
    step = next_steps.for_verdict(verdict, run.where())
    assert step.text
    assert [] == PLACEHOLDER.findall(step.text + "".join(step.paste))
    assert all(line and "\n" not in line for line in step.paste)


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_each_kind_s_step_is_filled_in_and_shows_in_every_report(kind: Kind, tmp_path: Path) -> None:
    ledger = ledger_of(example_finding(kind))
    decision = decide(ledger, strict_drift=True)
    (entry,) = ledger.sorted_entries()
    step = next_steps.for_entry(entry, LIVE.where())
    assert step.text
    assert [] == PLACEHOLDER.findall(step.text + "".join(step.paste))
    report = as_json(ledger, decision, LIVE)
    assert step.as_dict() == report["findings"][0]["next_step"]
    assert {"for": f"{kind} {entry.first.field}", **step.as_dict()} in report["next_steps"]
    assert f"next: {kind} {entry.first.field}: {step.text}" in terminal_lines(ledger, decision, LIVE)
    summary = tmp_path / "summary.md"
    assert append_step_summary(str(summary), as_markdown(ledger, decision, LIVE)) is None
    assert f"- {kind}" in summary.read_text(encoding="utf-8")  # the job summary is the Markdown summary


# --- the steps of a run, in every report -------------------------------------------------------------------


def drift_run() -> tuple[Ledger, Decision]:
    ledger = ledger_of(
        Finding(Kind.MISSING_FIELD, "$.createdAt", "string (required)", "missing", "GET /x/992011"),
        Finding(Kind.MISSING_FIELD, "$.latitude", "number (required)", "missing", "GET /x/992011"),
        example_finding(Kind.UNKNOWN_STATUS),
    )
    return ledger, decide(ledger)


def test_the_terminal_section_lists_the_steps_after_the_findings_and_before_the_verdict_line() -> None:
    ledger, decision = drift_run()
    lines = terminal_lines(ledger, decision, LIVE)
    steps = [index for index, line in enumerate(lines) if line.startswith("next: ")]
    findings = [index for index, line in enumerate(lines) if line.startswith("breaking ")]
    assert max(findings) < min(steps)
    assert verdict_line(decision) == lines[-1]
    assert [
        "next: missing-field $.createdAt, $.latitude: missing from the body: report it to the provider with the "
        "reproducer; until it is back, nothing that reads it can count on it",
        "next: unknown-status $.status: a status value the spec does not list: if the provider documents it, add "
        f"it under x-known-values on Callout.status in {next_steps._shown(SPEC_PATH)} (README.md, 'Accepting a "
        "new status value'); else report it to the provider",
        "    - Escalated",
        "next: drift: report each finding to the provider with its reproducer, and fix what counts on it; to let "
        "runs pass meanwhile, accept the findings until a date: paste the entries this prints into the "
        "accepted-drift file (--accepted-drift) and replace each TODO with why",
        "    panic-contract accept out/drift.json --days 14",
    ] == lines[min(steps) : -1]


def test_the_json_report_lists_the_steps_with_the_verdict_s_last() -> None:
    ledger, decision = drift_run()
    report = as_json(ledger, decision, LIVE)
    assert ["missing-field $.createdAt, $.latitude", "unknown-status $.status", "drift"] == [
        step["for"] for step in report["next_steps"]
    ]
    assert ["panic-contract accept out/drift.json --days 14"] == report["next_steps"][-1]["commands"]
    assert report == json.loads(json.dumps(report))
    assert all("next_step" in finding for finding in report["findings"])


def test_the_markdown_summary_lists_the_steps_each_paste_in_a_code_block() -> None:
    ledger, decision = drift_run()
    markdown = as_markdown(ledger, decision, LIVE)
    steps = markdown.split("Next steps:\n", 1)[1].split("Reproduce the first finding:", 1)[0]
    assert "- unknown-status $.status: a status value the spec does not list" in steps
    assert "\n  ```\n  - Escalated\n  ```\n" in steps
    assert "\n  ```\n  panic-contract accept out/drift.json --days 14\n  ```\n" in steps
    assert "- drift: report each finding" in steps


def test_a_clean_run_says_there_is_nothing_to_do_in_every_report() -> None:
    ledger = ledger_of()
    decision = decide(ledger)
    assert "next: ok: nothing to do: no finding fails the run" == terminal_lines(ledger, decision, LIVE)[-2]
    assert [{"for": "ok", "step": "nothing to do: no finding fails the run", "commands": []}] == as_json(
        ledger, decision, LIVE
    )["next_steps"]
    assert "- ok: nothing to do: no finding fails the run" in as_markdown(ledger, decision, LIVE)


def test_steps_are_masked_and_escaped_where_they_land() -> None:
    """A step names what a server sent (a status value): the sinks mask it and keep it one line."""
    secret = "sentinel-next-step-4a9c1e"
    register(secret)
    finding = Finding(Kind.UNKNOWN_STATUS, "$.status", "x", describe_value(f"{secret}\nverdict: ok"), "GET /x/1")
    ledger = ledger_of(finding)
    decision = decide(ledger)
    texts = [*terminal_lines(ledger, decision, LIVE), as_markdown(ledger, decision, LIVE)]
    assert [] == [text for text in texts if secret in text]
    assert 1 == sum(line.startswith("verdict:") for line in "\n".join(texts[:-1]).splitlines())


# --- each verdict's step ------------------------------------------------------------------------------------


def test_drift_pastes_accept_with_the_report_path_given_shell_quoted() -> None:
    run = RunInfo("staging", STAGING, "x", STARTED, 1.0, json_report="my reports/drift.json")
    step = next_steps.for_verdict(Verdict.DRIFT, run.where())
    assert ("panic-contract accept 'my reports/drift.json' --days 14",) == step.paste


def test_drift_without_a_json_report_says_to_write_one_first() -> None:
    step = next_steps.for_verdict(Verdict.DRIFT, Where())
    assert ("panic-contract accept drift.json --days 14",) == step.paste
    assert step.text.endswith("(this run wrote no JSON report: run it again with --drift-report=drift.json first)")


def test_auth_names_the_variables_to_refresh() -> None:
    text = next_steps.for_verdict(Verdict.AUTH, Where()).text
    assert "refresh PANIC_API_TOKEN (or PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET" in text


@pytest.mark.parametrize(
    ("verdict", "audit", "paste"),
    [
        (Verdict.OUTAGE, False, ("--request-timeout 30",)),
        (Verdict.INCONCLUSIVE, False, ("--callout-ids ID,ID",)),
        (Verdict.INCONCLUSIVE, True, ("--server URL",)),
        (Verdict.USAGE, False, ("pytest --help",)),
        (Verdict.USAGE, True, ("panic-contract audit --help",)),
        (Verdict.FAILED, False, ("--lf",)),
        (Verdict.INTERRUPTED, False, ()),
        (Verdict.INTERRUPTED, True, ()),
        (Verdict.OK, False, ()),
    ],
)
def test_each_verdict_pastes_its_flag_or_command(verdict: Verdict, audit: bool, paste: tuple[str, ...]) -> None:
    assert paste == next_steps.for_verdict(verdict, Where(audit=audit)).paste


def test_the_audit_s_outage_and_auth_speak_of_the_capture_not_of_our_token() -> None:
    outage, auth = (next_steps.for_verdict(v, Where(audit=True)).text for v in (Verdict.OUTAGE, Verdict.AUTH))
    assert "the capture shows the target answering 502/503/504" in outage
    assert "PANIC_API_TOKEN" not in auth
    assert "that client's token" in auth


def test_an_interrupted_run_says_to_run_it_again() -> None:
    ledger = ledger_of()
    decision = Decision(Verdict.INTERRUPTED, "interrupted by SIGTERM after 12 requests, before the run finished")
    assert EXIT_CODES[Verdict.INTERRUPTED] == decision.exit_code
    (step,) = as_json(ledger, decision, LIVE)["next_steps"]
    assert ("interrupted", True) == (step["for"], step["step"].endswith("run it again for a verdict"))


# --- each kind's step ---------------------------------------------------------------------------------------


def test_a_new_field_step_names_strict_drift_and_the_spec() -> None:
    ledger = ledger_of(Finding(Kind.NEW_FIELD, "$.responderEta", "no such field", "an undocumented field", "GET /x"))
    (entry,) = ledger.sorted_entries()
    text = next_steps.for_entry(entry, Where(spec=Path("spec/panic-api.openapi.yaml"))).text
    assert "--strict-drift" in text
    assert "add it to the properties of Callout in spec/panic-api.openapi.yaml" in text


def test_an_expired_acceptance_says_to_renew_it() -> None:
    ledger = ledger_of(example_finding(Kind.NULL_IN_NON_NULLABLE))
    (entry,) = ledger.sorted_entries()
    entry.acceptance = "expired"
    assert next_steps.for_entry(entry, Where()).text.endswith(next_steps.EXPIRED)


def test_unknown_status_pastes_each_value_that_arrived_and_leaves_out_one_cut_short() -> None:
    long = "x" * 80
    values = ("Escalated", "yes", "Paused: awaiting", long)
    ledger = ledger_of(*(example_finding(Kind.UNKNOWN_STATUS) for _ in range(1)))
    (entry,) = ledger.sorted_entries()
    entry.actuals = [describe_value(value) for value in values]
    paste = next_steps.for_entry(entry, Where()).paste
    assert ("- Escalated", '- "yes"', '- "Paused: awaiting"') == paste  # "yes" is YAML's true; ": " a mapping
    assert [["Escalated"], ["yes"], ["Paused: awaiting"]] == [yaml.safe_load(line) for line in paste]


@given(st.text(min_size=1, max_size=40))
def test_an_unknown_status_paste_reads_back_as_the_value_that_arrived(value: str) -> None:
    """Whatever status text arrives (and a finding shows whole), its spec line reads back as that text."""
    shown = describe_value(value)
    lines = next_steps._status_values([shown])
    if shown.endswith("..."):
        assert [] == lines  # cut short: left out (the test above)
        return
    (line,) = lines
    assert [value] == yaml.safe_load(f"- {line}")
    assert line.isprintable()  # a line of its own in the terminal, and in the spec


@pytest.mark.parametrize("value", ["Escalated", "Responder En Route", "on", "Paused: awaiting", "Esperando ñ"])
def test_the_unknown_status_paste_in_the_spec_makes_the_value_known(value: str, tmp_path: Path) -> None:
    """The edit the step pastes works: under x-known-values, the value is no longer an unknown-status."""
    ledger = ledger_of(Finding(Kind.UNKNOWN_STATUS, "$.status", "x", describe_value(value), "GET /x/992011"))
    (paste,) = next_steps.for_entry(ledger.sorted_entries()[0], Where()).paste
    spec = SPEC_PATH.read_text(encoding="utf-8")
    marker = "          x-known-values:\n"
    assert 1 == spec.count(marker)
    edited = tmp_path / "panic-api.openapi.yaml"
    edited.write_text(spec.replace(marker, f"{marker}            {paste}\n"), encoding="utf-8")
    body = {**CALLOUT, "status": value}
    exchange = Exchange("GET", "/panic-api/v2/callouts/992011", 200, {"content-type": "application/json"}, None, body)
    assert [Kind.UNKNOWN_STATUS] == [f.kind for f in inspect(exchange, load_contract(SPEC_PATH)).findings]
    assert () == inspect(exchange, load_contract(edited)).findings


def test_the_mock_s_step_serves_it_where_the_reproducers_send_with_the_run_s_drift() -> None:
    ledger = ledger_of(example_finding(Kind.UNKNOWN_STATUS))
    first = as_json(ledger, decide(ledger), MOCK)["next_steps"][0]
    assert ("reproduce", ["panic-contract mock --port 8000 --drift unknown-status"]) == (
        first["for"],
        first["commands"],
    )
    assert "http://127.0.0.1:8000" in first["step"]
    assert [] == [s for s in as_json(ledger, decide(ledger), LIVE)["next_steps"] if s["for"] == "reproduce"]
