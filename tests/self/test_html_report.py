"""The HTML report: written by the suite and the audit, self-contained, every server text escaped, no secret, small.

The page as a browser shows it is tested in `test_html_report_browser.py`; here it is read as HTML is parsed
(`html.parser`), in this process.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract import redaction
from panic_contract.commands import cli
from panic_contract.core import html_report
from panic_contract.core.findings import Kind
from panic_contract.shipped import PACKAGE_DIR
from tests.self import html_pages
from tests.self.conftest import SENTINEL_TOKEN
from tests.self.test_audit import CLEAN, DRIFTS, write_jsonl


class Page(HTMLParser):
    """A page as a parser reads it: its elements (tag, attribute names), their text, and each script and style."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.structure: list[tuple[str, tuple[str, ...]]] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.structure.append((tag, tuple(name for name, _ in attrs)))
        self.attributes += [(tag, name, value) for name, value in attrs]
        self._in = tag if tag in self.raw else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in].append(data)
        else:
            self.text.append(data)

    def rows(self, name: str) -> list[str]:
        """The rows of class `name`, one each."""
        return [name for tag, attr, value in self.attributes if (tag, attr, value) == ("tr", "class", name)]

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def test_the_audit_writes_the_page_of_its_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = write_jsonl(tmp_path / "c.jsonl", [CLEAN, DRIFTS[Kind.MISSING_FIELD][0], DRIFTS[Kind.NEW_FIELD][0]])
    page, report = tmp_path / "drift.html", tmp_path / "drift.json"
    code = cli.main(["audit", str(capture), f"--drift-report={report}", f"--drift-report-html={page}"])
    capsys.readouterr()
    assert 1 == code
    parsed, findings = Page(page.read_text()), json.loads(report.read_text())["findings"]
    assert 2 == len(findings) == len(parsed.rows("finding"))
    assert "API drift report: drift (exit 1)" in re.sub(r"\s+", " ", parsed.all_text)
    assert {"$.calloutClassificationId", "$.responderEta"} <= set(parsed.text)


def test_the_variable_names_the_page_as_the_flag_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "from-env.html"
    monkeypatch.setenv("PANIC_API_DRIFT_REPORT_HTML", str(page))
    assert 0 == cli.main(["audit", str(write_jsonl(tmp_path / "c.jsonl", [CLEAN]))])
    capsys.readouterr()
    assert "API drift report: ok (exit 0)" in re.sub(r"\s+", " ", Page(page.read_text()).all_text)


def test_the_suite_writes_the_page_with_the_other_reports(run_suite: Any, pytester: pytest.Pytester) -> None:
    page = pytester.path / "drift.html"
    run = run_suite("--mock-drift=missing-field", f"--drift-report-html={page}")
    assert 1 == run.result.ret
    parsed = Page(page.read_text())
    assert len(run.report["findings"]) == len(parsed.rows("finding")) >= 1
    assert "missing-field" in parsed.text


@pytest.mark.parametrize("drifted", [True, False], ids=["drift", "ok"])
def test_a_page_that_cannot_be_written_is_one_line_and_exit_4_on_a_clean_run(
    drifted: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = write_jsonl(tmp_path / "c.jsonl", [CLEAN, *([DRIFTS[Kind.MISSING_FIELD][0]] if drifted else [])])
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    code = cli.main(["audit", str(capture), f"--drift-report-html={blocker}/page.html"])
    out, err = capsys.readouterr()
    assert (1 if drifted else 4) == code
    assert [
        f"panic-contract audit: cannot write the HTML report to {blocker}/page.html: Not a directory "
        "(pick a writable path)"
    ] == err.splitlines()
    assert out.splitlines()[-1].startswith("verdict: drift (exit 1)" if drifted else "verdict: ok (exit 0)")


@pytest.mark.e2e
def test_dev_stdout_is_written_in_place(tmp_path: Path) -> None:
    """As a CI job may ask: the page on standard output (a pipe here), written through the link."""
    capture = write_jsonl(tmp_path / "c.jsonl", [CLEAN])
    command = [sys.executable, "-m", "panic_contract.commands.cli", "audit", str(capture)]
    done = subprocess.run(
        [*command, "--drift-report-html=/dev/stdout"], check=False, capture_output=True, text=True, timeout=120
    )
    assert 0 == done.returncode, done.stderr
    assert 1 == done.stdout.count("<!DOCTYPE html>") == done.stdout.count("</html>\n")
    assert done.stdout.splitlines()[-1].startswith("verdict: ok (exit 0)")


def test_the_page_loads_nothing_and_runs_only_its_own_script() -> None:
    report, runs, _ = html_pages.drifted_with_history()
    text = html_report.render(report, runs)
    page = Page(text)
    assert not {tag for tag, _ in page.structure} & {"link", "img", "iframe", "object", "embed", "base", "form-action"}
    urls = [(tag, name, value) for tag, name, value in page.attributes if name in {"src", "href", "action", "srcset"}]
    assert [] == urls
    assert "url(http" not in text
    assert "@import" not in text
    (csp,) = [value for tag, name, value in page.attributes if tag == "meta" and name == "content" and "src" in value]
    assert csp.startswith("default-src 'none'; ")
    (script,), (style,) = page.raw["script"], page.raw["style"]
    for kind, body in (("script", script), ("style", style)):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{kind}-src 'sha256-{digest}'" in csp


def test_the_page_names_no_folder_of_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another folder, next steps name the shipped spec by its whole path; the page does not."""
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "drift.html"
    capture = write_jsonl(tmp_path / "c.jsonl", [CLEAN, DRIFTS[Kind.UNKNOWN_STATUS][0], DRIFTS[Kind.NEW_FIELD][0]])
    cli.main(["audit", str(capture), f"--drift-report-html={page}", f"--drift-report={tmp_path / 'd.json'}"])
    capsys.readouterr()
    assert str(PACKAGE_DIR.parent) in (tmp_path / "d.json").read_text()  # what the page must not say
    text = page.read_text()
    assert str(PACKAGE_DIR.parent) not in text
    assert "spec/panic-api.openapi.yaml" in text


def test_what_other_reports_add_is_shown_when_it_is_there() -> None:
    """A store's `fixed` and `history`, the coverage and the diagnoses: shown as they come, whatever their shape."""
    report, runs, _ = html_pages.drifted_with_history()
    report["fixed"] = [{"kind": "format-violated", "field": "$.createdAt", "actual": "x", "first_seen": "2026-11-01"}]
    report["coverage"] = {"response codes": {"200": 58, "404": 2}, "status values": ["Created", "Cancelled"]}
    report["diagnoses"] = [{"pattern": "renamed", "summary": "a field was renamed", "fields": ["$.a", "$.b"]}]
    text = Page(html_report.render(report, runs)).all_text
    for shown in ("Fixed since the last run", "$.createdAt", "response codes", "404", "Cancelled", "renamed", "$.b"):
        assert shown in text
    assert "30 stored run(s) in .panic-contract/history" in text


def test_the_history_page_shows_every_run_and_every_finding() -> None:
    report, runs, _ = html_pages.drifted_with_history(runs=12)
    page = Page(html_report.render_history(runs, report["findings"], store=".panic-contract/history"))
    assert len(report["findings"]) == len(page.rows("finding"))
    assert 12 == sum(1 for tag, name, value in page.attributes if tag == "rect" and name == "class" and "run" in value)
    assert "API drift history" in page.all_text


def test_the_timeline_dashes_are_the_runs() -> None:
    """Dash and gap lengths from a seen run, as many as there are runs; an even list, so the pattern never
    restarts with its roles swapped."""
    finding = {"fingerprint": "f"}

    def dashes(*marks: bool) -> str | None:
        runs = [frozenset({"f"} if mark else ()) for mark in marks]
        return (html_report._timeline(finding, runs) or {})["dasharray"]

    assert "2 1 1 0" == dashes(True, True, False, True)
    assert "0 2 2 0" == dashes(False, False, True, True)
    assert "3 0" == dashes(True, True, True)
    assert None is dashes(False, False, False)
    assert None is html_report._timeline({}, [frozenset({"f"})])  # no fingerprint: no timeline


# --- Escaping: no text from a server becomes an element or an attribute ------------------------------------

PAYLOADS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "</style><script>alert(1)</script>",
        "</script><img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "' onmouseover='alert(1)",
        "<!-- -->]]><![CDATA[",
        "&lt;b&gt;&amp;",
        "{{ 7*7 }}{% raw %}",
        "\u202egnp.exe\n\r\x1b[31m",
    ]
)
# Not empty: an empty value leaves out what it would fill (a step, a command), as it should.
SERVER_TEXT = st.one_of(
    PAYLOADS, st.text(min_size=1, max_size=40), st.builds("".join, st.lists(PAYLOADS | st.text(max_size=5), min_size=1))
).filter(bool)


def with_text(report: dict[str, Any], text: str) -> dict[str, Any]:
    """`report` with `text` in every place a server's text can reach: fields, values, requests, status values,
    the reason, next steps, accepted-drift entries, coverage and diagnoses."""
    findings = [
        item
        | {
            "field": text,
            "expected": text,
            "actual": text,
            "actual_values": [text, text],
            "request": f"GET {text}",
            "reproducer": f"curl '{text}'",
            "next_step": {"step": text, "commands": [text]},
            "first_seen": text,
        }
        for item in report["findings"]
    ]
    accepted = [findings[0] | {"accepted_by": text, "acceptance": "accepted"}]
    return report | {
        "reason": text,
        "base_url": text,
        "findings": findings,
        "accepted": accepted,
        "stale_acceptances": [text],
        "expiring_soon": [{"entry": text, "expires": text, "expires_in_days": 3, "in_use": False}],
        "next_steps": [{"for": text, "step": text, "commands": [text]}],
        "signals": {text: 1},
        "coverage": {text: [text, {text: text}]},
        "diagnoses": [{"pattern": text, "summary": text, "fields": [text], "fingerprints": [text]}],
        "history": {"store": text, "runs": 30, "previous_run": text},
    }


@functools.cache
def _plain_page() -> tuple[dict[str, Any], list[Any], Page]:
    """The report, its runs and the page with a plain word everywhere: the same for every example."""
    report, runs, _ = html_pages.drifted_with_history(runs=6)
    return report, runs, Page(html_report.render(with_text(report, "word"), runs))


@settings(max_examples=60, deadline=None)
@given(SERVER_TEXT)
def test_server_text_appears_only_as_text(text: str) -> None:
    """The page with `text` everywhere has the elements and attributes of the page with a plain word there."""
    report, runs, plain = _plain_page()
    page = Page(html_report.render(with_text(report, text), runs))
    assert plain.structure == page.structure
    assert plain.raw == page.raw  # no script or style of its own, and nothing added to ours


def test_a_payload_is_shown_as_written() -> None:
    report, runs, _ = html_pages.drifted_with_history(runs=6)
    page = Page(html_report.render(with_text(report, "</style><script>alert(1)</script>"), runs))
    assert "</style><script>alert(1)</script>" in page.text


# --- No secret, in any form the page could show it ---------------------------------------------------------


@pytest.mark.parametrize("secret", [SENTINEL_TOKEN, "s3cr&t<tok>\"en'9f"], ids=["sentinel", "markup-characters"])
def test_no_secret_reaches_the_page(secret: str) -> None:
    """Masked before it is escaped: `&` as `&amp;` would hide a secret from a mask applied to the page only."""
    redaction.register(secret)
    report, runs, _ = html_pages.drifted_with_history(runs=6)
    text = html_report.render(with_text(report, f"echoed {secret} back"), runs)
    page = Page(text)
    assert secret not in text
    assert secret not in page.all_text  # nor once the escapes are read back
    assert any(text.startswith("echoed ***") and text.endswith(" back") for text in page.text)


# --- Size --------------------------------------------------------------------------------------------------


def test_a_thousand_findings_over_a_hundred_runs_is_under_one_megabyte() -> None:
    """Each finding seen with gaps everywhere: the longest timelines there are. (bench/run.py prints the size.)"""
    report, runs, _ = html_pages.large(1000, 100)
    page = html_report.render(report, runs).encode()
    assert len(page) < 1_000_000
    assert 1000 == len(Page(page.decode()).rows("finding"))


def test_the_suite_s_page_draws_the_runs_its_history_keeps(
    run_suite: Any, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a history store, the page's timeline is the line's runs as the store recalls them, this one last:
    three runs (clean, drifted, drifted) draw three run marks, and the drift is seen in the last two."""
    monkeypatch.setenv("PANIC_API_NO_HISTORY", "0")
    monkeypatch.setenv("PANIC_API_HISTORY", str(pytester.path / "history.sqlite"))
    page = pytester.path / "drift.html"
    for drift in ([], ["--mock-drift=missing-field"], ["--mock-drift=missing-field"]):
        run = run_suite(*drift, f"--drift-report-html={page}")
    assert 1 == run.result.ret
    parsed = Page(page.read_text())
    marks = [value for tag, name, value in parsed.attributes if tag == "rect" and name == "class" and "run" in value]
    assert 3 == len(marks), marks
    assert "persisting" in parsed.text
