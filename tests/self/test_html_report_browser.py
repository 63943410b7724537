"""The HTML report as a browser shows it: headless Chromium (the system's, never a downloaded one) renders the
page, and the tests read the rendered DOM: the verdict, a row per finding, a mark per stored run, the filters.

Where Chromium is missing these tests skip, saying so; where `CI` is set they fail instead (`.ci/run` installs
Debian's `chromium`). The screenshot of a drifted run with history lands in `$PANIC_ARTIFACTS_DIR` (else the
test's temporary folder); README.md shows one (docs/report.png).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from panic_contract.core import html_report
from tests.self import html_pages
from tests.self.test_html_report import with_text

pytestmark = pytest.mark.e2e  # each test drives a browser: processes of their own

CHROMIUM = Path(os.environ.get("PANIC_CHROMIUM", "/usr/bin/chromium"))
DRIFT_RED = "rgb(179, 38, 30)"  # --drift in report.css


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set PANIC_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must render the HTML report in a real browser (.ci/run installs it)")
        pytest.skip(f"{reason}; CI installs it and runs these tests")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


class Opened:
    """A page loaded from its file, with every request it made and every dialog it opened."""

    def __init__(self, browser: Browser, path: Path, *, scripts: bool = True) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=scripts)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)

    def visible_rows(self) -> int:
        return int(self.page.locator("tr.finding:visible").count())


@pytest.fixture
def open_page(browser: Browser, tmp_path: Path) -> Iterator[Any]:
    opened: list[Opened] = []

    def open_(html: str, name: str = "drift.html", *, scripts: bool = True) -> Opened:
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        opened.append(Opened(browser, path, scripts=scripts))
        return opened[-1]

    yield open_
    for each in opened:
        each.context.close()


def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PANIC_ARTIFACTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# The runs each finding's timeline draws as seen: for each run, whether the seen line's stroke covers the
# middle of that run's unit (the browser's own geometry, dashes included).
SEEN_MARKS = """
rows => rows.map(row => {
  const svg = row.querySelector("svg.tl");
  if (!svg) { return null; }
  const runs = svg.viewBox.baseVal.width, seen = svg.querySelector("path.tl-y"), marks = [];
  for (let i = 0; i < runs; i++) { marks.push(!!seen && seen.isPointInStroke(new DOMPoint(i + 0.35, 0.5))); }
  return {kind: row.parentNode.dataset.kind, field: row.cells[0].querySelector("code").textContent, marks: marks};
})
"""


def test_a_drifted_run_with_history_shows_its_verdict_each_finding_and_each_run(open_page: Any, tmp_path: Path) -> None:
    report, runs, seen = html_pages.drifted_with_history(runs=30)
    opened = open_page(html_report.render(report, runs))
    page = opened.page
    word = page.locator("#verdict .verdict-word")
    assert "drift" == word.inner_text()
    assert DRIFT_RED == word.evaluate("node => getComputedStyle(node).color")
    assert "(exit 1)" == page.locator("#verdict .exit").inner_text()
    assert len(report["findings"]) == opened.visible_rows() == 4
    assert 30 == page.locator("svg.runs rect.run").count()
    titles = page.locator("svg.runs rect.run title").all_text_contents()  # each run's time and verdict
    assert [run["verdict"] for run in runs] == [title.rpartition(": ")[2] for title in titles]
    assert "outage" in [run["verdict"] for run in runs]
    drawn = page.locator("tr.finding").evaluate_all(SEEN_MARKS)
    assert {f"{row['kind']}:{row['field']}": row["marks"] for row in drawn} == seen
    page.screenshot(path=str(artifacts(tmp_path) / "report.png"), full_page=True)
    assert [opened.url] == opened.requests  # the page itself, nothing else
    assert [] == opened.errors  # no script error, no style or script refused by the page's policy


def test_a_hundred_stored_runs_give_each_finding_a_hundred_marks(open_page: Any) -> None:
    report, runs, seen = html_pages.large(40, 100)
    opened = open_page(html_report.render(report, runs))
    assert 100 == opened.page.locator("svg.runs rect.run").count()
    drawn = opened.page.locator("tr.finding").evaluate_all(SEEN_MARKS)
    by_field = {row["field"]: row["marks"] for row in drawn}
    assert 40 == len(by_field)
    assert {item["field"]: seen[item["fingerprint"]] for item in report["findings"]} == by_field


def test_the_filters_and_the_sorting_work(open_page: Any) -> None:
    report, runs, _ = html_pages.drifted_with_history(runs=10)
    opened = open_page(html_report.render(report, runs))
    page, shown = opened.page, opened.page.locator("#shown")
    assert "4 of 4 findings shown" == shown.inner_text()
    page.locator("input[name=severity][value=additive]").uncheck()
    assert 3 == opened.visible_rows()
    assert "3 of 4 findings shown" == shown.inner_text()
    assert page.locator("tbody[data-severity=additive]").is_hidden()
    page.locator("input[name=flapping]").check()
    assert ["$.status"] == page.locator("tr.finding:visible td:first-child code").all_inner_texts()
    page.locator("input[name=flapping]").uncheck()
    page.locator("input[name=status][value=new]").uncheck()
    assert "$.id" not in page.locator("tr.finding:visible td:first-child code").all_inner_texts()
    page.locator("input[name=status][value=new]").check()
    page.locator("input[name=severity][value=additive]").check()
    page.locator("select[name=kind]").select_option("new-field")
    assert ["$.responderEta"] == page.locator("tr.finding:visible td:first-child code").all_inner_texts()
    page.locator("select[name=kind]").select_option("")
    page.locator("input[name=text]").fill("992013")  # the first request of one finding, in its reproducer too
    assert ["$.status"] == page.locator("tr.finding:visible td:first-child code").all_inner_texts()
    page.locator("input[name=text]").fill("")
    assert 4 == opened.visible_rows()
    # Sorting by count orders the rows within each group and keeps each finding's details under it.
    many, _, _ = html_pages.large(12, 5)
    sorted_page = open_page(html_report.render(many, []), "many.html").page
    sorted_page.locator("thead th", has_text="count").click()
    counts = sorted_page.locator("tbody[data-kind=missing-field] tr.finding td:nth-child(4)").all_inner_texts()
    assert sorted(counts, key=int, reverse=True) == counts
    assert "tr.more" == sorted_page.locator("tr.finding + tr").first.evaluate("r => 'tr.' + r.className")


def test_with_scripts_off_every_finding_is_shown_and_no_dead_control(open_page: Any) -> None:
    report, runs, _ = html_pages.drifted_with_history(runs=10)
    opened = open_page(html_report.render(report, runs), scripts=False)
    assert 4 == opened.visible_rows()
    assert opened.page.locator("#filters").is_hidden()
    assert 10 == opened.page.locator("svg.runs rect.run").count()
    assert opened.page.locator("pre.curl").first.is_visible()


@pytest.mark.parametrize(
    "payload",
    [
        "<script>window.pwned = 1; alert(1)</script>",
        "</style><script>window.pwned = 2</script><style>",
        "</script><img src=x onerror='window.pwned = 3; alert(3)'>",
        '"><svg onload="window.pwned = 4">',
    ],
)
def test_server_text_renders_as_text_in_the_browser(payload: str, open_page: Any) -> None:
    report, runs, _ = html_pages.drifted_with_history(runs=6)
    opened = open_page(html_report.render(with_text(report, payload), runs))
    page = opened.page
    assert None is page.evaluate("() => window.pwned ?? null")
    assert [] == opened.dialogs
    assert 1 == page.evaluate("() => document.scripts.length")
    assert 0 == page.locator("main img, main script, main style, tr.finding svg:not(.tl)").count()
    assert payload == page.locator("tr.finding td:first-child code").first.inner_text()
    assert DRIFT_RED == page.locator("#verdict .verdict-word").evaluate("node => getComputedStyle(node).color")
    assert [opened.url] == opened.requests
