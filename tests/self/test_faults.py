"""Every fault a target can show, seen from both sides as a user sees them: the verdict and its one line.

Each fault of `faulty_servers` is run through the suite in one process, the suite under `-n 2`, and
`panic-contract record`, each as a subprocess. The three must agree: one verdict, one exit code, one
reason line (the suite's JSON `reason`, repeated by `record`). The servers accept only
`SENTINEL_TOKEN`, the token every run is given, so every run also checks that the token appears in no
output, report or fixture, whatever the server echoes back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from panic_contract.mock import DOCUMENTED_ID, MOCK_CLIENT_ID, MOCK_CLIENT_SECRET
from tests.self.conftest import SENTINEL_TOKEN, SuiteResult
from tests.self.faulty_servers import FAULTS, faulty_server, redirect_target_requests

# Fast enough for a hang (2 attempts of 1 s) and for the *-then-ok faults (which get 2 retries).
LIMITS = ("--rate-limit", "0", "--request-timeout", "1")
SUITE_ARGS = ("--callout-ids", str(DOCUMENTED_ID), "--hypothesis-profile=live")
TOKEN_ENV = {"PANIC_API_TOKEN": SENTINEL_TOKEN}
CLIENT_ENV = {"PANIC_API_CLIENT_ID": MOCK_CLIENT_ID, "PANIC_API_CLIENT_SECRET": MOCK_CLIENT_SECRET}
SECRETS = (SENTINEL_TOKEN, MOCK_CLIENT_SECRET)  # neither may appear in any output, report or fixture
RECORD_PROG = "panic-contract record"
NOTHING_WRITTEN = "; nothing was written"
RECORDED_FILES = {"recorded-callout-992011.json", "recorded-404.json", "recorded-401.json"}
VERDICT_LINE = re.compile(r"verdict: (?P<verdict>[a-z]+) \(exit (?P<code>\d+)\): (?P<reason>.*)$")


@dataclass(frozen=True)
class Expected:
    """What a run against one fault must end with; `fragment` is part of the one-line reason."""

    verdict: str
    exit_code: int
    fragment: str
    env: tuple[tuple[str, str], ...] = tuple(TOKEN_ENV.items())
    retries: int = 1
    fresh_server_per_run: bool = False  # the *-then-ok servers misbehave only for their first requests


FAULT_TABLE: dict[str, Expected] = {
    "refused": Expected("outage", 10, "connection refused"),
    "hang": Expected("outage", 10, "no response within 1s (--request-timeout)"),
    "close-before-response": Expected("outage", 10, "connection closed without a response"),
    "close-mid-body": Expected("outage", 10, "connection closed mid-body"),
    "reset": Expected("outage", 10, "connection reset"),
    "bad-encoding": Expected("outage", 10, "undecodable Content-Encoding"),
    "oversized-headers": Expected("outage", 10, "response headers too large"),
    "gateway-502": Expected("outage", 10, "kept answering 502 Bad Gateway"),
    # Two faulty answers, then clean: two retries wait them out, and the run is ok with no finding.
    "gateway-503-then-ok": Expected(
        "ok", 0, "callout bodies held to the contract", retries=2, fresh_server_per_run=True
    ),
    "rate-limited-forever": Expected("outage", 10, "kept answering 429 Too Many Requests"),
    "rate-limited-then-ok": Expected(
        "ok", 0, "callout bodies held to the contract", retries=2, fresh_server_per_run=True
    ),
    "token-rejected": Expected("auth", 11, "rejected our token (401 to GET"),
    "redirect-other-host": Expected("drift", 1, "finding(s) of kind undocumented-status-code"),
    # The server echoes our Authorization header back: one additive finding ($.echo), token masked.
    "echo-authorization": Expected("ok", 0, "additive finding(s)"),
    # Only a run that must exchange client credentials for a token reaches the token endpoint. The
    # reason must say that the token exchange failed, or it reads exactly like `hang`.
    "token-endpoint-hangs": Expected("outage", 10, "token", env=tuple(CLIENT_ENV.items())),
    "clean": Expected("ok", 0, "callout bodies held to the contract"),
}


# --- running the suite and the recorder ----------------------------------------------------------


@dataclass
class RecordResult:
    ret: int
    stdout: str
    stderr: str
    out: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def files(self) -> dict[str, str]:
        """Every file the recording left under --out, by name."""
        if not self.out.exists():
            return {}
        return {str(p.relative_to(self.out)): p.read_text(errors="replace") for p in self.out.rglob("*") if p.is_file()}

    def fixture(self, name: str) -> dict[str, Any]:
        return dict(json.loads((self.out / name).read_text()))


def run_record(base_url: str, cwd: Path, env: dict[str, str], *args: str) -> RecordResult:
    """`python -m panic_contract.cli record ...` in `cwd`, with only `env`'s PANIC_API_* variables set."""
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("PANIC_API_", "PANIC_CONTRACT_"))}
    cwd.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "panic_contract.cli", "record", "--base-url", base_url, "--ids", str(DOCUMENTED_ID)]
    done = subprocess.run(  # noqa: PLW1510 - the exit code is what is checked
        [*command, *args, "--out", "contracts"],
        cwd=cwd,
        env={**clean_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return RecordResult(done.returncode, done.stdout, done.stderr, cwd / "contracts")


def printed_verdict(output: str) -> tuple[str, str, str] | None:
    """(verdict, exit code, reason) of the last verdict line in `output`, whatever precedes it on the line."""
    found = [VERDICT_LINE.search(line) for line in output.splitlines()]
    matches = [m for m in found if m]
    return (matches[-1]["verdict"], matches[-1]["code"], matches[-1]["reason"]) if matches else None


def api_drift_section(stdout: str) -> list[str]:
    """The lines of the suite's "API drift" terminal section, separators excluded."""
    lines = stdout.splitlines()
    start = next((i for i, line in enumerate(lines) if re.fullmatch(r"=+ API drift =+", line)), None)
    if start is None:
        return []
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        section.append(line)
    return section


def leaks(where: dict[str, str]) -> list[str]:
    """The names of the texts in which a secret appears."""
    return [f"{secret!r} in {name}" for name, text in where.items() for secret in SECRETS if secret in text]


def suite_texts(label: str, run: SuiteResult) -> dict[str, str]:
    result = run.result
    return {
        f"{label} stdout": result.stdout.str(),
        f"{label} stderr": result.stderr.str(),
        f"{label} JSON report": json.dumps(run.report),
        f"{label} Markdown report": run.markdown,
        f"{label} JUnit XML": run.junit,
    }


def record_texts(run: RecordResult) -> dict[str, str]:
    return {
        "record stdout": run.stdout,
        "record stderr": run.stderr,
        **{f"record file {name}": text for name, text in run.files.items()},
    }


def suite_problems(label: str, run: SuiteResult, expected: Expected, host: str) -> list[str]:
    """How a suite run differs from what its fault must end with; [] when it does not."""
    problems = []
    output = run.output[-3000:]
    if run.result.ret != expected.exit_code:
        problems.append(f"{label}: exit {run.result.ret}, expected {expected.exit_code}\n{output}")
    printed = printed_verdict(run.result.stdout.str() + run.result.stderr.str())
    if printed is None:
        return [*problems, f"{label}: no verdict line printed\n{output}"]
    verdict, code, reason = printed
    if (verdict, code) != (expected.verdict, str(expected.exit_code)):
        problems.append(f"{label}: printed verdict {verdict} (exit {code}), expected {expected.verdict}")
    if expected.fragment not in reason:
        problems.append(f"{label}: reason {reason!r} does not contain {expected.fragment!r}")
    if expected.verdict in {"outage", "auth"} and host not in reason:
        problems.append(f"{label}: reason {reason!r} does not name the target {host}")
    section = api_drift_section(run.result.stdout.str())
    if not section or not section[-1].startswith("verdict: "):
        problems.append(f"{label}: the verdict line is not the last line of an 'API drift' section: {section}")
    if not run.report:
        problems.append(f"{label}: no JSON report (--drift-report) was written")
    else:
        report_line = f"verdict: {run.report['verdict']} (exit {run.report['exit_code']}): {run.report['reason']}"
        if (run.report["verdict"], run.report["exit_code"]) != (expected.verdict, expected.exit_code):
            problems.append(f"{label}: JSON report says {run.report['verdict']} (exit {run.report['exit_code']})")
        if section and section[-1] != report_line:
            problems.append(f"{label}: printed {section[-1]!r}, but the JSON report says {report_line!r}")
        if expected.verdict in {"outage", "auth"} and run.report["findings"]:
            problems.append(f"{label}: findings made up from a fault: {run.report['findings']}")
    return problems


def record_problems(run: RecordResult, expected: Expected, suite_reason: str | None) -> list[str]:
    problems = []
    if expected.verdict in {"outage", "auth"}:
        if run.ret != expected.exit_code:
            problems.append(f"record: exit {run.ret}, expected {expected.exit_code}\n{run.output[-2000:]}")
        lines = [line for line in run.stderr.splitlines() if line.startswith(f"{RECORD_PROG}: verdict: ")]
        want = f"{RECORD_PROG}: verdict: {expected.verdict} (exit {expected.exit_code}): {suite_reason}{NOTHING_WRITTEN}"
        if lines != [want]:
            problems.append(f"record: verdict lines {lines}, expected [{want!r}]")
        if run.files:
            problems.append(f"record: wrote {sorted(run.files)} although it failed")
    else:  # the target answered: the recording succeeds, whatever the contract makes of the answers
        if run.ret != 0:
            problems.append(f"record: exit {run.ret}, expected 0\n{run.output[-2000:]}")
        if set(run.files) != RECORDED_FILES:
            problems.append(f"record: wrote {sorted(run.files)}, expected {sorted(RECORDED_FILES)}")
        if "recorded 3 fixture(s) into contracts/" not in run.stdout:
            problems.append(f"record: no summary line\n{run.output[-2000:]}")
    return problems


@contextmanager
def servers(fault: str, expected: Expected) -> Iterator[Any]:
    """`next_url()` gives the base URL for the next run: one server for all, or a fresh one per run."""
    with ExitStack() as stack:
        shared = None if expected.fresh_server_per_run else stack.enter_context(faulty_server(fault, token=SENTINEL_TOKEN))

        def next_url() -> str:
            return shared or stack.enter_context(faulty_server(fault, token=SENTINEL_TOKEN))

        yield next_url


# --- 1, 2: every fault, three ways --------------------------------------------------------------


def test_the_table_names_every_fault() -> None:
    assert set(FAULTS) == set(FAULT_TABLE)


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_ends_in_one_verdict_single_under_xdist_and_recording(fault: str, run_suite, tmp_path: Path) -> None:
    expected = FAULT_TABLE[fault]
    env = dict(expected.env)
    limits = (*LIMITS, "--retries", str(expected.retries))
    with servers(fault, expected) as next_url:
        urls = [next_url() for _ in range(3)]
        single = run_suite("--base-url", urls[0], *SUITE_ARGS, *limits, env=env)
        xdist = run_suite("--base-url", urls[1], *SUITE_ARGS, *limits, "-n", "2", env=env)
        record = run_record(urls[2], tmp_path, env, *limits)
    host = urlsplit(urls[0]).netloc

    problems = [*suite_problems("single", single, expected, host), *suite_problems("-n 2", xdist, expected, host)]
    single_line, xdist_line = printed_verdict(single.output), printed_verdict(xdist.output)
    if single_line != xdist_line:
        problems.append(f"single printed {single_line}, -n 2 printed {xdist_line}")
    suite_reason = single.report.get("reason") or (single_line[2] if single_line else None)
    problems += record_problems(record, expected, suite_reason)
    problems += leaks({**suite_texts("single", single), **suite_texts("-n 2", xdist), **record_texts(record)})
    assert [] == problems


def test_redirect_to_another_host_is_drift_naming_it_and_the_token_never_travels(run_suite, tmp_path: Path) -> None:
    """The 302 is judged, never followed: the other host gets no request with our token, from any side."""
    with faulty_server("redirect-other-host", token=SENTINEL_TOKEN) as base_url:
        with httpx.Client() as http:
            location = http.get(f"{base_url}/panic-api/v2/callouts/{DOCUMENTED_ID}").headers["location"]
        other = f"localhost:{urlsplit(location).port}"
        limits = (*LIMITS, "--retries", "1")
        runs = [run_suite("--base-url", base_url, *SUITE_ARGS, *limits, *n, env=TOKEN_ENV) for n in ((), ("-n", "2"))]
        record = run_record(base_url, tmp_path, TOKEN_ENV, *limits)
    for run in runs:
        assert 1 == run.result.ret, run.output
        (finding,) = [f for f in run.report["findings"] if f["kind"] == "undocumented-status-code"]
        assert f"302 redirecting to {other}" == finding["actual"]
        assert f"localhost:{urlsplit(base_url).port}" not in finding["actual"]
    # The recorder records what the target answered (three 302s, each marked), and exits 0.
    assert 0 == record.ret, record.output
    assert {302} == {record.fixture(name)["response"]["status"] for name in RECORDED_FILES}
    assert 3 == record.stdout.count(" 302 undocumented-status-code"), record.stdout
    received = redirect_target_requests(base_url)
    assert [] == [header for header in received if header and SENTINEL_TOKEN in header]
    assert [] == received  # nothing follows a redirect at all


# --- 3: the token stays secret, whatever the target echoes and however it is misconfigured -------


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["single", "xdist"])
def test_echoed_token_reaches_no_output_report_or_junit_even_when_findings_fail(workers, run_suite) -> None:
    """--strict-drift makes the echoed field a failing finding, so its response shows in failure texts."""
    with faulty_server("echo-authorization", token=SENTINEL_TOKEN) as base_url:
        run = run_suite(
            "--base-url", base_url, *SUITE_ARGS, *LIMITS, "--strict-drift", "-v", "-rA", *workers, env=TOKEN_ENV
        )
    assert 1 == run.result.ret, run.output
    assert "drift" == run.report["verdict"]
    (echo,) = [f for f in run.report["findings"] if f["field"] == "$.echo"]
    assert "Bearer ***" in echo["actual"]  # the server did echo the token, and it was masked
    assert [] == leaks(suite_texts("suite", run))


@pytest.mark.parametrize("scrub", [(), ("--no-scrub",)], ids=["scrubbed", "no-scrub"])
def test_echoed_token_reaches_no_output_or_fixture_of_a_recording(scrub, tmp_path: Path) -> None:
    with faulty_server("echo-authorization", token=SENTINEL_TOKEN) as base_url:
        record = run_record(base_url, tmp_path, TOKEN_ENV, *LIMITS, *scrub)
    assert 0 == record.ret, record.output
    assert RECORDED_FILES == set(record.files)
    assert "Bearer ***" == record.fixture("recorded-callout-992011.json")["response"]["body"]["echo"]
    assert record.fixture("recorded-404.json")["response"]["body"]["message"].endswith("(you sent: Bearer ***)")
    assert [] == leaks(record_texts(record))


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_base_url_with_a_password_is_a_usage_error_that_hides_it(how: str, run_suite, tmp_path: Path) -> None:
    with faulty_server("clean", token=SENTINEL_TOKEN) as base_url:
        port = urlsplit(base_url).port
        url = f"http://user:{SENTINEL_TOKEN}@127.0.0.1:{port}"
        args, env = (["--base-url", url], TOKEN_ENV) if how == "flag" else ([], {**TOKEN_ENV, "PANIC_API_BASE_URL": url})
        suite = run_suite(*args, *SUITE_ARGS, *LIMITS, env=env)
        record_env = env if how == "environment" else TOKEN_ENV
        record = run_record(url if how == "flag" else "", tmp_path, record_env, *LIMITS)
    assert 4 == suite.result.ret, suite.output
    suite.result.stderr.fnmatch_lines(["ERROR: --base-url (or PANIC_API_BASE_URL) has user:password@ in it (not shown)*"])
    assert 4 == record.ret, record.output
    assert [
        f"{RECORD_PROG}: verdict: usage (exit 4): --base-url (or PANIC_API_BASE_URL) has user:password@ in it "
        "(not shown); put credentials in PANIC_API_TOKEN, not in the URL"
    ] == record.stderr.splitlines()
    assert {} == record.files
    assert [] == leaks({**suite_texts("suite", suite), **record_texts(record)})


@pytest.mark.parametrize(
    "token",
    [f"{SENTINEL_TOKEN}\r\nX-Injected: 1", f"Bearer {SENTINEL_TOKEN}", f"{SENTINEL_TOKEN} {SENTINEL_TOKEN}"],
    ids=["crlf", "bearer-prefix", "inner-space"],
)
def test_token_that_cannot_go_in_a_header_is_a_usage_error_that_hides_it(token: str, run_suite, tmp_path) -> None:
    with faulty_server("clean", token=SENTINEL_TOKEN) as base_url:
        suite = run_suite("--base-url", base_url, *SUITE_ARGS, *LIMITS, env={"PANIC_API_TOKEN": token})
        record = run_record(base_url, tmp_path, {"PANIC_API_TOKEN": token}, *LIMITS)
    assert 4 == suite.result.ret, suite.output
    suite.result.stderr.fnmatch_lines([f"ERROR: live target {base_url}: PANIC_API_TOKEN holds characters*not shown*"])
    assert 4 == record.ret, record.output
    (line,) = record.stderr.splitlines()
    assert line.startswith(f"{RECORD_PROG}: verdict: usage (exit 4): PANIC_API_TOKEN holds characters"), line
    assert {} == record.files
    assert [] == leaks({**suite_texts("suite", suite), **record_texts(record)})


# --- 4: each verdict is the same in one process and under -n 2 -----------------------------------


def test_every_verdict_a_target_can_cause_is_checked_single_and_under_xdist() -> None:
    """ok, drift, outage and auth come from the fault table; inconclusive and failed from the test below."""
    both_ways = {expected.verdict for expected in FAULT_TABLE.values()} | set(VERDICT_CASES)
    assert {"ok", "drift", "outage", "auth", "inconclusive", "failed"} <= both_ways


VERDICT_CASES = {
    # the clean server serves the ids of contracts/: 1 and 2 are 404, so no body is validated
    "inconclusive": (12, "1,2", "no 200 body from 127.0.0.1:"),
    # one id validates, one is 404: tests fail, and no contract finding explains it
    "failed": (1, f"{DOCUMENTED_ID},1", "tests failed without a contract finding"),
}


@pytest.mark.parametrize("verdict", VERDICT_CASES)
def test_verdict_is_the_same_single_and_under_xdist(verdict: str, run_suite) -> None:
    exit_code, ids, fragment = VERDICT_CASES[verdict]
    with faulty_server("clean", token=SENTINEL_TOKEN) as base_url:
        args = ("--base-url", base_url, "--callout-ids", ids, "--hypothesis-profile=live", *LIMITS)
        single, xdist = run_suite(*args, env=TOKEN_ENV), run_suite(*args, "-n", "2", env=TOKEN_ENV)
    for run in (single, xdist):
        assert exit_code == run.result.ret, run.output
        assert (verdict, exit_code) == (run.report["verdict"], run.report["exit_code"])
        assert fragment in run.report["reason"]
        assert f"verdict: {verdict} (exit {exit_code}): {run.report['reason']}" == api_drift_section(
            run.result.stdout.str()
        )[-1]
    assert single.report["reason"] == xdist.report["reason"]


# --- 5: one request budget for all workers -------------------------------------------------------


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["single", "xdist"])
def test_request_budget_holds_across_workers_and_is_named(workers, run_suite) -> None:
    with faulty_server("clean", token=SENTINEL_TOKEN) as base_url:
        run = run_suite("--base-url", base_url, *SUITE_ARGS, *LIMITS, "--request-budget", "6", *workers, env=TOKEN_ENV)
    assert run.report["requests"] <= 6, run.output
    assert run.report["verdict"] in {"ok", "inconclusive"}, run.output
    budget = "stopped at the request budget of 6 (--request-budget)"
    assert budget in run.report["reason"] or any(budget in line for line in api_drift_section(run.result.stdout.str()))
