"""The sentinel token, echoed by a server in any encoding and any place, leaves no 12-character run anywhere.

A loopback server (`EchoServer`, below) answers as the clean mock does, except that it works the
request's token into its callouts as a hypothesis example says: in an encoding a server can produce
(JSON escapes mixed with plain characters, every character as \\uXXXX, URL-encoding, base64 of the
token or of "Bearer <token>"), cut at a drawn point, in a drawn place (a drifted field's value, a new
field's value or name, a Location, the Content-Type, another header). The suite (in process), `record`
and `audit` (of a HAR file holding the same exchange) run against it, and every output they make is
scanned: the terminal text, the JSON and Markdown reports, the JUnit XML, the fixtures, as they are
and after JSON- and URL-decoding and base64-decoding (`test_masking.leaked`). Each example also checks
that the echo reached the findings, masked, so a server that echoed nothing could not pass.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from panic_contract.commands import cli
from panic_contract.core.findings import Kind
from panic_contract.mock import create_app, known_callout_ids, serve
from panic_contract.redaction import FRAGMENT, MASK
from tests.self.faulty_servers import send_rewritten
from tests.self.test_masking import TOKEN_77, leaked, only_secrets

SENTINEL = TOKEN_77  # 77 characters, with / and + (written \/ by PHP, \u002B by .NET)
IDS = [str(i) for i in known_callout_ids()[:2]]
PLACES = ("value", "new-field", "key", "location", "content-type", "header")
ENCODINGS = ("plain", "json-mix", "json-all", "url", "base64")


@dataclass
class Echo:
    """What the server does with the token: which piece, written how, and where."""

    piece: str
    encoding: str
    place: str
    text: str  # the piece as written

    @property
    def reaches_findings(self) -> bool:
        """The place is one a finding shows, and the piece is long enough that masking must leave a mark."""
        return self.place != "header" and (self.encoding != "base64" or len(self.piece) >= 2 * FRAGMENT)


@st.composite
def echoes(draw: st.DrawFn) -> Echo:
    start = draw(st.integers(0, len(SENTINEL) - FRAGMENT))
    end = draw(st.one_of(st.just(len(SENTINEL)), st.integers(start + FRAGMENT, len(SENTINEL))))
    piece = SENTINEL[start:end]
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding == "json-mix":
        ways = [lambda c: c, lambda c: f"\\u{ord(c):04x}", lambda c: f"\\u{ord(c):04X}"]
        text = "".join(("\\/" if c == "/" and draw(st.booleans()) else draw(st.sampled_from(ways))(c)) for c in piece)
    elif encoding == "json-all":
        text = "".join(f"\\u{ord(c):04X}" for c in piece)
    elif encoding == "url":
        text = urllib.parse.quote(piece, safe="")
    elif encoding == "base64":
        raw = (draw(st.sampled_from(["", "Bearer ", "user:", "x"])) + piece).encode()
        text = base64.b64encode(raw).decode()
        text = text.translate(str.maketrans("+/", "-_")) if draw(st.booleans()) else text
    else:
        text = piece
    return Echo(piece, encoding, draw(st.sampled_from(PLACES)), text)


def echoed(echo: Echo, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, Any, bytes]:
    """The response the echo server sends instead of the clean mock's (a 200 callout is changed)."""
    if echo.place == "header":
        return status, [*headers, (b"x-echo", echo.text.encode())], body
    if status != 200 or b'"customerId"' not in body:
        return status, headers, body
    text = body.decode()
    if echo.place == "location":
        location = f"https://other.example/{echo.text}?access_token={echo.text}"
        return 302, [*headers, (b"location", location.encode())], b""
    if echo.place == "content-type":
        kept = [(name, value) for name, value in headers if name.lower() != b"content-type"]
        return status, [*kept, (b"content-type", f"application/x.{echo.text}".encode())], body
    field = {"value": '"customerId": "{}", "was": ', "new-field": '"echo": "{}", "customerId": '}.get(
        echo.place, '"{}": 1, "customerId": '
    )
    return status, headers, text.replace('"customerId": ', field.format(echo.text), 1).encode()


class EchoServer:
    """The clean mock on loopback, changing its responses as `echo` says (set per example)."""

    def __init__(self) -> None:
        self.echo: Echo | None = None
        self.clean = create_app(token=SENTINEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.echo is None:
            await self.clean(scope, receive, send)
            return
        await send_rewritten(self.clean, scope, receive, send, functools.partial(echoed, self.echo))


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[EchoServer, str]]:
    server = EchoServer()
    with serve(server) as base_url:
        yield server, base_url


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def assert_nothing_leaked(outputs: dict[str, str], echo: Echo) -> None:
    for name, text in outputs.items():
        assert leaked(text, SENTINEL) < FRAGMENT, f"{name} holds {FRAGMENT}+ characters of the token; {echo}"


def assert_masked_in_findings(report: dict[str, Any], echo: Echo) -> None:
    """The echo reached a finding and shows there masked: the check above scanned something real."""
    if echo.reaches_findings:
        shown = [f"{f['field']} {f['actual']}" for f in report.get("findings", [])]
        assert any(MASK in line for line in shown), f"no finding shows the masked echo: {shown}; {echo}"


# Few examples: each one is a whole run. No shrinking: a failing example is reported as drawn (its `echo`).
FEW = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# An example that runs the suite in this process defines the suite's property test inside a running one:
# hypothesis's nested-@given health check, which reads the profile loaded then (the inner run's), would stop
# it. The suite's `live` profile with that one check off; the inner test runs 5 cases, nothing quadratic.
LIVE = settings.get_profile("live")
settings.register_profile(
    "live-inside-given", parent=LIVE, suppress_health_check=[*LIVE.suppress_health_check, HealthCheck.nested_given]
)


@FEW
@given(echo=echoes())
def test_the_suite_leaks_no_run_of_the_token(
    echo: Echo, echo_server: tuple[EchoServer, str], run_suite: Any, pytester: pytest.Pytester
) -> None:
    """Each example a whole run of the suite, in this process (a run keeps its state in its own config)."""
    server, base_url = echo_server
    server.echo = echo
    ids = ",".join(IDS)
    run = run_suite(
        *("--base-url", base_url, "--callout-ids", ids, "--rate-limit", "0", "--hypothesis-profile=live-inside-given"),
        env={"PANIC_API_TOKEN": SENTINEL},
    )
    assert run.result.ret in {0, 1}, run.output  # a verdict, not a crash
    assert "INTERNALERROR" not in run.output
    outputs = {"terminal": run.output, "drift.json": (pytester.path / "drift.json").read_text(encoding="utf-8")}
    assert_nothing_leaked({**outputs, "drift.md": run.markdown, "junit.xml": run.junit}, echo)
    assert_masked_in_findings(run.report, echo)


@pytest.fixture(scope="module")
def earlier_recording(echo_server: tuple[EchoServer, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fixtures recorded from the server before it echoes anything: each example records over a copy."""
    server, base_url = echo_server
    server.echo = None
    folder = tmp_path_factory.mktemp("earlier")
    with only_secrets(), environment(PANIC_API_TOKEN=SENTINEL), contextlib.redirect_stdout(io.StringIO()):
        assert 0 == cli.main(
            ["record", "--base-url", base_url, "--ids", IDS[0], "--out", str(folder), "--rate-limit", "0"]
        )
    return folder


ALL_KINDS = "--allow-drift=" + ",".join(Kind)


@settings(FEW, max_examples=25)
@given(echo=echoes())
def test_record_leaks_no_run_of_the_token(
    echo: Echo, echo_server: tuple[EchoServer, str], earlier_recording: Path
) -> None:
    """Twice: as asked (what it refuses to write is listed, the echo in it), and with every kind allowed (written)."""
    server, base_url = echo_server
    server.echo = echo
    outputs: dict[str, str] = {}
    codes = []
    for run, allowed in (("refused", []), ("allowed", [ALL_KINDS])):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "contracts"
            shutil.copytree(earlier_recording, folder)
            stdout, stderr = io.StringIO(), io.StringIO()
            with (
                only_secrets(),
                environment(PANIC_API_TOKEN=SENTINEL),
                contextlib.redirect_stdout(stdout),
                contextlib.redirect_stderr(stderr),
            ):
                argv = ["record", f"--base-url={base_url}", "--ids", IDS[0], f"--out={folder}", "--update"]
                codes.append(cli.main([*argv, "--rate-limit=0", *allowed]))
            outputs |= {f"{run} stdout": stdout.getvalue(), f"{run} stderr": stderr.getvalue()}
            outputs |= {f"{run} {path.name}": path.read_text(encoding="utf-8") for path in folder.iterdir()}
    # A 302 is never written; an echo in a header makes no finding; anywhere else it is one, written when allowed.
    expected = {"location": [1, 1], "header": [0, 0]}.get(echo.place, [1, 0])
    assert expected == codes, outputs
    assert_nothing_leaked(outputs, echo)
    assert "shape diff" in outputs["allowed stdout"]  # the diff lines, with the echo's paths and values, were printed
    # The refusal lists the echoed finding, or says where the redirect led: the echo was in it, masked. (Not for
    # an echo in customerId's value, which scrubbing has already replaced with a pseudonym.)
    if expected[0] and echo.reaches_findings and echo.place != "value":
        assert MASK in outputs["refused stdout"] + outputs["refused stderr"], outputs["refused stdout"]


def har_of(echo: Echo) -> dict[str, Any]:
    """One exchange as a browser would save it: the token in the request, the echo in the response."""
    callout = {"id": int(IDS[0]), "customerId": 178921, "predefinedLocationId": None, "status": "created"}
    callout |= {"latitude": None, "longitude": None, "responseTypeId": 2, "calloutClassificationId": 3}
    callout |= {"createdAt": "2024-04-20T14:45:00Z"}
    headers = [(b"content-type", b"application/json")]
    status, headers, body = echoed(echo, 200, headers, json.dumps(callout).encode())
    return {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "request": {
                        "method": "GET",
                        "url": f"https://api.example/panic-api/v2/callouts/{IDS[0]}",
                        "headers": [{"name": "Authorization", "value": f"Bearer {SENTINEL}"}],
                    },
                    "response": {
                        "status": status,
                        "headers": [{"name": n.decode(), "value": v.decode()} for n, v in headers],
                        "content": {"mimeType": "application/json", "text": body.decode()},
                    },
                }
            ],
        }
    }


@settings(FEW, max_examples=50)
@given(echo=echoes())
def test_audit_leaks_no_run_of_the_token(echo: Echo) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        capture = folder / "capture.har"
        capture.write_text(json.dumps(har_of(echo)), encoding="utf-8")
        report, markdown, sarif = folder / "drift.json", folder / "drift.md", folder / "drift.sarif"
        stdout, stderr = io.StringIO(), io.StringIO()
        with only_secrets(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            reports = [f"--drift-report={report}", f"--drift-report-md={markdown}", f"--drift-report-sarif={sarif}"]
            reports.append("--coverage")  # field names and status values as the server sent them, in every report
            cli.main(["audit", str(capture), "--jobs", "1", "--server=https://api.example", *reports])  # undocumented
        outputs = {"stdout": stdout.getvalue(), "stderr": stderr.getvalue()}
        outputs |= {"drift.json": report.read_text(encoding="utf-8"), "drift.md": markdown.read_text(encoding="utf-8")}
        outputs |= {"drift.sarif": sarif.read_text(encoding="utf-8")}
    assert_nothing_leaked(outputs, echo)
    assert_masked_in_findings(json.loads(outputs["drift.json"]), echo)
