"""Every output path survives every value: text from the server is escaped where it lands, every writer
takes a lone surrogate, and a report path that is a device, a FIFO or a link is written in place.

The Markdown checks render with markdown-it-py (CommonMark, with GitHub's tables and strikethrough):
what a reader sees must be the text as written, with no element the text itself made.
"""

from __future__ import annotations

import html.parser
import json
import os
import stat
import string
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from starlette.types import Receive, Scope, Send

from panic_contract.commands import cli
from panic_contract.core.findings import Finding, Kind, describe_value, redirect_target
from panic_contract.core.fixtures import load_fixture
from panic_contract.core.ledger import Ledger
from panic_contract.core.reports import append_step_summary, as_markdown, terminal_lines, write_reports
from panic_contract.core.verdict import Decision, Verdict, decide
from panic_contract.mock import MOCK_TOKEN, create_app, known_callout_ids, serve
from panic_contract.outputs import (
    file_bytes,
    markdown_code,
    markdown_code_block,
    markdown_text,
    terminal_line,
    write_atomically,
)
from panic_contract.redaction import MASK
from tests.self.conftest import live_args
from tests.self.faulty_servers import Headers, send_rewritten
from tests.self.test_masking import TOKEN_77, only_secrets
from tests.self.test_verdict_and_reports import RUN

# Text a server may send: markup, line breaks and other controls, bidirectional overrides, lone surrogates.
NASTY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(string.printable + "`*_[]<>|~&#!$\\-+=.()@:")),
        st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u202e", "\u2066", "\ufeff", "\ud800", "\udfff"]),
        st.characters(codec="utf-8"),
    ),
    max_size=60,
)
MANY = settings(max_examples=150, deadline=None)


# --- terminal lines -------------------------------------------------------------------------------------


@MANY
@given(text=NASTY)
def test_a_terminal_line_is_one_printable_line_whatever_the_server_sent(text: str) -> None:
    line = terminal_line(text)
    assert line.isprintable(), repr(line)  # no line break, control, format character or lone surrogate
    line.encode("utf-8")  # no lone surrogate left: any terminal or log file takes it
    assert line == terminal_line(line)  # escaping twice changes nothing: a sink may come after another


def test_plain_text_is_left_as_it_is_on_a_terminal() -> None:
    text = 'GET /panic-api/v2/callouts/992011: $.customerId is string "é ✓", contract says integer'
    assert text == terminal_line(text)


def test_a_key_holding_a_newline_cannot_print_a_verdict_line_of_its_own() -> None:
    field_ = "$.x\nverdict: ok (exit 0)"
    ledger = Ledger()
    ledger.add_findings([Finding(Kind.NEW_FIELD, field_, "no such field", "an undocumented field", "GET /x")])
    lines = terminal_lines(ledger, decide(ledger), RUN)
    assert 1 == sum(line.startswith("verdict:") for line in "\n".join(lines).splitlines())
    assert any("$.x\\nverdict: ok (exit 0)" in line for line in lines)


# --- Markdown -------------------------------------------------------------------------------------------

RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


class Rendered(html.parser.HTMLParser):
    """The elements a rendering holds, and the text in each cell (or paragraph) as a reader sees it."""

    CELLS = frozenset({"td", "th", "p", "li", "code"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.cells: list[str] = []
        self._open: list[int] = []  # the cells being read, innermost last

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)
        if tag in self.CELLS:
            self._open.append(len(self.cells))
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.CELLS and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.cells[self._open[-1]] += data


def rendered(markdown: str) -> Rendered:
    parser = Rendered()
    parser.feed(RENDERER.render(markdown))
    return parser


def shown(text: str) -> str:
    """What a reader should see for `text`: the terminal line, its ends trimmed as Markdown trims them."""
    return terminal_line(text).strip(" ")


@MANY
@given(text=NASTY)
def test_markdown_text_renders_as_written_in_a_table_cell(text: str) -> None:
    page = rendered(f"| a | b |\n|---|---|\n| {markdown_text(text)} | x |\n")
    assert ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"] == page.tags
    assert shown(text) == page.cells[2].strip(" ")
    assert "x" == page.cells[3]


@MANY
@given(text=NASTY)
def test_markdown_text_renders_as_written_as_a_paragraph_or_a_list_item(text: str) -> None:
    paragraph = rendered(f"intro\n\n{markdown_text(text)}\n\nend\n")
    assert shown(text) == "".join(paragraph.cells[1:-1]).strip(" ")
    assert set(paragraph.tags) <= {"p"}, paragraph.tags
    item = rendered(f"- {markdown_text(text)}\n")
    assert set(item.tags) <= {"ul", "li", "p"}, item.tags
    assert shown(text) == "".join(item.cells).strip(" ")


@MANY
@given(text=NASTY)
def test_markdown_code_renders_as_one_code_span_in_a_table_cell(text: str) -> None:
    if not text:
        assert "" == markdown_code(text)
        return
    page = rendered(f"| a |\n|---|\n| {markdown_code(text)} |\n")
    assert ["table", "thead", "tr", "th", "tbody", "tr", "td", "code"] == page.tags
    assert shown(text) == page.cells[-1].strip(" ")


@MANY
@given(text=NASTY)
def test_a_markdown_code_block_holds_the_text_and_nothing_closes_it_early(text: str) -> None:
    page = rendered(f"{markdown_code_block(text)}\n\nafter\n")
    assert ["pre", "code", "p"] == page.tags
    assert terminal_line(text) + "\n" == page.cells[0]


def test_markup_in_a_finding_does_not_render_in_the_report_or_the_job_summary(tmp_path: Path) -> None:
    key, value = "$.<img src=x onerror=alert(1)>**b**", 'string "<script>x</script> | [l](http://e.example) `c`"'
    ledger = Ledger()
    ledger.add_findings([Finding(Kind.NEW_FIELD, key, "no such field", value, "GET /x")])
    markdown = as_markdown(ledger, decide(ledger), RUN)
    page = rendered(markdown)
    assert not {"img", "script", "a", "em"} & set(page.tags), page.tags
    assert 1 == page.tags.count("strong")  # the verdict in the heading, nothing more
    assert terminal_line(key) in page.cells
    assert terminal_line(value) in page.cells
    summary = tmp_path / "summary.md"
    assert append_step_summary(str(summary), markdown) is None
    assert markdown + "\n" == summary.read_text()


# --- files: lone surrogates, devices, FIFOs, links ------------------------------------------------------


def test_a_lone_surrogate_is_written_as_its_escape_and_reads_back_the_same(tmp_path: Path) -> None:
    assert b'"\\ud800 \xc3\xa9"' == file_bytes('"\ud800 é"')
    fixture = {
        "description": "a body holding a lone surrogate",
        "operation": "getCallout",
        "provenance": {"source": "synthetic"},
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/1"},
        "response": {"status": 200, "headers": {}, "body": {"note": "\ud800"}},
    }
    path = tmp_path / "f.json"
    write_atomically(path, json.dumps(fixture, ensure_ascii=False))
    assert {"note": "\ud800"} == load_fixture(path).body


def test_reports_and_the_job_summary_are_written_whatever_a_finding_holds(tmp_path: Path) -> None:
    ledger = Ledger()
    ledger.add_findings([Finding(Kind.TYPE_CHANGED, "$.\ud800", "integer", 'string "\udfff"', "GET /x")])
    decision = decide(ledger)
    report, markdown = tmp_path / "drift.json", tmp_path / "drift.md"
    assert [] == write_reports(ledger, decision, RUN, report, markdown)
    assert "$.\ud800" == json.loads(report.read_text())["findings"][0]["field"]
    assert "\\ud800" in markdown.read_text(encoding="utf-8")
    assert append_step_summary(str(tmp_path / "summary.md"), as_markdown(ledger, decision, RUN)) is None


@pytest.fixture
def char_device(tmp_path: Path) -> Path:
    """A character device to report to: a null device of our own where we may make one (as root), else
    /dev/null itself (where renaming over it fails, so an old writer cannot replace it)."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    try:
        device.write_bytes(b"")
    except OSError:  # a file system mounted nodev: no device of ours can be opened here
        pytest.skip("cannot open a device node in the temporary folder (mounted nodev) as root")
    return device


def test_a_report_to_a_character_device_leaves_it_a_device(char_device: Path) -> None:
    write_atomically(char_device, "report\n")
    assert stat.S_ISCHR(char_device.stat().st_mode)
    assert [] == list(char_device.parent.glob(f".{char_device.name}.*"))  # no temporary file left beside it


def test_a_report_to_a_fifo_is_written_into_it(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_atomically(fifo, "report\n")
    reader.join(10)
    assert [b"report\n"] == received
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_report_to_a_dev_fd_link_goes_to_that_descriptor(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with target.open("wb") as handle:
        write_atomically(Path(f"/dev/fd/{handle.fileno()}"), "report\n")
    assert "report\n" == target.read_text()


def test_a_report_to_a_link_is_written_through_it_and_the_link_kept(tmp_path: Path) -> None:
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old\n")
    link.symlink_to(real)
    write_atomically(link, "new\n")
    assert link.is_symlink()
    assert "new\n" == real.read_text()


def test_a_report_to_a_regular_file_replaces_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "drift.json"
    path.write_text("old\n")
    before = path.stat().st_ino
    write_atomically(path, "new\n")
    assert "new\n" == path.read_text()
    assert before != path.stat().st_ino  # a new file renamed into place, not the old one rewritten


@pytest.mark.e2e
def test_the_suite_reports_to_stdout_and_a_device_and_leaves_the_device_alone(
    char_device: Path, live_mock: Any, run_suite: Any
) -> None:
    """As a CI job runs it: `--drift-report=/dev/stdout --drift-report-md=/dev/null` (a device of our own here).
    A process of its own: /dev/stdout is the process's standard output."""
    base_url = live_mock("null-in-non-nullable")
    reports = ["--drift-report=/dev/stdout", f"--drift-report-md={char_device}"]  # the last of a flag given wins
    run = run_suite(*live_args(base_url), *reports, env={"PANIC_API_TOKEN": MOCK_TOKEN}, subprocess=True)
    assert 1 == run.result.ret, run.output
    assert '"verdict": "drift"' in run.result.stdout.str()
    assert stat.S_ISCHR(char_device.stat().st_mode)
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)


# --- a server sending lone surrogates, newlines in keys, markup: the suite, record and audit ------------


class ExtraFieldServer:
    """The clean mock, with one more field (JSON text, written as is) in every 200 callout."""

    def __init__(self, member: str) -> None:
        self.member = member.encode()
        self.clean = create_app()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.clean(scope, receive, send)
            return
        await send_rewritten(self.clean, scope, receive, send, self.with_member)

    def with_member(self, status: int, headers: Headers, body: bytes) -> tuple[int, Headers, bytes]:
        if status == 200 and body.startswith(b"{"):
            body = b"{" + self.member + b", " + body[1:]
        return status, headers, body


@pytest.fixture
def extra_field_server() -> Iterator[Any]:
    servers: list[Any] = []

    def start(member: str) -> str:
        server = serve(ExtraFieldServer(member))
        servers.append(server)
        return server.__enter__()

    yield start
    for server in reversed(servers):
        server.__exit__(None, None, None)


MEMBERS = {
    "a lone surrogate in a value": '"note": "\\ud800"',
    "a lone surrogate in a key": '"\\udfff": 1',
    "a newline in a key": '"x\\nverdict: ok (exit 0)": 1',
    "markup in a key and a value": '"<img src=x>**b**": "<script>x</script> | `c`"',
}


def test_the_suite_reaches_its_verdict_whatever_a_body_holds(
    extra_field_server: Any, run_suite: Any, tmp_path: Path
) -> None:
    """Extra fields are additive: the verdict is ok, exit 0, every report written, one verdict line.

    All of MEMBERS in one body, one run.
    """
    summary = tmp_path / "summary.md"
    base_url = extra_field_server(", ".join(MEMBERS.values()))
    run = run_suite(
        *live_args(base_url),
        env={"PANIC_API_TOKEN": MOCK_TOKEN, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"},
    )
    assert 0 == run.result.ret, run.output
    assert "ok" == run.report["verdict"]
    assert {"new-field"} == {f["kind"] for f in run.report["findings"]}
    assert 4 == len(run.report["findings"])
    assert 1 == sum(line.startswith("verdict:") for line in run.result.outlines)
    for markdown in (run.markdown, summary.read_text(encoding="utf-8")):
        assert markdown.startswith("## API drift: **ok** (exit 0)")
        tags = rendered(markdown).tags
        assert not {"img", "script", "a", "em"} & set(tags), tags
        assert 1 == tags.count("strong")  # the verdict in the heading, nothing more
    assert "<testsuite" in run.junit


@pytest.mark.parametrize("member", MEMBERS.values(), ids=MEMBERS.keys())
def test_record_and_audit_reach_their_verdict_whatever_a_body_holds(
    member: str, extra_field_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("PANIC_API_TOKEN", MOCK_TOKEN)
    base_url, callout_id = extra_field_server(member), str(known_callout_ids()[0])
    out = tmp_path / "contracts"
    assert 0 == cli.main(
        ["record", "--base-url", base_url, "--ids", callout_id, "--out", str(out), "--rate-limit", "0",
         "--allow-drift=new-field"]  # the member is an undocumented field: a fixture of it is written when named
    )  # fmt: skip
    recorded = load_fixture(out / f"recorded-callout-{callout_id}.json")
    assert json.loads("{" + member + "}").items() <= recorded.body.items()  # kept as sent, surrogates and all
    printed = capsys.readouterr().out
    assert "recorded 3 fixture(s)" in printed
    # the same exchange as a browser saves it (a HAR: the body as text, \ud800 written as its escape)
    entry = {
        "request": {
            "method": "GET",
            "url": f"https://api.example{recorded.data['request']['path']}",
            "headers": [{"name": "Authorization", "value": f"Bearer {MOCK_TOKEN}"}],
        },
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"mimeType": "application/json", "text": json.dumps(recorded.body)},
        },
    }
    capture = tmp_path / "capture.har"
    capture.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry]}}))
    reports = [f"--drift-report={tmp_path / 'a.json'}", f"--drift-report-md={tmp_path / 'a.md'}"]
    code = cli.main(["audit", str(capture), "--server=https://api.example", *reports])  # not a documented host
    printed = capsys.readouterr().out
    assert 0 == code, printed
    assert 1 == sum(line.startswith("verdict: ok (exit 0)") for line in printed.splitlines())
    assert ["new-field"] == [f["kind"] for f in json.loads((tmp_path / "a.json").read_text())["findings"]]


# --- the judge's own strings: masked before they are cut; a redirect without its credentials -------------


def test_describe_value_masks_a_secret_before_it_cuts_the_value() -> None:
    with only_secrets(TOKEN_77):
        shown_value = describe_value(TOKEN_77 + " and more")
    assert f'string "{MASK} and more"' == shown_value


def test_describe_value_still_cuts_a_long_value() -> None:
    assert f'string "{"x" * 56}...' == describe_value("x" * 100)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://svc:p4ss@login.example:8443/oauth?access_token=abc&sig=def#frag", "https://login.example:8443/oauth"),
        ("/login?access_token=abc", "/login"),
        ("?sig=abc", "the same path (a Location with only a query or fragment)"),
        ("", "nowhere (no Location)"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://host:port/x", "a Location that is not a URL"),
    ],
)
def test_a_redirect_shows_where_it_leads_never_its_credentials(location: str, shown: str) -> None:
    assert shown == redirect_target(location)


def test_a_secret_in_a_redirect_path_is_masked_before_the_path_is_cut() -> None:
    with only_secrets(TOKEN_77):
        where = redirect_target(f"https://login.example/{'a' * 70}/{TOKEN_77}")
    assert TOKEN_77[:12] not in where
    assert len(where) <= 80


def test_no_decision_reason_can_fake_a_line_on_stderr(capsys: Any) -> None:
    from panic_contract.core.verdict import command_stopped

    assert 12 == command_stopped("prog", Decision(Verdict.INCONCLUSIVE, "x\nverdict: ok (exit 0): fine"))
    assert 1 == len(capsys.readouterr().err.splitlines())
