"""Under pytest the verdict line is the last line a run prints, as README.md promises.

It was not: pytest's short test summary and its final `N failed, M passed` line came after the "API drift"
section. The section now follows them, with its findings, its next steps and the verdict last: in one process
and under `pytest -n 2` (a process of its own with its workers).
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from tests.self.conftest import SUITE

STATS = re.compile(r"^=* ?\d+ (failed|passed).* in [\d.]+s")


def assert_the_verdict_line_is_last(result: pytest.RunResult, verdict: str) -> None:
    lines = result.outlines
    assert lines[-1].startswith(f"verdict: {verdict} "), "\n".join(lines[-15:])
    section = max(index for index, line in enumerate(lines) if re.fullmatch(r"=+ API drift =+", line))
    stats = max(index for index, line in enumerate(lines) if STATS.match(line))
    assert stats < section  # pytest's own summary first
    assert any(line.startswith("next: ") for line in lines[section:])  # the steps, before the verdict
    assert 1 == sum(line.startswith("verdict: ") for line in lines)


def test_a_drifting_run_ends_with_its_verdict_line(run_suite: Any) -> None:
    run = run_suite("--mock-drift", "unknown-status")
    assert 1 == run.result.ret, run.output
    assert_the_verdict_line_is_last(run.result, "drift")
    run.result.stdout.fnmatch_lines(["*short test summary info*", "FAILED *", "*= API drift =*"])
    assert run.result.outlines[-1] == f"verdict: drift (exit 1): {run.report['reason']}"


def test_a_clean_run_ends_with_its_verdict_line(run_suite: Any) -> None:
    run = run_suite()
    assert 0 == run.result.ret, run.output
    assert_the_verdict_line_is_last(run.result, "ok")


def test_under_xdist_the_verdict_line_is_last_too(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PANIC_API_") or name in {"GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"}:
            monkeypatch.delenv(name)
    result = pytester.runpytest_subprocess(
        str(SUITE), "-p", "no:cacheprovider", "--hypothesis-profile=ci", "-n", "2", "--mock-drift", "missing-field"
    )
    assert 1 == result.ret, result.stdout.str()
    assert_the_verdict_line_is_last(result, "drift")
    result.stdout.fnmatch_lines(["*2 workers*", "*= API drift =*", "breaking missing-field *"])
