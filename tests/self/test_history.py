"""The history store: every run remembered, each finding new, persisting, returned or fixed, on SQLite and PostgreSQL.

The sequence the issue names (clean, drifted, drifted, clean, on the embedded mock's drift switches) runs for
the suite in this process, under `-n 2`, and for `audit`, on both stores; then the store's failures (each one
line, the verdict untouched), its migration, two writers at once, secrets and server text kept as data.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from panic_contract import redaction
from panic_contract.commands import cli
from panic_contract.core.fingerprint import fingerprint
from panic_contract.history import schema, store
from panic_contract.history.records import FindingRow, Location, RunRow, location
from panic_contract.history.store import Store
from panic_contract.mock import MOCK_TOKEN, known_callout_ids
from tests.self import test_recorder
from tests.self.conftest import SuiteResult
from tests.self.samples import DOCUMENTED_CALLOUT
from tests.self.test_audit import Ex, callout, write_har, write_jsonl
from tests.self.test_html_report import Page
from tests.self.test_recorder import FakeApi, record_into
from tests.self.test_verdict_line_last import assert_the_verdict_line_is_last

SENTINEL = "sentinel-history-7c4e1a9b"
DRIFT = "type-changed"  # the mock's switch: $.id as a string
# The recorder's fixtures (the live API as respx plays it, the fixtures' folder), for record --check.
recorder_api, recorder_out = test_recorder.api, test_recorder.out


def history_env(where: str) -> dict[str, str]:
    return {"PANIC_API_NO_HISTORY": "0", "PANIC_API_HISTORY": where}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.e2e)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store of each kind: an SQLite file in this test's folder, a fresh database on a real PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "store" / "history.sqlite")
    return str(request.getfixturevalue("postgres_url"))


def assert_clean_drifted_drifted_clean(reports: list[dict[str, Any]]) -> None:
    """What the history says of the four runs: nothing, all new, all persisting since the first drift, all fixed."""
    clean, drifted, again, fixed = reports
    assert [] == clean["findings"]
    assert [] == clean["fixed"]
    assert 1 == clean["history"]["runs"]
    assert clean["history"]["previous_run"] is None

    first = {f["fingerprint"]: f for f in drifted["findings"]}
    assert first, "the drift switch must show findings"
    for finding in first.values():
        assert ("new", 1, False) == (finding["history_status"], finding["runs_seen"], finding["flapping"])
        assert drifted["started_at"] == finding["first_seen"]
    assert clean["started_at"] == drifted["history"]["previous_run"]
    assert [] == drifted["fixed"]  # nothing was there before

    assert set(first) == {f["fingerprint"] for f in again["findings"]}
    for finding in again["findings"]:
        assert ("persisting", 2, 2, False) == (
            finding["history_status"],
            finding["runs_seen"],
            finding["runs_checked"],
            finding["flapping"],
        )
        assert drifted["started_at"] == finding["first_seen"]
    assert 3 == again["history"]["runs"]

    assert [] == fixed["findings"]
    assert 4 == fixed["history"]["runs"]
    gone = {f["fingerprint"]: f for f in fixed["fixed"]}
    assert set(first) == set(gone)
    counts = {f["fingerprint"]: f["count"] for f in again["findings"]}
    for fp, finding in gone.items():
        assert again["started_at"] == finding["last_seen"]  # as they were last seen
        assert counts[fp] == finding["count"]
        assert first[fp]["kind"] == finding["kind"]
        assert finding["message"]


# --- the suite -------------------------------------------------------------------------------------------------


def _suite_sequence(run_suite: Any, store_url: str, *extra: str) -> list[SuiteResult]:
    results = []
    for drift in ((), (f"--mock-drift={DRIFT}",), (f"--mock-drift={DRIFT}",), ()):
        results.append(run_suite(*drift, *extra, env=history_env(store_url)))
    return results


def test_the_suite_remembers_clean_drifted_drifted_clean(run_suite: Any, store_url: str) -> None:
    results = _suite_sequence(run_suite, store_url)
    assert [0, 1, 1, 0] == [r.result.ret for r in results]
    assert_clean_drifted_drifted_clean([r.report for r in results])
    _, drifted, again, fixed = results
    assert "    history: new" in drifted.output.splitlines()
    assert "[history: new]" in drifted.junit  # a failing test's message: the JUnit message
    assert "[history: persisting, first seen " in again.junit
    assert "history: persisting, first seen " in again.output
    assert "History (2 runs of this target in " in drifted.markdown
    assert "fixed since the previous run" in fixed.output
    assert "fixed since the previous run" in fixed.markdown
    assert fixed.output.rstrip().splitlines()[-1].startswith("verdict: ok (exit 0)")


@pytest.mark.e2e
def test_the_suite_under_xdist_remembers_clean_drifted_drifted_clean(run_suite: Any, store_url: str) -> None:
    """The controller alone appends the run (one run per session, not one per worker).

    Only the known callouts' tests (several, so both workers run some): the history needs findings, not the
    property test. The same runs show the workers' findings merged into one report, and the verdict line last.
    """
    results = _suite_sequence(run_suite, store_url, "-n", "2", "-k", "known_callout")
    assert [0, 1, 1, 0] == [r.result.ret for r in results]
    assert_clean_drifted_drifted_clean([r.report for r in results])
    assert "[history: persisting, first seen " in results[2].junit  # the workers read the history too
    clean, drifted = results[:2]
    # the workers' findings end up in one report (test_suite_drift.py's in one process)
    assert "$.id" == drifted.kinds["type-changed"]
    assert drifted.report["requests"] > len(drifted.report["findings"])
    # the verdict line is last under -n 2 too (test_verdict_line_last.py's in one process)
    assert_the_verdict_line_is_last(drifted.result, "drift")
    drifted.result.stdout.fnmatch_lines(["*2 workers*", "*= API drift =*", "breaking type-changed *"])
    assert_the_verdict_line_is_last(clean.result, "ok")


def test_no_history_keeps_nothing_and_reports_say_so(run_suite: Any, tmp_path: Path) -> None:
    where = tmp_path / "nowhere" / "history.sqlite"
    result = run_suite(env={"PANIC_API_HISTORY": str(where), "PANIC_API_NO_HISTORY": "1"})
    assert 0 == result.result.ret
    assert result.report["history"] is None
    assert [] == result.report["fixed"]
    assert not where.parent.exists()


# --- the audit --------------------------------------------------------------------------------------------------


def mock_capture(live_mock: Callable[..., str], path: Path, *drift: str) -> Path:
    """A JSON Lines capture of what the embedded mock (with these drift switches) answers for every known id."""
    base = live_mock(*drift)
    exchanges = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {MOCK_TOKEN}"}) as client:
        for callout_id in known_callout_ids()[:5]:
            answer = client.get(f"/panic-api/v2/callouts/{callout_id}")
            exchanges.append(Ex(body=answer.json(), status=answer.status_code, callout_id=callout_id))
    return write_jsonl(path, exchanges)


def audit(capture: Path, store_url: str, report: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    for name, value in history_env(store_url).items():
        monkeypatch.setenv(name, value)
    report.unlink(missing_ok=True)
    return cli.main(["audit", str(capture), f"--drift-report={report}", *args])


def test_the_audit_remembers_clean_drifted_drifted_clean(
    live_mock: Any, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, codes = [], []
    report = tmp_path / "drift.json"
    for drift in ((), (DRIFT,), (DRIFT,), ()):
        capture = mock_capture(live_mock, tmp_path / "capture.jsonl", *drift)
        codes.append(audit(capture, store_url, report, monkeypatch))
        reports.append(json.loads(report.read_text()))
    assert [0, 1, 1, 0] == codes
    assert_clean_drifted_drifted_clean(reports)
    out = capsys.readouterr().out
    assert "fixed since the previous run" in out


def _write(where: Path, *exchanges: Ex) -> Path:
    return write_jsonl(where, list(exchanges))


CLEAN = Ex(body=DOCUMENTED_CALLOUT)
DRIFTED = Ex(body=callout(customerId="abc"))


def test_a_finding_that_comes_back_is_returned_and_flapping(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report, reports = tmp_path / "drift.json", []
    for exchange in (DRIFTED, CLEAN, DRIFTED):
        audit(_write(tmp_path / "capture.jsonl", exchange), store_url, report, monkeypatch)
        reports.append(json.loads(report.read_text()))
    (finding,) = reports[2]["findings"]
    assert reports[0]["findings"][0]["fingerprint"] == finding["fingerprint"]
    assert ("returned", 2, 3, True, 0.667) == (
        finding["history_status"],
        finding["runs_seen"],
        finding["runs_checked"],
        finding["flapping"],
        finding["flapping_rate"],
    )
    assert reports[0]["started_at"] == finding["first_seen"]
    assert "history: returned, first seen " in capsys.readouterr().out


def test_the_history_command_shows_runs_and_findings_and_prunes(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "drift.json"
    for exchange in (DRIFTED, DRIFTED, CLEAN):
        audit(_write(tmp_path / "capture.jsonl", exchange), store_url, report, monkeypatch)
    capsys.readouterr()
    assert 0 == cli.main(["history", "--history", store_url])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 run(s) in ")
    assert ["first seen", "last seen", "runs", "rate", "open", "target", "finding"] == [
        cell.strip() for cell in lines[1].split("  ") if cell.strip()
    ]
    (row,) = lines[2:]
    assert "2/3" in row
    assert "67%" in row
    assert " fixed " in row
    assert "capture.jsonl (audit)" in row
    assert "type-changed $.customerId" in row

    assert 0 == cli.main(["history", "--history", store_url, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert 3 == len(data["runs"])
    assert ["drift", "drift", "ok"] == [run["verdict"] for run in data["runs"]]  # oldest first
    (found,) = data["findings"]
    assert (2, 3, False, "type-changed", "$.customerId") == (
        found["runs_seen"],
        found["runs_checked"],
        found["open"],
        found["kind"],
        found["field"],
    )

    page = tmp_path / "history.html"
    assert 0 == cli.main(["history", "--history", store_url, f"--html={page}"])
    capsys.readouterr()
    parsed = Page(page.read_text(encoding="utf-8"))
    marks = [value for tag, name, value in parsed.attributes if tag == "rect" and name == "class" and "run" in value]
    assert 3 == len(marks), marks  # one per stored run
    assert 1 == len(parsed.rows("finding"))
    assert "type-changed" in parsed.text
    assert 4 == cli.main(["history", "--history", store_url, f"--html={page}/h.html"])
    assert "cannot write the HTML page of the history to " in capsys.readouterr().err

    assert 0 == cli.main(["history", "--history", store_url, "--target", "elsewhere.example"])
    assert capsys.readouterr().out.startswith("no runs in ")
    assert 0 == cli.main(["history", "--history", store_url, "--since", "2999-01-01"])
    assert capsys.readouterr().out.startswith("no runs in ")

    assert 0 == cli.main(["history", "--history", store_url, "--prune", "--keep", "1"])
    assert "pruned 2 run(s)" in capsys.readouterr().out
    assert 0 == cli.main(["history", "--history", store_url, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert (1, []) == (len(data["runs"]), data["findings"])
    assert 0 == cli.main(["history", "--history", store_url, "--prune", "--older-than", "1"])
    assert "pruned 0 run(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--keep", "3"], "--keep and --older-than say what --prune deletes: add --prune"),
        (["--prune"], "--prune needs --keep N"),
        (["--prune", "--keep", "0"], "--keep is 0; keep at least 1 run per target"),
        (["--prune", "--older-than", "soon"], "--older-than is 'soon'; a whole number of days"),
        (["--since", "yesterday"], "--since is 'yesterday'; give a date or time in ISO 8601"),
    ],
)
def test_history_command_usage_errors_are_one_line(
    argv: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 4 == cli.main(["history", "--history", str(tmp_path / "h.sqlite"), *argv])
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    assert line in err


def test_history_of_a_store_that_does_not_exist_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert 4 == cli.main(["history", "--history", str(tmp_path / "none.sqlite")])
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    assert "no history store at " in err
    assert not (tmp_path / "none.sqlite").exists()


# --- failures: one line, the verdict stands ----------------------------------------------------------------------


def _one_history_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith("history not kept: ")]
    assert 1 == len(lines), out
    assert lines[0].endswith("(the verdict stands; fix the store, or pass --no-history)")
    return lines[0]


def _corrupt(tmp_path: Path) -> str:
    where = tmp_path / "corrupt.sqlite"
    where.write_bytes(b"this is not a database at all, just text\n" * 200)
    return str(where)


def _unwritable(tmp_path: Path) -> str:
    (tmp_path / "a-file").write_text("")
    return str(tmp_path / "a-file" / "history.sqlite")  # its folder would be inside a file (root ignores modes)


def _newer(tmp_path: Path) -> str:
    where = str(tmp_path / "newer.sqlite")
    with Store(location(where)), sqlite3.connect(where) as connection:
        connection.execute("UPDATE panic_meta SET value = '99' WHERE key = 'schema_version'")
    return where


def _unreachable(tmp_path: Path) -> str:
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    return f"postgresql://panic:{SENTINEL}@127.0.0.1:{port}/history"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_corrupt, "file is not a database"),
        (_unwritable, "cannot make its folder"),
        (_newer, "has schema 99, newer than this panic-contract reads (2)"),
        (_unreachable, "cannot read its schema: "),
    ],
)
@pytest.mark.parametrize(("exchange", "code"), [(CLEAN, 0), (DRIFTED, 1)])
def test_a_store_that_cannot_be_used_is_one_line_and_the_verdict_stands(
    make: Callable[[Path], str],
    says: str,
    exchange: Ex,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    where, report = make(tmp_path), tmp_path / "drift.json"
    assert code == audit(_write(tmp_path / "capture.jsonl", exchange), where, report, monkeypatch)
    captured = capsys.readouterr()
    line = _one_history_line(captured.out)
    assert says in line
    data = json.loads(report.read_text())
    assert code == data["exit_code"]  # the report is written, with its verdict
    assert line == data["history"]["error"]
    assert captured.out.rstrip().splitlines()[-1].startswith(f"verdict: {'ok' if code == 0 else 'drift'} (exit {code})")
    assert SENTINEL not in captured.out + captured.err + report.read_text()


def test_a_locked_store_is_one_line_after_its_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "locked.sqlite"
    with Store(location(str(where))):
        pass
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(where, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # an exclusive lock blocks readers too
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert 0 == audit(_write(tmp_path / "capture.jsonl", CLEAN), str(where), tmp_path / "d.json", monkeypatch)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "database is locked" in _one_history_line(capsys.readouterr().out)


def test_the_suite_with_a_corrupt_store_keeps_its_verdict_and_exit_code(run_suite: Any, tmp_path: Path) -> None:
    result = run_suite(env=history_env(_corrupt(tmp_path)))
    assert 0 == result.result.ret  # not 4: the store is not a report
    assert "file is not a database" in _one_history_line(result.output)
    assert "ok" == result.report["verdict"]


def test_a_password_in_the_store_url_is_masked_everywhere(run_suite: Any, tmp_path: Path) -> None:
    result = run_suite(env=history_env(_unreachable(tmp_path)))
    assert 0 == result.result.ret
    assert SENTINEL not in result.output + json.dumps(result.report) + result.markdown + result.junit
    assert result.report["history"]["store"].startswith("postgresql://panic:***@127.0.0.1:")


def test_a_bad_history_setting_is_one_line_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = _write(tmp_path / "c.jsonl", CLEAN)
    assert 4 == cli.main(["audit", str(capture), "--history", f"mysql://root:{SENTINEL}@db/history"])
    err = capsys.readouterr().err
    assert 1 == len(err.splitlines())
    assert "--history (or PANIC_API_HISTORY) is not a history store (not shown): give a file path (SQLite)" in err
    assert SENTINEL not in err


# --- the store itself ------------------------------------------------------------------------------------------------

SCHEMA_1 = """
CREATE TABLE panic_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(256) NOT NULL);
CREATE TABLE panic_runs (id INTEGER PRIMARY KEY, command VARCHAR(16) NOT NULL, target VARCHAR(512) NOT NULL,
  target_name VARCHAR(32) NOT NULL, started_at FLOAT NOT NULL, ended_at FLOAT NOT NULL,
  spec_digest VARCHAR(64) NOT NULL, tool_version VARCHAR(64) NOT NULL, verdict VARCHAR(32) NOT NULL,
  exit_code INTEGER NOT NULL, reason TEXT NOT NULL, requests INTEGER NOT NULL, validated_bodies INTEGER NOT NULL);
CREATE TABLE panic_findings (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES panic_runs (id),
  command VARCHAR(16) NOT NULL, target VARCHAR(512) NOT NULL, started_at FLOAT NOT NULL,
  fingerprint VARCHAR(32) NOT NULL, kind VARCHAR(64) NOT NULL, field TEXT, expected TEXT NOT NULL,
  severity VARCHAR(16) NOT NULL, message TEXT NOT NULL, request TEXT NOT NULL, count INTEGER NOT NULL,
  accepted BOOLEAN NOT NULL);
INSERT INTO panic_meta VALUES ('schema_version', '1');
"""


def test_a_store_of_schema_1_is_migrated_keeping_its_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = tmp_path / "old.sqlite"
    fp = fingerprint("type-changed", "$.customerId", "integer")
    with sqlite3.connect(where) as connection:
        connection.executescript(SCHEMA_1)
        connection.execute(
            "INSERT INTO panic_runs VALUES (1, 'audit', 'c.jsonl', 'audit', 1000.0, 1001.0, 'x', '0.0.9', 'drift', 1, "
            "'r', 1, 1)"
        )
        connection.execute(
            "INSERT INTO panic_findings VALUES (1, 1, 'audit', 'c.jsonl', 1000.0, ?, 'type-changed', '$.customerId', "
            "'integer', 'breaking', 'm', 'GET /x', 1, 0)",
            (fp,),
        )
    report = tmp_path / "drift.json"
    assert 1 == audit(_write(tmp_path / "c.jsonl", DRIFTED), str(where), report, monkeypatch)
    (finding,) = json.loads(report.read_text())["findings"]
    assert ("persisting", 2, "1970-01-01T00:16:40+00:00") == (
        finding["history_status"],
        finding["runs_seen"],
        finding["first_seen"],
    )
    with sqlite3.connect(where) as connection:
        assert [("2",)] == connection.execute("SELECT value FROM panic_meta").fetchall()
        assert 2 == connection.execute("SELECT count(*) FROM panic_runs").fetchone()[0]
    assert "history not kept" not in capsys.readouterr().out


def _run(command: str, at: float, validated: int = 1) -> RunRow:
    return RunRow(command, "host.example", "custom", at, at + 1, "d", "v", "drift", 1, "r", 3, validated)


def _finding(fp: str, text: str = "m", count: int = 1) -> FindingRow:
    return FindingRow(fp, "type-changed", f"$.{text}", text, "breaking", text, "GET /x", count, 0.5, False)


def test_two_writers_at_once_lose_nothing(store_url: str) -> None:
    """Two runs' worth of writers (two CI jobs on one store), each appending its runs while the other does."""
    where = location(store_url)
    per_writer, fingerprints = 25, [f"fp{i:02d}" for i in range(5)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def write(offset: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                with Store(where) as kept:  # a run opens its store anew, as each run does
                    kept.append(_run("suite", offset + i), [_finding(fp) for fp in fingerprints])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(offset,)) for offset in (1000, 5000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [] == errors
    with Store(where) as kept:
        assert 2 * per_writer == len(kept.runs())
        recalled = kept.recall("suite", "host.example", 10_000)
        rows = kept.finding_history()
    assert dict.fromkeys(fingerprints, 2 * per_writer) == {fp: seen.runs_seen for fp, seen in recalled.seen.items()}
    assert {2 * per_writer} == {row["runs_seen"] for row in rows}
    assert {1000.0} == {seen.first_seen for seen in recalled.seen.values()}


server_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(server_text, min_size=1, max_size=4))
def test_server_text_is_kept_as_data_never_as_sql(tmp_path: Path, words: list[str]) -> None:
    """Quotes, semicolons, `DROP TABLE`, any Unicode: what a server sent comes back as it went in."""
    where = location(str(tmp_path / "text.sqlite"))
    words = [*words, "x'); DROP TABLE panic_runs; --"]
    with Store(where) as kept:
        at = (max((r["started_at"] for r in kept.runs()), default=0.0)) + 10
        kept.append(_run("audit", at), [_finding(f"fp{i}", word) for i, word in enumerate(words)])
        previous = kept.recall("audit", "host.example", at + 1).previous
    assert sorted(words) == sorted(row.message for row in previous)
    assert sorted(f"$.{word}" for word in words) == sorted(row.field or "" for row in previous)


fields = st.lists(st.sampled_from(["a", "units", "b_c", "callout"]), min_size=1, max_size=3)


@given(
    kind=st.sampled_from(["type-changed", "missing-field", "new-field"]),
    parts=fields,
    index=st.integers(0, 10_000),
    expected=st.sampled_from(["integer", "string (date-time)", "one of created, closed"]),
    spacing=st.sampled_from(["", " ", "  "]),
)
def test_a_fingerprint_keeps_through_rewording_indices_spacing_and_case(
    kind: str, parts: list[str], index: int, expected: str, spacing: str
) -> None:
    field_ = "$." + ".".join(parts) + "[0].x"
    same = fingerprint(kind, "$." + ".".join(parts) + f"[{index}].x", spacing + expected.upper() + spacing)
    assert fingerprint(kind, field_, expected) == same
    assert fingerprint(kind, field_, expected + " or null") != fingerprint(kind, field_, expected)
    assert fingerprint(kind, field_ + "y", expected) != fingerprint(kind, field_, expected)
    assert 16 == len(same)


def _forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, urllib.parse.quote(secret).encode(), base64.b64encode(raw), raw[:12]]


def test_no_secret_reaches_the_store(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A capture whose requests carry a token, and whose bodies echo it: nothing of it is kept, in any form."""
    monkeypatch.setenv("PANIC_API_TOKEN", SENTINEL)
    echoed = Ex(body=callout(customerId=SENTINEL, debugToken=f"Bearer {SENTINEL}"))
    capture = write_har(tmp_path / "c.har", [echoed, Ex(body=DOCUMENTED_CALLOUT, extra={})])
    har = json.loads(capture.read_text())
    for entry in har["log"]["entries"]:
        entry["request"]["headers"][-1]["value"] = f"Bearer {SENTINEL}"
    capture.write_text(json.dumps(har))
    assert 1 == audit(capture, store_url, tmp_path / "d.json", monkeypatch)
    where = location(store_url)
    kept = _everything_kept(where)
    assert "type-changed" in kept  # the findings are there
    for form in _forms(SENTINEL):
        assert form.decode() not in kept, form


def _everything_kept(where: Location) -> str:
    """Every table's rows as text (PostgreSQL); every byte of the database and its journal (SQLite)."""
    path = where.sqlite_path
    if path is not None:
        return "".join(p.read_bytes().decode("latin-1") for p in path.parent.glob(path.name + "*"))
    engine = create_engine(where.url)
    try:
        with engine.connect() as connection:
            return "".join(
                str(list(connection.execute(text(f"SELECT * FROM {table}")))) for table in schema.PANIC_TABLES
            )
    finally:
        engine.dispose()


def test_the_default_store_sits_beside_the_rootdir_with_its_own_gitignore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PANIC_API_NO_HISTORY", "0")
    assert 0 == cli.main(["audit", str(_write(tmp_path / "c.jsonl", CLEAN))])
    assert (tmp_path / ".panic-contract" / "history.sqlite").is_file()
    assert "*" in (tmp_path / ".panic-contract" / ".gitignore").read_text().splitlines()
    capsys.readouterr()
    assert 0 == cli.main(["history"])
    assert capsys.readouterr().out.startswith("1 run(s) in ")


def test_record_check_keeps_its_runs_and_says_what_is_new_and_fixed(
    recorder_api: FakeApi,
    recorder_out: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert 0 == record_into(
        recorder_out
    )  # the fixtures --check compares with (not kept: record writes, it does not gate)
    for name, value in history_env(store_url).items():
        monkeypatch.setenv(name, value)
    recorder_api.callouts[992011]["customerId"] = "abc"  # a finding of the kind the suite would report
    capsys.readouterr()
    assert 1 == record_into(recorder_out, "--check")
    first = capsys.readouterr().out.splitlines()
    assert "history: type-changed $.customerId: new" in first
    assert first[-1].startswith("verdict: drift (exit 1)")  # the verdict stays last
    assert 1 == record_into(recorder_out, "--check")
    assert any(
        line.startswith("history: type-changed $.customerId: persisting")
        for line in capsys.readouterr().out.splitlines()
    )
    recorder_api.callouts[992011]["customerId"] = DOCUMENTED_CALLOUT["customerId"]
    record_into(recorder_out, "--check")
    assert "fixed since the previous run" in capsys.readouterr().out
    with Store(location(store_url)) as kept:
        assert ["record"] * 3 == [run["command"] for run in kept.runs()]
        assert {"staging-panic.aura.services"} == {run["target"] for run in kept.runs()}


@pytest.mark.parametrize(
    ("given", "path", "shown"),
    [
        ("runs/h.sqlite", Path("runs/h.sqlite"), "runs/h.sqlite"),
        ("sqlite:///runs/h.sqlite", Path("runs/h.sqlite"), "runs/h.sqlite"),
        ("sqlite:////tmp/h.sqlite", Path("/tmp/h.sqlite"), "/tmp/h.sqlite"),
        (f"postgresql://ci:{SENTINEL}@db.example:5433/panic", None, "postgresql://ci:***@db.example:5433/panic"),
        (f"postgres://ci:p%40ss{SENTINEL}@db.example/panic", None, "postgresql://ci:***@db.example/panic"),
        ("postgresql+psycopg://ci@db.example/panic", None, "postgresql://ci@db.example/panic"),
    ],
)
def test_a_store_is_a_path_or_a_url_and_its_password_is_never_shown(given: str, path: Path | None, shown: str) -> None:
    where = location(given)
    assert (path, shown) == (where.sqlite_path, where.shown)
    assert SENTINEL not in where.shown
    if path is None:
        assert where.url.startswith("postgresql+psycopg://")
        assert SENTINEL not in redaction.redact(f"connecting to {given}")  # registered: every output masks it


@pytest.mark.parametrize(
    "given",
    ["mysql://root@db/history", "sqlite://", "sqlite:///:memory:", "postgresql:///panic", "postgresql://h:x/db"],
)
def test_a_store_that_is_neither_sqlite_nor_postgresql_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match=r"give a file path \(SQLite\)|Port could not be cast"):
        location(given)
