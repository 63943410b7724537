"""Every option value is valid or a one-line usage error, in the suite and in the commands alike;
an unwritable report never hides the verdict."""

from __future__ import annotations

import json
import math
import re
import socket
import time
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.errors import SettingError
from panic_contract.sending.quota import Quota
from panic_contract.settings import SETTINGS, resolve
from tests.self.conftest import LIVE_ENV, SENTINEL_TOKEN
from tests.self.samples import DOCUMENTED_CALLOUT

TIMEOUT_BOUNDS = "it must be from 0.001 to 3600 seconds, e.g. 10"
RATE_BOUNDS = "it must be 0 (no limit) or from 0.01 to 1000 requests per second, e.g. 0.5"
BUDGET_BOUNDS = "it must be a whole number from 1 to 1000000, e.g. 400"
BODY_BOUNDS = (
    "it must be from 0.01 to 1024 MiB: a number of MiB (e.g. 4 or 0.5) or a size with its unit (512KiB, 16MiB)"
)
NUMERIC = ("rate_limit", "request_timeout", "request_budget", "retries", "max_body_size")


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("rate_limit", "0.5", 0.5),
        ("rate_limit", "2.5", 2.5),
        ("rate_limit", "0", 0.0),
        ("request_timeout", "0.25", 0.25),
        ("request_timeout", "3600", 3600.0),
        ("request_budget", "1", 1),
        ("request_budget", "1000000", 1_000_000),
        ("retries", "0", 0),
        ("max_body_size", "4", 4 * 1024 * 1024),
        ("max_body_size", "0.5", 512 * 1024),
        ("max_body_size", "512KiB", 512 * 1024),
        ("max_body_size", "16 MiB", 16 * 1024 * 1024),
        ("strict_drift", "true", True),
        ("callout_ids", "992011, 992012,992011", (992011, 992012)),
        ("base_url", "http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ],
)
def test_valid_values_parse(name: str, raw: str, expected: object) -> None:
    assert expected == resolve(SETTINGS[name], raw, {})


@pytest.mark.parametrize(
    ("name", "raw", "line"),
    [
        ("rate_limit", "fast", f"--rate-limit (or PANIC_API_RATE_LIMIT) is 'fast'; {RATE_BOUNDS}"),
        ("rate_limit", "inf", f"--rate-limit (or PANIC_API_RATE_LIMIT) is 'inf'; {RATE_BOUNDS}"),
        ("rate_limit", "nan", "--rate-limit (or PANIC_API_RATE_LIMIT) is 'nan'; *"),
        ("rate_limit", "-1", "--rate-limit (or PANIC_API_RATE_LIMIT) is '-1'; *"),
        ("rate_limit", "1e-300", f"--rate-limit (or PANIC_API_RATE_LIMIT) is '1e-300'; {RATE_BOUNDS}"),
        # parses, but waits 2.8 hours between requests: four days for the default budget
        ("rate_limit", "0.0001", f"--rate-limit (or PANIC_API_RATE_LIMIT) is '0.0001'; {RATE_BOUNDS}"),
        ("rate_limit", "1e300", f"--rate-limit (or PANIC_API_RATE_LIMIT) is '1e300'; {RATE_BOUNDS}"),
        ("request_timeout", "0", f"--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '0'; {TIMEOUT_BOUNDS}"),
        ("request_timeout", "nan", "--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is 'nan'; *"),
        ("request_timeout", "1e300", f"--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '1e300'; {TIMEOUT_BOUNDS}"),
        (
            "request_timeout",
            "1e-300",
            f"--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '1e-300'; {TIMEOUT_BOUNDS}",
        ),
        ("request_timeout", "86400", f"--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '86400'; {TIMEOUT_BOUNDS}"),
        ("request_budget", "0", f"--request-budget (or PANIC_API_REQUEST_BUDGET) is '0'; {BUDGET_BOUNDS}"),
        ("request_budget", "1.5", f"--request-budget (or PANIC_API_REQUEST_BUDGET) is '1.5'; {BUDGET_BOUNDS}"),
        ("request_budget", "9" * 400, f"--request-budget (or PANIC_API_REQUEST_BUDGET) is *; {BUDGET_BOUNDS}"),
        ("max_body_size", "1e300", f"--max-body-size (or PANIC_API_MAX_BODY_SIZE) is '1e300'; {BODY_BOUNDS}"),
        ("max_body_size", "0", f"--max-body-size (or PANIC_API_MAX_BODY_SIZE) is '0'; {BODY_BOUNDS}"),
        ("max_body_size", "4 GiB", f"--max-body-size (or PANIC_API_MAX_BODY_SIZE) is '4 GiB'; {BODY_BOUNDS}"),
        ("retries", "-1", "--retries (or PANIC_API_RETRIES) is '-1'; * from 0 to 10"),
        ("retries", "99", "--retries (or PANIC_API_RETRIES) is '99'; * from 0 to 10"),
        ("base_url", "http://127.0.0.1:99999", "--base-url (or PANIC_API_BASE_URL) is *; its port is not a number*"),
        ("base_url", "ftp://x", "--base-url (or PANIC_API_BASE_URL) is 'ftp://x'; it is not an http(s) server root*"),
        ("callout_ids", "1,²", "--callout-ids (or PANIC_API_CALLOUT_IDS) is '1,²'; '²' is not a callout id*"),
        ("callout_ids", "9" * 40, "--callout-ids (or PANIC_API_CALLOUT_IDS) is *; * is not a callout id*"),
        ("target", "production", "--target (or PANIC_API_TARGET) is 'production'; allowed: mock, staging"),
    ],
)
def test_bad_values_are_one_line_naming_the_flag_and_the_variable(name: str, raw: str, line: str) -> None:
    with pytest.raises(SettingError) as caught:
        resolve(SETTINGS[name], raw, {})
    message = str(caught.value)
    assert 1 == len(message.splitlines())
    assert fnmatchcase(message, line), message


def _parsed_or_error(name: str, raw: str) -> tuple[object, str | None]:
    try:
        return resolve(SETTINGS[name], raw, {}), None
    except SettingError as exc:
        return None, str(exc)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(NUMERIC), value=st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_any_number_is_a_value_within_bounds_or_one_line_naming_them(name: str, value: float) -> None:
    """Huge, tiny, negative, inf, nan: never an OverflowError, always the flag and the bounds."""
    parsed, error = _parsed_or_error(name, repr(value) if isinstance(value, float) else str(value))
    if error is not None:
        assert 1 == len(error.splitlines())
        assert error.startswith(f"{SETTINGS[name].flag} (or {SETTINGS[name].env}) is ")
        assert re.search(r"from [\d.]+ to [\d.]+", error), error
        return
    assert isinstance(parsed, int | float)
    assert math.isfinite(parsed)
    assert 0 <= parsed <= 1024 * 1024 * 1024  # no setting allows more (the body cap, in bytes)
    if name == "request_timeout":
        with socket.socket() as sock:
            sock.settimeout(parsed)  # what an attempt does with it, at the most: no OverflowError
        assert math.isfinite(time.monotonic() + parsed)  # and a deadline built from it is an ordinary float


def test_a_base_url_with_userinfo_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingError) as caught:
        resolve(SETTINGS["base_url"], f"http://user:{SENTINEL_TOKEN}@127.0.0.1:8000", {})
    assert SENTINEL_TOKEN not in str(caught.value)
    assert "user:password@" in str(caught.value)


def test_precedence_is_command_line_then_environment_then_ini_then_default() -> None:
    setting = SETTINGS["retries"]
    env = {"PANIC_API_RETRIES": "3"}
    assert (1, 3, 4, 2) == (
        resolve(setting, "1", env, "4"),
        resolve(setting, None, env, "4"),
        resolve(setting, None, {}, "4"),
        resolve(setting, None, {}, None),
    )


def test_a_fractional_rate_limit_spaces_requests_by_its_inverse() -> None:
    waits: list[float] = []
    quota = Quota(rate_limit=0.5, sleep=waits.append)
    quota.take()
    quota.take()
    assert 1 == len(waits)
    assert 1.9 < waits[0] <= 2.0


# --- the suite: usage errors exit 4 before anything is sent -------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--request-timeout", "0"], "ERROR: --request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '0'; *"),
        (["--request-budget", "0"], "ERROR: --request-budget (or PANIC_API_REQUEST_BUDGET) is '0'; *"),
        (["--rate-limit", "nan"], "ERROR: --rate-limit (or PANIC_API_RATE_LIMIT) is 'nan'; *"),
        (["--retries", "inf"], "ERROR: --retries (or PANIC_API_RETRIES) is 'inf'; *"),
        (
            ["--request-timeout", "1e300"],
            f"ERROR: --request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '1e300'; {TIMEOUT_BOUNDS}",
        ),
        (["--rate-limit", "1e-300"], f"ERROR: --rate-limit (or PANIC_API_RATE_LIMIT) is '1e-300'; {RATE_BOUNDS}"),
        (["--max-body-size", "-1"], f"ERROR: --max-body-size (or PANIC_API_MAX_BODY_SIZE) is '-1'; {BODY_BOUNDS}"),
        (["--base-url", "http://127.0.0.1:99999"], "ERROR: --base-url (or PANIC_API_BASE_URL) is *port*"),
    ],
)
def test_suite_option_values_are_checked_before_any_request(run_suite, args: list[str], line: str) -> None:
    run = run_suite(*args, env=LIVE_ENV)
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([line])
    assert "Traceback" not in run.output


def test_a_fractional_rate_limit_is_accepted_by_the_suite(run_suite, live_mock) -> None:
    run = run_suite("--base-url", live_mock(), "--rate-limit", "0.5", "--collect-only", "-q", env=LIVE_ENV)
    assert 0 == run.result.ret, run.output
    assert "ConfigError" not in run.output


def test_a_token_that_cannot_go_in_a_header_is_a_usage_error_that_hides_it(run_suite) -> None:
    token = f"{SENTINEL_TOKEN}\r\nX-Injected: 1"
    run = run_suite("--base-url", "http://127.0.0.1:9", env={"PANIC_API_TOKEN": token})
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines(["ERROR: live target http://127.0.0.1:9: PANIC_API_TOKEN holds characters *"])
    assert SENTINEL_TOKEN not in run.output


# --- record: the same settings, the same errors ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--request-timeout", "0"], "--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '0'"),
        (["--timeout", "-1"], "--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '-1'"),
        (["--retries", "nan"], "--retries (or PANIC_API_RETRIES) is 'nan'"),
        (["--rate-limit", "-2"], "--rate-limit (or PANIC_API_RATE_LIMIT) is '-2'"),
        (
            ["--request-timeout", "1e300"],
            f"--request-timeout (or PANIC_API_REQUEST_TIMEOUT) is '1e300'; {TIMEOUT_BOUNDS}",
        ),
        (["--rate-limit", "1e-300"], f"--rate-limit (or PANIC_API_RATE_LIMIT) is '1e-300'; {RATE_BOUNDS}"),
        (["--max-body-size", "2048"], f"--max-body-size (or PANIC_API_MAX_BODY_SIZE) is '2048'; {BODY_BOUNDS}"),
        (["--base-url", "http://127.0.0.1:99999"], "--base-url (or PANIC_API_BASE_URL) is"),
    ],
)
def test_record_checks_the_same_values_with_the_same_words(
    args: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANIC_API_TOKEN", "t0ken")
    code = cli.main(["record", "--ids", "992011", "--out", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err
    assert 4 == code
    assert 1 == len(err.splitlines())
    assert err.startswith(f"panic-contract record: error: {fragment}"), err


def test_record_reads_its_settings_from_the_environment_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PANIC_API_TOKEN", "t0ken")
    monkeypatch.setenv("PANIC_API_RETRIES", "many")
    assert 4 == cli.main(["record", "--ids", "992011", "--out", str(tmp_path / "out")])
    assert "--retries (or PANIC_API_RETRIES) is 'many'" in capsys.readouterr().err


# --- a report that cannot be written ---------------------------------------------------------------


def _unwritable(tmp_path: Path) -> list[str]:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    return ["/proc/panic-report.json", str(tmp_path), str(blocker / "report.json")]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["proc", "a-directory", "under-a-file"])
def test_an_unwritable_report_keeps_the_verdict_and_names_the_path(run_suite, tmp_path: Path, which: int) -> None:
    path = _unwritable(tmp_path)[which]
    run = run_suite(f"--drift-report={path}")
    assert 4 == run.result.ret, run.output
    run.result.stdout.fnmatch_lines(
        [
            "*API drift*",
            f"cannot write the JSON report to {path}: *",
            "verdict: ok (exit 0): *",
        ]
    )
    assert "Traceback" not in run.output
    assert "## API drift" in run.markdown  # the other report is still written


def test_an_unwritable_report_never_masks_an_outage(run_suite, tmp_path: Path) -> None:
    run = run_suite("--mock-drift", "gateway-502", "--retries", "0", "--drift-report=/proc/panic-report.json")
    assert 10 == run.result.ret, run.output
    run.result.stdout.fnmatch_lines(["cannot write the JSON report to /proc/panic-report.json: *", "verdict: outage*"])


def test_audit_with_an_unwritable_report_still_prints_its_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/992011"},
        "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": DOCUMENTED_CALLOUT},
    }
    capture.write_text(json.dumps(record) + "\n")
    code = cli.main(["audit", str(capture), "--drift-report", str(tmp_path)])
    captured = capsys.readouterr()
    assert 4 == code
    assert f"cannot write the JSON report to {tmp_path}:" in captured.err
    assert captured.out.splitlines()[-1].startswith("verdict: ok (exit 0)")


def test_an_audit_path_with_a_non_ascii_digit_is_judged_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/²"},
        "response": {"status": 404, "headers": {"content-type": "application/json"}, "body": {"message": "no"}},
    }
    capture.write_text(json.dumps(record) + "\n")
    code = cli.main(["audit", str(capture)])
    captured = capsys.readouterr()
    assert 0 == code  # judged like any other id that does not exist: a documented 404
    assert "1 of 1 exchanges audited" in captured.out
    assert "Traceback" not in captured.err


def test_space_separated_options_work_outside_the_checkout_and_on_a_second_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytester runs in a temporary folder outside the repo; the report file exists on the second run (both in
    this process: the second run starts from nothing the first one left)."""
    monkeypatch.delenv("PANIC_API_TARGET", raising=False)
    suite = Path(__file__).resolve().parents[1] / "contract"
    contracts = suite.parents[1] / "contracts"
    for _ in range(2):
        result = pytester.runpytest_inprocess(
            "--drift-report", "report.json", "--contracts-dir", str(contracts), str(suite), "-p", "no:cacheprovider"
        )
        assert 0 == result.ret, result.stdout.str() + result.stderr.str()
        assert "ok" == json.loads((pytester.path / "report.json").read_text())["verdict"]


def test_each_setting_is_declared_once() -> None:
    """The table is a mapping by name: a second row of the same name would replace the first unseen."""
    import ast

    from panic_contract import settings as settings_module

    tree = ast.parse(Path(settings_module.__file__).read_text(encoding="utf-8"))
    flags = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Setting"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]
    assert len(flags) == len(set(flags)) == len(settings_module.SETTINGS)
