"""One verdict per run with a stable exit code, rendered as JSON, Markdown and terminal lines without a token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from panic_contract.core.findings import Finding, Inspection, Kind
from panic_contract.core.ledger import Ledger
from panic_contract.core.reports import RunInfo, as_json, as_markdown, reproducer, terminal_lines, write_reports
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, decide
from panic_contract.faults import Outage, Signal, TokenRejected

BASE_URL = "http://127.0.0.1:8765"
RUN = RunInfo(
    target="mock",
    base_url=BASE_URL,
    spec="spec/panic-api.openapi.yaml",
    started_at=datetime(2024, 4, 20, 14, 45, tzinfo=UTC),
    duration_s=1.23456,
)


def finding(kind: Kind, field: str | None, actual: str = "null", callout_id: int = 992011) -> Finding:
    return Finding(kind, field, "integer", actual, f"GET /panic-api/v2/callouts/{callout_id}")


def ledger_of(*findings: Finding, validated: int = 1, signals: dict[Signal, int] | None = None) -> Ledger:
    ledger = Ledger()
    for _ in range(validated):
        ledger.add(Inspection(validated_body=True))
    for item in findings:
        ledger.add(Inspection(findings=(item,)))
    for signal, count in (signals or {}).items():
        for _ in range(count):
            ledger.add(Inspection(signal=signal))
    return ledger


BREAKING = finding(Kind.NULL_IN_NON_NULLABLE, "$.customerId")
ADDITIVE = Finding(Kind.NEW_FIELD, "$.extra", "no such field", "an undocumented field (integer 1)", "GET /x")


# Exit codes and precedence.


def test_exit_codes_are_the_documented_stable_numbers() -> None:
    """README.md's "Exit codes": renumbering any of them breaks every CI that branches on them."""
    assert {
        Verdict.OK: 0,
        Verdict.DRIFT: 1,
        Verdict.FAILED: 1,
        Verdict.USAGE: 4,
        Verdict.OUTAGE: 10,
        Verdict.AUTH: 11,
        Verdict.INCONCLUSIVE: 12,
        Verdict.INTERRUPTED: 130,
    } == EXIT_CODES
    assert set(Verdict) == set(EXIT_CODES)


def everything_wrong() -> tuple[Ledger, dict[str, Any]]:
    """A run where every condition holds at once, so each step can remove the top one."""
    ledger = ledger_of(
        BREAKING,
        validated=0,
        signals={Signal.GATEWAY_ERROR: 1, Signal.AUTH_REJECTED: 1},
    )
    halt = Outage("cannot reach 127.0.0.1:8765: connection refused (3 attempts)")
    return ledger, {"halt": halt, "require_validated_body": True, "tests_failed": True}


def test_a_halt_comes_before_everything() -> None:
    ledger, options = everything_wrong()
    decision = decide(ledger, host="127.0.0.1:8765", **options)
    assert (Verdict.OUTAGE, 10, "cannot reach 127.0.0.1:8765: connection refused (3 attempts)") == (
        decision.verdict,
        decision.exit_code,
        decision.reason,
    )


def test_an_auth_halt_comes_before_gateway_errors() -> None:
    ledger, options = everything_wrong()
    options["halt"] = TokenRejected("127.0.0.1:8765 rejected our token (401 to GET /x): refresh PANIC_API_TOKEN")
    decision = decide(ledger, host="127.0.0.1:8765", **options)
    assert (Verdict.AUTH, "127.0.0.1:8765 rejected our token (401 to GET /x): refresh PANIC_API_TOKEN") == (
        decision.verdict,
        decision.reason,
    )


def test_gateway_errors_alone_are_an_outage_before_auth() -> None:
    ledger, options = everything_wrong()
    options["halt"] = None
    decision = decide(ledger, host="127.0.0.1:8765", **options)
    assert Verdict.OUTAGE == decision.verdict
    assert "127.0.0.1:8765 kept answering 502/503/504 (1 responses after retries)" == decision.reason


def test_auth_comes_before_drift() -> None:
    ledger, options = everything_wrong()
    options["halt"] = None
    del ledger.signals[Signal.GATEWAY_ERROR]
    assert Verdict.AUTH == decide(ledger, **options).verdict


def test_drift_comes_before_inconclusive() -> None:
    ledger, options = everything_wrong()
    options["halt"] = None
    ledger.signals.clear()
    assert Verdict.DRIFT == decide(ledger, **options).verdict


def test_inconclusive_comes_before_failed() -> None:
    ledger, options = everything_wrong()
    options["halt"] = None
    ledger.signals.clear()
    ledger.entries.clear()
    assert Verdict.INCONCLUSIVE == decide(ledger, **options).verdict


def test_failed_comes_before_ok() -> None:
    assert Verdict.FAILED == decide(ledger_of(), tests_failed=True).verdict


def test_clean_run_is_ok() -> None:
    decision = decide(ledger_of(validated=3))
    assert (Verdict.OK, 0, "3 callout bodies held to the contract") == (
        decision.verdict,
        decision.exit_code,
        decision.reason,
    )


def test_rate_limits_alone_do_not_change_the_verdict() -> None:
    assert Verdict.OK == decide(ledger_of(signals={Signal.RATE_LIMITED: 4})).verdict


def test_new_field_alone_is_ok_with_a_note() -> None:
    decision = decide(ledger_of(ADDITIVE))
    assert Verdict.OK == decision.verdict
    assert "1 additive finding(s) (pass with --strict-drift to fail on them)" in decision.reason


def test_strict_drift_makes_a_new_field_drift() -> None:
    decision = decide(ledger_of(ADDITIVE), strict_drift=True)
    assert (Verdict.DRIFT, 1, "1 finding(s) of kind new-field") == (
        decision.verdict,
        decision.exit_code,
        decision.reason,
    )


def test_drift_reason_counts_findings_and_names_kinds() -> None:
    decision = decide(ledger_of(BREAKING, finding(Kind.TYPE_CHANGED, "$.id"), ADDITIVE))
    assert "2 finding(s) of kind null-in-non-nullable, type-changed" == decision.reason


def test_no_validated_body_is_inconclusive_only_when_required() -> None:
    empty = ledger_of(validated=0)
    assert (Verdict.OK, Verdict.INCONCLUSIVE) == (
        decide(empty).verdict,
        decide(empty, require_validated_body=True).verdict,
    )


def test_auth_reason_says_how_to_fix_it() -> None:
    decision = decide(ledger_of(signals={Signal.AUTH_REJECTED: 2}), host="staging-panic.aura.services")
    assert (
        "staging-panic.aura.services rejected our token on 2 requests that should succeed: refresh PANIC_API_TOKEN"
        == decision.reason
    )


# Reports.


def drift_run() -> tuple[Ledger, Decision]:
    ledger = ledger_of(
        BREAKING,
        finding(Kind.NULL_IN_NON_NULLABLE, "$.customerId", callout_id=992012),
        finding(Kind.UNKNOWN_STATUS, "$.status", actual='string "open|pending"'),
        ADDITIVE,
    )
    return ledger, decide(ledger)


def test_json_report_has_the_documented_keys() -> None:
    ledger, decision = drift_run()
    report = as_json(ledger, decision, RUN)
    expected = {"verdict", "target", "base_url", "spec", "started_at", "duration_s", "requests", "findings"}
    assert expected <= set(report)
    assert ("drift", "mock", BASE_URL, "spec/panic-api.openapi.yaml", "2024-04-20T14:45:00+00:00", 1.235, 5) == (
        report["verdict"],
        report["target"],
        report["base_url"],
        report["spec"],
        report["started_at"],
        report["duration_s"],
        report["requests"],
    )


def test_json_report_findings_carry_the_documented_keys() -> None:
    ledger, decision = drift_run()
    findings = as_json(ledger, decision, RUN)["findings"]
    keys = {"kind", "severity", "field", "expected", "actual", "request", "count", "reproducer"}
    assert [keys] * 3 == [keys & set(item) for item in findings]
    assert {
        "kind": "null-in-non-nullable",
        "severity": "breaking",
        "field": "$.customerId",
        "expected": "integer",
        "actual": "null",
        "request": "GET /panic-api/v2/callouts/992011",
        "count": 2,
        "reproducer": f"curl -H \"Authorization: Bearer $PANIC_API_TOKEN\" '{BASE_URL}/panic-api/v2/callouts/992011'",
    } == {key: findings[0][key] for key in keys}


def test_json_report_is_serialisable() -> None:
    ledger, decision = drift_run()
    report = as_json(ledger, decision, RUN)
    assert report == json.loads(json.dumps(report))


def test_reproducer_names_the_token_s_variable_never_a_value() -> None:
    assert (
        """curl -H "Authorization: Bearer $PANIC_API_TOKEN" 'http://127.0.0.1:8765/panic-api/v2/callouts/992011'"""
        == reproducer(BASE_URL + "/", "GET /panic-api/v2/callouts/992011")
    )


def test_reproducer_names_a_method_other_than_get() -> None:
    assert """curl -X POST -H "Authorization: Bearer $PANIC_API_TOKEN" 'http://127.0.0.1:8765/x'""" == reproducer(
        BASE_URL, "POST /x"
    )


def test_reproducer_quotes_the_url_for_the_shell() -> None:
    assert f"""curl -H "Authorization: Bearer $PANIC_API_TOKEN" '{BASE_URL}/x?a=1&b=2'""" == reproducer(
        BASE_URL, "GET /x?a=1&b=2"
    )


def test_markdown_starts_with_the_verdict_line() -> None:
    ledger, decision = drift_run()
    assert "## API drift: **drift** (exit 1)" == as_markdown(ledger, decision, RUN).splitlines()[0]


def table_rows(markdown: str) -> list[str]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    return rows[1:]  # the first is the header; the separator starts with "|-"


def test_markdown_has_one_row_per_kind_and_field() -> None:
    ledger, decision = drift_run()
    rows = table_rows(as_markdown(ledger, decision, RUN))
    assert [
        "| null-in-non-nullable | breaking | $.customerId | integer | null | 2 | `GET /panic-api/v2/callouts/992011` |",
        '| unknown-status | breaking | $.status | integer | string "open\\|pending" | 1 '
        "| `GET /panic-api/v2/callouts/992011` |",
        "| new-field | additive | $.extra | no such field | an undocumented field (integer 1) | 1 | `GET /x` |",
    ] == rows


def test_markdown_escapes_pipes_in_every_cell() -> None:
    ledger = ledger_of(Finding(Kind.TYPE_CHANGED, "$.a|b", "x|y", "z|w", "GET /a|b"))
    (row,) = table_rows(as_markdown(ledger, decide(ledger), RUN))
    assert 8 == row.replace("\\|", "").count("|")  # 7 cells, 8 separators: no stray column


def test_markdown_of_a_clean_run_has_no_table() -> None:
    ledger = ledger_of()
    markdown = as_markdown(ledger, decide(ledger), RUN)
    assert [] == [line for line in markdown.splitlines() if line.startswith("|")]


def test_terminal_lines_end_with_the_verdict_line() -> None:
    ledger, decision = drift_run()
    lines = terminal_lines(ledger, decision, RUN)
    assert "verdict: drift (exit 1): 2 finding(s) of kind null-in-non-nullable, unknown-status" == lines[-1]


def test_terminal_lines_show_each_finding_with_its_reproducer() -> None:
    ledger, decision = drift_run()
    lines = terminal_lines(ledger, decision, RUN)
    assert (
        "breaking null-in-non-nullable $.customerId: GET /panic-api/v2/callouts/992011: $.customerId is null, "
        "contract says integer [null-in-non-nullable] (x2)"
    ) == lines[0]
    reproduce = (
        f"""    reproduce: curl -H "Authorization: Bearer $PANIC_API_TOKEN" '{BASE_URL}/panic-api/v2/callouts/992011'"""
    )
    assert reproduce == lines[1]
    assert [True] * 3 == [line.startswith("    reproduce: curl ") for line in lines[1:6:2]]  # one per finding
    assert lines[6].startswith("next: ")


def test_terminal_lines_of_a_clean_run_say_so() -> None:
    ledger = ledger_of()
    assert [
        "no findings",
        "next: ok: nothing to do: no finding fails the run",
        "verdict: ok (exit 0): 1 callout bodies held to the contract",
    ] == terminal_lines(ledger, decide(ledger), RUN)


def test_write_reports_writes_both_files(tmp_path: Path) -> None:
    ledger, decision = drift_run()
    json_path, md_path = tmp_path / "out" / "drift.json", tmp_path / "out" / "drift.md"
    write_reports(ledger, decision, RUN, json_path, md_path)
    assert as_json(ledger, decision, RUN) == json.loads(json_path.read_text(encoding="utf-8"))
    assert as_markdown(ledger, decision, RUN) == md_path.read_text(encoding="utf-8")
    assert ["drift.json", "drift.md"] == sorted(path.name for path in json_path.parent.iterdir())


def test_write_reports_skips_a_report_not_asked_for(tmp_path: Path) -> None:
    ledger, decision = drift_run()
    write_reports(ledger, decision, RUN, tmp_path / "drift.json", None)
    assert ["drift.json"] == sorted(path.name for path in tmp_path.iterdir())
