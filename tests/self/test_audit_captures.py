"""`panic-contract audit` on captures as real tools write them (`tests/self/captures/`, each describing itself).

A sanitized export, a body the browser never read, bodies stored base64, a local dev server on the same path,
credentials echoed back: each gets its verdict, exit code and one-line reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from panic_contract.commands import cli

CAPTURES = Path(__file__).parent / "captures"
STAGING = "https://staging-panic.aura.services"


@dataclass
class Audited:
    code: int
    out: str
    err: str
    report: dict[str, Any]
    markdown: str

    @property
    def verdict_line(self) -> str:
        return self.out.splitlines()[-1]

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(f["kind"], f["field"]) for f in self.report["findings"]]


@pytest.fixture
def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("PANIC_API_STRICT_DRIFT", "PANIC_API_SERVERS", "PANIC_API_MAX_BODY_SIZE"):
        monkeypatch.delenv(name, raising=False)

    def run(name: str, *args: str) -> Audited:
        report, markdown = tmp_path / "drift.json", tmp_path / "drift.md"
        argv = ["audit", str(CAPTURES / name), f"--drift-report={report}", f"--drift-report-md={markdown}", *args]
        code = cli.main(argv)
        captured = capsys.readouterr()
        return Audited(code, captured.out, captured.err, json.loads(report.read_text()), markdown.read_text())

    return run


def test_every_capture_describes_itself() -> None:
    for path in sorted(CAPTURES.iterdir()):
        if path.suffix == ".har":
            assert json.loads(path.read_text())["log"]["comment"], path.name
        else:
            assert all(json.loads(line)["description"] for line in path.read_text().splitlines()), path.name


def test_a_sanitized_chrome_export_is_ok_and_says_auth_was_not_judged(audit: Any) -> None:
    """Was drift (exit 1): every 200 without the Authorization header the export strips was auth-not-enforced."""
    run = audit("chrome-sanitized.har")
    assert (0, "ok", []) == (run.code, run.report["verdict"], run.kinds())
    assert run.verdict_line == (
        "verdict: ok (exit 0): 2 callout bodies held to the contract; 3 of 5 exchanges audited, 2 of other "
        "operations skipped; auth not judged: 3 exchanges carried no credential"
    )


def test_a_404_playwright_never_read_is_judged_without_its_body_and_the_rest_as_usual(audit: Any) -> None:
    """Was exit 4 ("entry 4: the response body was not saved"), with no verdict for the other entries."""
    run = audit("playwright-unread-404.har")
    assert (1, [("type-changed", "$.customerId")]) == (run.code, run.kinds())
    assert run.verdict_line == (
        "verdict: drift (exit 1): 1 finding(s) of kind type-changed; 3 of 4 exchanges audited, 1 of other "
        "operations skipped; 1 exchange without a saved body: its body was not judged"
    )
    assert ["entry 3"] == run.report["findings"][0]["samples"]


def test_a_capture_without_any_saved_body_is_inconclusive(audit: Any) -> None:
    run = audit("playwright-no-bodies.har")
    assert (12, "inconclusive") == (run.code, run.report["verdict"])
    assert run.verdict_line == (
        "verdict: inconclusive (exit 12): no body in playwright-no-bodies.har could be judged (2 of 2 exchanges "
        "audited, 0 of other operations skipped; 2 exchanges without a saved body: their bodies were not judged): "
        "export the capture with its content"
    )


def test_bodies_stored_base64_are_decoded_and_judged(audit: Any) -> None:
    """Was exit 4 ("the response body is base64-encoded")."""
    run = audit("firefox-base64.har")
    assert (1, [("type-changed", "$.latitude")]) == (run.code, run.kinds())
    assert ['string "-33.9258"'] == run.report["findings"][0]["actual_values"]
    assert 2 == run.report["validated_bodies"]


def test_a_local_dev_server_on_the_same_path_is_counted_and_skipped(audit: Any) -> None:
    """Was drift (exit 1), its reproducer naming staging for what localhost served."""
    run = audit("local-dev-server.har")
    assert (0, []) == (run.code, run.kinds())
    assert run.verdict_line == (
        "verdict: ok (exit 0): 1 callout bodies held to the contract; 1 of 3 exchanges audited, 1 of other "
        "operations skipped, 1 on other hosts skipped (http://localhost:3000: 1; judge a host with --server URL)"
    )
    assert STAGING == run.report["base_url"]


def test_a_server_given_with_server_is_judged_and_named_by_its_findings(audit: Any) -> None:
    run = audit("local-dev-server.har", "--server", "http://localhost:3000/")
    assert (1, [("missing-field", "$.calloutClassificationId")]) == (run.code, run.kinds())
    (finding,) = run.report["findings"]
    assert "GET http://localhost:3000/panic-api/v2/callouts/992011" == finding["request"]
    assert (
        """curl -H "Authorization: Bearer $PANIC_API_TOKEN" 'http://localhost:3000/panic-api/v2/callouts/992011'"""
        == (finding["reproducer"])
    )
    assert (
        """reproduce: curl -H "Authorization: Bearer $PANIC_API_TOKEN" 'http://localhost:3000/panic-api/v2/callouts/992011'"""
        in run.out
    )
    assert "2 of 3 exchanges audited" in run.verdict_line


def test_servers_also_come_from_the_environment_and_repeat(audit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANIC_API_SERVERS", "http://localhost:3000, http://127.0.0.1:9")
    assert 1 == audit("local-dev-server.har").code
    monkeypatch.delenv("PANIC_API_SERVERS")
    assert (
        1 == audit("local-dev-server.har", "--server", "http://127.0.0.1:9", "--server", "http://localhost:3000").code
    )


def test_json_lines_records_naming_another_host_are_skipped_and_those_naming_none_judged(audit: Any) -> None:
    run = audit("recorded-on-several-hosts.jsonl")
    assert (0, []) == (run.code, run.kinds())
    assert run.verdict_line.endswith(
        "2 of 3 exchanges audited, 0 of other operations skipped, 1 on other hosts skipped (127.0.0.1:8000: 1; "
        "judge a host with --server URL)"
    )
    judged = audit("recorded-on-several-hosts.jsonl", "--server=http://127.0.0.1:8000")
    assert (1, [("null-in-non-nullable", "$.customerId")]) == (judged.code, judged.kinds())
    (finding,) = judged.report["findings"]
    assert ("GET http://127.0.0.1:8000/panic-api/v2/callouts/992012", ["line 2"]) == (
        finding["request"],
        finding["samples"],
    )
    assert finding["reproducer"].endswith(" 'http://127.0.0.1:8000/panic-api/v2/callouts/992012'")
    assert STAGING == judged.report["base_url"]  # the first record's host


SENTINELS = (
    "sentinel-cookie-9f3e1d7a4b",
    "sentinel-apikey-2c8b6e0f51",
    "sentinel-query-7d1a4f9e3c",
    "sentinel-bearer-5e2b8c1d7f",
)


def test_credentials_the_capture_carries_reach_no_output_not_even_in_part(audit: Any) -> None:
    """The cookie, the X-Api-Key, a query-string token and the bearer token, echoed back into a drifted body.

    Before, the cookie and the key reached the reports, and the query token, cut short by a finding, left
    its first half there."""
    text = (CAPTURES / "echoed-credentials.har").read_text()
    assert all(sentinel in text for sentinel in SENTINELS)  # else this test would prove nothing
    run = audit("echoed-credentials.har")
    assert 1 == run.code
    assert {("type-changed", "$.customerId"), ("unknown-status", "$.status"), ("new-field", "$.debugEcho")} == set(
        run.kinds()
    )
    shown = run.out + run.err + json.dumps(run.report) + run.markdown
    assert "sentinel" not in shown  # not a whole value, nor the first part of one a finding cut short
    assert 'string "***"' in [value for f in run.report["findings"] for value in f["actual_values"]]
