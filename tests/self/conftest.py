"""Fixtures for the project's own tests: run the contract suite (in this process, or as a user starts it in a
process of its own) and read its verdict."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg  # noqa: F401  (see the history store's import below)
import pytest
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
from hypothesis import settings

from panic_contract import redaction

# Imported here, before any in-process run: pytester's inline runs drop the modules a run imported first, and a
# second copy of SQLAlchemy or psycopg (the history store imports them when a store is used) does not know the
# first one's types: psycopg's errors would then escape SQLAlchemy's handling.
from panic_contract.history import store as _history_store  # noqa: F401
from panic_contract.mock import MOCK_TOKEN, create_app, known_callout_ids, serve

pytest_plugins = ["pytester", "tests.self.postgres"]

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests" / "contract"
SENTINEL_TOKEN = "sentinel-token-5b1e9c"  # must never appear in any output, report or file
# The suite's `ci` profile (derandomized: every run sees the same cases) with a quarter of its generated cases,
# for the runs of the suite in this process: each is one self-test, and what they check of a run (its verdict,
# finding kinds and fields, lines, exit code) shows on the embedded mock at 25 cases as at 100. A run in a
# process of its own, or under -n 2 (its workers), has only the suite's profiles: `ci`.
SELF_TEST_PROFILE = "self-test"
settings.register_profile(SELF_TEST_PROFILE, parent=settings.get_profile("ci"), max_examples=25)


@dataclass
class SuiteResult:
    result: pytest.RunResult
    report: dict[str, Any]
    markdown: str
    junit: str

    @property
    def output(self) -> str:
        return self.result.stdout.str() + self.result.stderr.str()

    @property
    def kinds(self) -> dict[str, str | None]:
        """Finding kind -> its field, for runs where each kind shows on one field."""
        return {f["kind"]: f["field"] for f in self.report.get("findings", [])}

    def fields(self, kind: str) -> set[str | None]:
        return {f["field"] for f in self.report.get("findings", []) if f["kind"] == kind}


_WARMING = threading.Lock()
_WARM: list[Path] = []


def warm_hypothesis_home() -> Path:
    """A `.hypothesis` folder with Hypothesis's Unicode tables built, once per process of these tests.

    A process of the suite in a fresh folder builds them first (about 2 s of CPU and 150 MB more): the
    runs that start one (subprocesses, the workers of `-n 2`) are given these instead.
    """
    with _WARMING:
        if not _WARM:
            home = Path(tempfile.mkdtemp(prefix="panic-hypothesis-"))
            atexit.register(shutil.rmtree, home, ignore_errors=True)
            warm = (
                "from hypothesis import strategies as st; st.text().example(); st.characters(codec='utf-8').example()"
            )
            subprocess.run([sys.executable, "-W", "ignore", "-c", warm], cwd=home, check=True, timeout=120)
            _WARM.append(home / ".hypothesis")
        return _WARM[0]


def lend_unicode_tables(folder: Path) -> None:
    """Processes started in `folder` read the Unicode tables of `warm_hypothesis_home` (only those: their
    examples stay their own)."""
    link = folder / ".hypothesis" / "unicode_data"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(warm_hypothesis_home() / "unicode_data", target_is_directory=True)


@pytest.fixture(autouse=True)
def _no_history_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """No run of these tests keeps a history (least of all in the checkout's `.panic-contract/`), and no report
    line depends on the runs before: the history's own tests turn it on, into a folder of their own."""
    monkeypatch.setenv("PANIC_API_NO_HISTORY", "1")
    monkeypatch.delenv("PANIC_API_HISTORY", raising=False)


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only() -> Iterator[None]:
    """Each test registers the secrets it uses; none may mask the next test's output (a shared process)."""
    kept = redaction.registered()
    yield
    redaction.forget_all_but(kept)


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `pytest tests/contract ARGS` with reports written: in this process (pytester's in-process run: the
    plugin keeps a run's state in its config, so runs do not see each other), or with `subprocess=True` in a
    process of its own, as a user starts it, where the process is what is tested."""
    for name in list(os.environ):
        # GITHUB_*: run inside GitHub Actions, these runs must not write to the job's own summary
        if name.startswith("PANIC_API_") or name in {"GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("PANIC_API_NO_HISTORY", "1")  # as every test here: `env` turns it on

    def run(
        *args: str, env: dict[str, str] | None = None, suite: Path = SUITE, subprocess: bool = False
    ) -> SuiteResult:
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        out = pytester.path
        own_processes = subprocess or "-n" in args  # the run itself, or its workers, are processes of their own
        argv = (
            str(suite),
            "-p",
            "no:cacheprovider",
            f"--hypothesis-profile={'ci' if own_processes else SELF_TEST_PROFILE}",
            f"--drift-report={out / 'drift.json'}",
            f"--drift-report-md={out / 'drift.md'}",
            f"--junitxml={out / 'junit.xml'}",
            *args,
        )
        if own_processes:  # started in pytester's folder
            lend_unicode_tables(out)
        if subprocess:
            result = pytester.runpytest_subprocess(*argv, timeout=300)
        else:
            result = pytester.runpytest_inprocess(*argv)
        report_path, md_path, junit_path = out / "drift.json", out / "drift.md", out / "junit.xml"
        return SuiteResult(
            result,
            json.loads(report_path.read_text()) if report_path.exists() else {},
            md_path.read_text() if md_path.exists() else "",
            junit_path.read_text() if junit_path.exists() else "",
        )

    return run


@pytest.fixture
def live_mock() -> Iterator[Any]:
    """Start the mock with some drift on a real loopback port; yields a starter returning the base URL."""
    stack: list[Any] = []

    def start(*drift: str, **app_options: Any) -> str:
        server = serve(create_app(drift=drift, **app_options))
        stack.append(server)
        return server.__enter__()

    yield start
    for server in reversed(stack):
        server.__exit__(None, None, None)


def live_args(base_url: str) -> list[str]:
    ids = ",".join(str(i) for i in known_callout_ids()[:3])
    return ["--base-url", base_url, "--callout-ids", ids, "--rate-limit", "0", "--hypothesis-profile=live"]


LIVE_ENV = {"PANIC_API_TOKEN": MOCK_TOKEN}
