"""How far ahead accepted drift may expire (`--accept-max-days`), and the warning before it does.

With a cap, an entry expiring later than today + N days is a usage error naming the entry, its date and
the cap, in the suite (flag, variable or ini) and the audit (flag or variable). Every report (terminal,
JSON, Markdown) names the entries that expire within 7 days, in use or not, without failing the run.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.core import reports
from panic_contract.core.accepted import CAP_ORIGIN, EXPIRING_DAYS, AcceptedDriftError, loads, today_utc
from panic_contract.core.findings import Finding, Kind
from panic_contract.core.ledger import Ledger
from panic_contract.core.verdict import Verdict, decide
from panic_contract.settings import MAX_ACCEPT_DAYS, SETTINGS, SettingError, resolve
from tests.self.test_accepted_drift_rules import capture

TODAY = date(2026, 11, 28)
WHERE = "accepted-drift.yaml"
SETTING = SETTINGS["accept_max_days"]
RUN = reports.RunInfo("mock", "http://127.0.0.1:8000", "panic-api.openapi.yaml", datetime.now(UTC), 1.0)


def entry(expires: date, kind: str = "unknown-status", field: str = "$.status", reason: str = "ticket 4411") -> str:
    return f"- kind: {kind}\n  field: {field}\n  reason: {reason}\n  expires: {expires.isoformat()}\n"


# --- the cap ---------------------------------------------------------------------------------------


def test_the_cap_is_one_row_of_the_settings_table() -> None:
    assert ("--accept-max-days", "PANIC_API_ACCEPT_MAX_DAYS", "panic_api_accept_max_days", None) == (
        SETTING.flag,
        SETTING.env,
        SETTING.ini,
        SETTING.default,
    )
    assert CAP_ORIGIN == SETTING.origin()  # what the loader's line names is the setting's own name
    assert resolve(SETTING, None, {}) is None  # no default: no cap
    assert 90 == resolve(SETTING, "90", {})
    assert MAX_ACCEPT_DAYS == resolve(SETTING, None, {"PANIC_API_ACCEPT_MAX_DAYS": str(MAX_ACCEPT_DAYS)})


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "soon", "3651", "9" * 400, "inf", "nan"])
def test_a_cap_that_is_not_a_number_of_days_is_one_line_naming_the_flag_and_variable(raw: str) -> None:
    with pytest.raises(SettingError) as caught:
        resolve(SETTING, raw, {})
    expected = f"--accept-max-days (or PANIC_API_ACCEPT_MAX_DAYS) is {raw!r}; it must be a whole number of days "
    assert str(caught.value) == expected + "from 1 to 3650, e.g. 90"


@given(cap=st.integers(1, MAX_ACCEPT_DAYS), ahead=st.integers(-400, MAX_ACCEPT_DAYS + 400))
def test_any_expiry_beyond_the_cap_is_refused_and_any_within_it_taken(cap: int, ahead: int) -> None:
    expires = TODAY + timedelta(days=ahead)
    raw = entry(expires).encode()
    if ahead <= cap:
        (loaded,) = loads(raw, WHERE, TODAY, cap).entries
        assert expires == loaded.expires
        return
    with pytest.raises(AcceptedDriftError) as caught:
        loads(raw, WHERE, TODAY, cap)
    latest = (TODAY + timedelta(days=cap)).isoformat()
    assert (
        f"{WHERE} line 4: entry unknown-status $.status expires {expires.isoformat()}, {ahead} days from today, "
        f"beyond the {cap}-day cap set by {CAP_ORIGIN}: set expires: {latest} or earlier"
    ) == str(caught.value)


def test_without_a_cap_any_expiry_is_taken() -> None:
    (loaded,) = loads(entry(date(9999, 12, 31)).encode(), WHERE, TODAY).entries
    assert date(9999, 12, 31) == loaded.expires


def test_the_cap_names_the_entry_that_breaks_it_not_the_first() -> None:
    text = entry(TODAY + timedelta(days=30)) + entry(TODAY + timedelta(days=31), "new-field", "$.responderEta")
    with pytest.raises(AcceptedDriftError, match=rf"^{WHERE} line 8: entry new-field \$\.responderEta expires "):
        loads(text.encode(), WHERE, TODAY, 30)


def far_file(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "accepted-drift.yaml"
    expires = today_utc() + timedelta(days=31)
    path.write_text(entry(expires))
    latest = (today_utc() + timedelta(days=30)).isoformat()
    line = f"{path} line 4: entry unknown-status $.status expires {expires.isoformat()}, 31 days from today, "
    return path, line + f"beyond the 30-day cap set by {CAP_ORIGIN}: set expires: {latest} or earlier"


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--accept-max-days=30"], {}),
        ([], {"PANIC_API_ACCEPT_MAX_DAYS": "30"}),
        (["-o", "panic_api_accept_max_days=30"], {}),
    ],
    ids=["flag", "variable", "ini"],
)
def test_the_suite_honours_the_cap_from_flag_variable_or_ini(
    args: list[str], env: dict[str, str], run_suite: Any, tmp_path: Path
) -> None:
    path, line = far_file(tmp_path)
    run = run_suite("--mock-drift", "unknown-status", f"--accepted-drift={path}", *args, env=env)
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([f"ERROR: {line}"])
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--accept-max-days", "30"], {}), ([], {"PANIC_API_ACCEPT_MAX_DAYS": "30"})],
    ids=["flag", "variable"],
)
def test_the_audit_honours_the_cap_from_flag_or_variable(
    args: list[str],
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path, line = far_file(tmp_path)
    assert 4 == cli.main(["audit", str(capture(tmp_path)), f"--accepted-drift={path}", *args])
    (err,) = capsys.readouterr().err.splitlines()
    assert f"panic-contract audit: verdict: usage (exit 4): {line}" == err
    monkeypatch.delenv("PANIC_API_ACCEPT_MAX_DAYS", raising=False)
    assert 0 == cli.main(["audit", str(capture(tmp_path)), f"--accepted-drift={path}"])  # no cap: accepted


def test_the_audit_help_lists_the_cap(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["audit", "--help"])
    assert "--accept-max-days DAYS" in capsys.readouterr().out


# --- the warning, 7 days ahead ---------------------------------------------------------------------

UNKNOWN_STATUS = Finding(Kind.UNKNOWN_STATUS, "$.status", "one of ...", 'string "Escalated"', "GET /x/1")


def warned_ledger() -> Ledger:
    """Entries expiring in 1 day (covering a finding), today, in 7 days (both unused), in 8, and yesterday."""
    text = "".join(
        entry(TODAY + timedelta(days=days), kind, field)
        for days, kind, field in [
            (1, "unknown-status", "$.status"),  # line 1
            (0, "missing-field", "$.id"),  # line 5
            (7, "new-field", "$.responderEta"),  # line 9
            (8, "null-in-non-nullable", "$.customerId"),  # line 13: not yet
            (-1, "type-changed", "$.id"),  # line 17: expired, fails the run if it covers a finding
        ]
    )
    ledger = Ledger(loads(text.encode(), WHERE, TODAY))
    ledger.add_findings([UNKNOWN_STATUS], times=3)
    ledger.validated_bodies = ledger.requests = 3
    return ledger


def test_every_report_names_the_entries_expiring_within_7_days_without_failing_the_run() -> None:
    ledger = warned_ledger()
    decision = decide(ledger)
    assert Verdict.OK == decision.verdict

    report = reports.as_json(ledger, decision, RUN)
    soon = [(item["line"], item["expires_in_days"], item["in_use"]) for item in report["expiring_soon"]]
    assert [(1, 1, True), (5, 0, False), (9, 7, False)] == soon
    assert {"kind": "unknown-status", "field": "$.status", "expires": "2026-11-29"}.items() <= report["expiring_soon"][
        0
    ].items()
    assert [1] == [item["expires_in_days"] for item in report["accepted"]]

    lines = reports.terminal_lines(ledger, decision, RUN)
    warnings = [line for line in lines if line.startswith("accepted drift expires")]
    assert [
        "accepted drift expires in 1 day: unknown-status $.status (line 1, until 2026-11-29: ticket 4411)",
        "accepted drift expires today, covering nothing in this run: missing-field $.id (line 5, until 2026-11-28: "
        "ticket 4411)",
        "accepted drift expires in 7 days, covering nothing in this run: new-field $.responderEta (line 9, until "
        "2026-12-05: ticket 4411)",
    ] == warnings
    assert lines[-1].startswith("verdict: ok (exit 0)")

    markdown = reports.as_markdown(ledger, decision, RUN)
    assert "Accepted drift expiring within 7 days (renew it with a new reason and date, or fix the drift" in markdown
    assert [f"- {line}" for line in warnings] == [
        line for line in markdown.splitlines() if line.startswith("- accepted drift expires")
    ]


def test_an_expired_finding_carries_its_days_past_and_is_not_expiring_soon() -> None:
    ledger = warned_ledger()
    ledger.add_findings([Finding(Kind.TYPE_CHANGED, "$.id", "integer", 'string "1"', "GET /x/1")])
    report = reports.as_json(ledger, decide(ledger), RUN)
    assert "drift" == report["verdict"]
    assert [("expired", -1)] == [(f["acceptance"], f["expires_in_days"]) for f in report["findings"]]
    assert 17 not in [item["line"] for item in report["expiring_soon"]]


def test_a_run_without_accepted_drift_has_an_empty_expiring_soon_list() -> None:
    ledger = Ledger()
    assert [] == reports.as_json(ledger, decide(ledger), RUN)["expiring_soon"]
    assert not any("expires" in line for line in reports.terminal_lines(ledger, decide(ledger), RUN))


@given(ahead=st.integers(-60, 60))
def test_an_entry_is_expiring_soon_exactly_from_7_days_ahead_to_its_last_day(ahead: int) -> None:
    acceptance = loads(entry(TODAY + timedelta(days=ahead)).encode(), WHERE, TODAY)
    assert (0 <= ahead <= EXPIRING_DAYS) == bool(acceptance.expiring_soon())


def soon_file(tmp_path: Path) -> Path:
    path = tmp_path / "accepted-drift.yaml"
    accepted = entry(today_utc() + timedelta(days=3))
    stale = entry(today_utc(), "missing-field", "$.calloutClassificationId")
    path.write_text(accepted + stale)
    return path


def check_warned(report: dict[str, Any], markdown: str, out: list[str]) -> None:
    assert (0, "ok") == (report["exit_code"], report["verdict"])
    assert [(1, 3, True), (5, 0, False)] == [
        (item["line"], item["expires_in_days"], item["in_use"]) for item in report["expiring_soon"]
    ]
    assert [3] == [item["expires_in_days"] for item in report["accepted"]]
    assert 2 == sum(line.startswith("- accepted drift expires ") for line in markdown.splitlines())
    assert any(line.startswith("accepted drift expires in 3 days: unknown-status $.status (line 1") for line in out), (
        out
    )
    expected = "accepted drift expires today, covering nothing in this run: missing-field $.calloutClassificationId"
    assert any(line.startswith(expected) for line in out), out


# Under -n 2: test_coverage.py's test_workers_merge_one_coverage_sarif_log_weighing_and_accepted_drift.
def test_the_suite_warns_in_every_report(run_suite: Any, tmp_path: Path) -> None:
    run = run_suite("--mock-drift", "unknown-status", f"--accepted-drift={soon_file(tmp_path)}")
    assert 0 == run.result.ret, run.output
    check_warned(run.report, run.markdown, run.result.outlines)


def test_the_audit_warns_in_every_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    json_path, md_path = tmp_path / "audit.json", tmp_path / "audit.md"
    args = [f"--accepted-drift={soon_file(tmp_path)}", f"--drift-report={json_path}", f"--drift-report-md={md_path}"]
    assert 0 == cli.main(["audit", str(capture(tmp_path)), *args])
    report = json.loads(json_path.read_text())
    # a capture of one record validates a body: the unused entry is stale as well as expiring
    assert 1 == len(report["stale_acceptances"])
    check_warned(report, md_path.read_text(), capsys.readouterr().out.splitlines())
    assert fnmatchcase(report["expiring_soon"][1]["entry"], "missing-field $.calloutClassificationId (line 5, *)")
