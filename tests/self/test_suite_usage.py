"""Usage errors: one line saying what was given and how to fix it, exit 4, before any request."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["--target", "staging"], {}, "ERROR: live target https://staging-panic.aura.services: *PANIC_API_TOKEN*"),
        (["--base-url", "http://127.0.0.1:9"], {}, "ERROR: live target http://127.0.0.1:9: *PANIC_API_TOKEN*"),
        (["--target", "production"], {}, "*--target*invalid choice*"),
        (
            [],
            {"PANIC_API_TARGET": "production"},
            "ERROR: --target (or PANIC_API_TARGET) is 'production'; allowed: mock, staging",
        ),
        (
            ["--base-url", "ftp://x"],
            {"PANIC_API_TOKEN": "t"},
            "ERROR: --base-url (or PANIC_API_BASE_URL) is 'ftp://x'; *",
        ),
        (["--callout-ids", "1,two"], {}, "ERROR: --callout-ids (or PANIC_API_CALLOUT_IDS) is '1,two'; *"),
        (["--rate-limit", "fast"], {}, "ERROR: --rate-limit (or PANIC_API_RATE_LIMIT) is 'fast'; *"),
        (
            ["--mock-drift", "missing-field", "--base-url", "http://127.0.0.1:9"],
            {"PANIC_API_TOKEN": "t"},
            "ERROR: --mock-drift switches the embedded mock*",
        ),
        (
            ["--hypothesis-profile", "nosuch"],
            {},
            "ERROR: --hypothesis-profile is 'nosuch'; the suite's profiles are dev, ci and live*",
        ),
    ],
)
def test_usage_error_is_one_line_and_exit_4(args, env, line, run_suite) -> None:
    run = run_suite(*args, env=env)
    assert run.result.ret == 4, run.output
    run.result.stderr.fnmatch_lines([line])
    assert run.report == {}


def test_command_line_wins_over_the_environment(run_suite) -> None:
    run = run_suite("--target", "mock", env={"PANIC_API_TARGET": "staging"})
    assert run.result.ret == 0, run.output
    run.result.stdout.fnmatch_lines(["panic-api target: mock, base URL: in-process*"])


def test_report_header_names_target_and_spec(run_suite) -> None:
    run = run_suite()
    run.result.stdout.fnmatch_lines(
        [
            "panic-api target: mock, base URL: in-process*",
            "panic-api spec: */spec/panic-api.openapi.yaml; callout ids: 992011*",
        ]
    )


def test_environment_wins_over_the_ini_setting(run_suite) -> None:
    run = run_suite("-o", "panic_api_target=staging", env={"PANIC_API_TARGET": "mock"})
    assert run.result.ret == 0, run.output
    run.result.stdout.fnmatch_lines(["panic-api target: mock, base URL: in-process*"])


def test_ini_setting_is_read_when_nothing_else_is_given(run_suite) -> None:
    run = run_suite("-o", "panic_api_target=staging")
    assert run.result.ret == 4, run.output
    run.result.stderr.fnmatch_lines(["ERROR: live target https://staging-panic.aura.services: *PANIC_API_TOKEN*"])


def test_malformed_fixture_is_one_line_naming_the_file_and_exit_4(run_suite, tmp_path) -> None:
    (tmp_path / "callout-truncated.json").write_text('{"description": ', encoding="utf-8")
    run = run_suite("--contracts-dir", str(tmp_path))
    assert run.result.ret == 4, run.output
    run.result.stderr.fnmatch_lines(["ERROR: */callout-truncated.json: not valid JSON: * (fix or delete the file)"])


def test_missing_contracts_dir_is_a_usage_error(run_suite, tmp_path) -> None:
    run = run_suite(env={"PANIC_API_CONTRACTS_DIR": str(tmp_path / "nowhere")})
    assert run.result.ret == 4, run.output
    run.result.stderr.fnmatch_lines(["ERROR: --contracts-dir (or PANIC_API_CONTRACTS_DIR) is '*nowhere'; *"])
