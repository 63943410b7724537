"""CI that acts on the report: the GitHub job summary and error annotations.

The workflows, the action and the GitLab job that call the command: tests/self/test_ci_templates.py.
"""

from __future__ import annotations

from pathlib import Path

from panic_contract.core.findings import Finding, Kind
from panic_contract.core.ledger import Ledger
from panic_contract.core.reports import github_annotations
from panic_contract.redaction import register


def test_in_github_actions_the_summary_is_appended_and_each_breaking_finding_annotated(
    run_suite, tmp_path: Path
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("## an earlier step\n")
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}
    run = run_suite("--mock-drift", "null-in-non-nullable", "--mock-drift", "new-field", env=env)
    assert 1 == run.result.ret, run.output
    text = summary.read_text()
    assert text.startswith("## an earlier step\n")
    assert "## API drift: **drift** (exit 1)" in text
    run.result.stdout.fnmatch_lines(
        [
            "::error title=API drift%3A null-in-non-nullable $.customerId::"
            "GET /panic-api/v2/callouts/*: $.customerId is null, contract says integer *(x*)",
            "verdict: drift (exit 1)*",
        ]
    )
    assert "::error title=API drift%3A new-field" not in run.output  # additive: listed, not an error


def test_outside_github_actions_nothing_is_annotated_or_appended(run_suite) -> None:
    run = run_suite("--mock-drift", "null-in-non-nullable")
    assert "::error" not in run.output


def test_annotations_escape_line_breaks_and_never_carry_the_token() -> None:
    register("sentinel-token-for-annotations")
    ledger = Ledger()
    finding = Finding(
        Kind.TYPE_CHANGED, "$.id", "integer", 'string "Bearer sentinel-token-for-annotations"\n100%', "GET /x"
    )
    ledger.add_findings([finding], "GET /x")
    (line,) = github_annotations(ledger)
    assert "sentinel-token-for-annotations" not in line
    assert "\n" not in line
    assert '***"%0A100%25' in line
