"""A run stopped by a signal ends like a run: every worker gone, no quota folder left, reports and a verdict.

SIGTERM (what CI runners, `timeout`, Docker and Kubernetes send) reaches the controller only; without a
handler it killed the controller alone, and its workers went on sending under PID 1. Ctrl-C reaches the
whole process group. Both end with `verdict: interrupted (exit 130)` and the reports of what was judged.
These run the suite in a real process, since a process is the thing under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from panic_contract.mock import MOCK_TOKEN, create_app, known_callout_ids, serve
from tests.self.conftest import REPO, SUITE

MARKER = "PANIC_CONTRACT_TEST_RUN"  # an environment variable only the run's processes carry


@pytest.fixture
def mock() -> Iterator[tuple[str, Any]]:
    app = create_app()
    with serve(app) as base_url:
        yield base_url, app.router.default


def processes_with(marker: str) -> list[int]:
    """The processes whose environment holds `marker`: the run's controller and workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def start(tmp_path: Path, base_url: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    marker = f"{MARKER}={uuid.uuid4().hex}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PANIC_API_", "GITHUB_"))}
    (tmp_path / "tmp").mkdir()
    env |= {"PANIC_API_TOKEN": MOCK_TOKEN, "TMPDIR": str(tmp_path / "tmp"), marker.split("=", maxsplit=1)[0]: marker}
    ids = ",".join(map(str, known_callout_ids()[:3]))
    command = [sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider", "--hypothesis-profile=live"]
    command += ["--base-url", base_url, "--callout-ids", ids, "--rate-limit", "2"]  # about 10 s of requests
    command += [f"--drift-report={tmp_path / 'drift.json'}", *args]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, marker


def in_flight(server: Any, process: subprocess.Popen[str], requests: int = 3, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while server.requests_seen < requests:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.1)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("xdist", "how"),
    [(("-n", "2"), "SIGTERM"), (("-n", "2"), "Ctrl-C"), ((), "SIGTERM")],
    ids=["xdist-sigterm", "xdist-ctrl-c", "one-process-sigterm"],
)
def test_a_signal_ends_the_run_with_its_workers_its_reports_and_a_verdict(
    xdist: tuple[str, ...], how: str, tmp_path: Path, mock: tuple[str, Any]
) -> None:
    base_url, server = mock
    process, marker = start(tmp_path, base_url, *xdist)
    try:
        in_flight(server, process)
        if xdist:
            assert len(processes_with(marker)) >= 3, "the controller and its two workers"
        if how == "SIGTERM":
            process.send_signal(signal.SIGTERM)  # the controller alone, as CI and `timeout` do
        else:
            os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    name = "SIGTERM" if how == "SIGTERM" else "SIGINT"
    assert 130 == process.returncode, output
    verdicts = [line for line in output.splitlines() if line.startswith("verdict: ")]
    assert 1 == len(verdicts), output
    assert verdicts[0].startswith(f"verdict: interrupted (exit 130): interrupted by {name} after "), output
    assert "Traceback" not in output
    assert [] == processes_with(marker)  # every worker is gone with the controller
    assert [] == list((tmp_path / "tmp").glob("panic-api-*"))  # and so is the run's quota folder
    report = json.loads((tmp_path / "drift.json").read_text())
    assert ("interrupted", 130) == (report["verdict"], report["exit_code"])
    assert 0 < report["requests"] <= server.requests_seen
    sent_after = server.requests_seen
    time.sleep(1)
    assert sent_after == server.requests_seen  # nothing more is sent once the run has ended
