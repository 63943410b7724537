"""Under pytest the verdict line is the last line a run prints, as README.md promises.

It was not: pytest's short test summary and its final `N failed, M passed` line came after the "API drift"
section. The section now follows them, with its findings, its next steps and the verdict last: in one process
and under `pytest -n 2` (its workers: asserted on the runs of test_history.py's xdist sequence).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

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


# Under -n 2 (the verdict `drift` and `ok`): test_history.py's
# test_the_suite_under_xdist_remembers_clean_drifted_drifted_clean.
