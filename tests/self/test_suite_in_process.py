"""Runs of the suite in one process do not see each other: each keeps its run in its own pytest config.

The project's own tests run the suite in this process (pytester's in-process runs), so these pin what that
needs: each run has its own ids, schema and target; what a run changes for the whole process (the
hypothesis profile, the signal handlers, the embedded mock's server thread) is as it was once the run ends,
also when it stopped on a usage error; and nothing reads a run outside one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import settings

from panic_contract.mock import MOCK_TOKEN, create_app, known_callout_ids, serve
from panic_contract.pytest.schema import suite_schema
from tests.self.conftest import SUITE

KNOWN_IDS = {str(callout_id) for callout_id in known_callout_ids()}  # what the mock serves


class PathLog:
    """The clean mock, noting the path of every request it gets."""

    def __init__(self) -> None:
        self.app, self.paths = create_app(), list[str]()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)

    def ids(self) -> set[str]:
        """The ids of existing callouts asked for (negative cases may ask for any other)."""
        return {
            path.rsplit("/", 1)[-1] for path in self.paths if path.startswith("/panic-api/v2/callouts/")
        } & KNOWN_IDS


@pytest.fixture
def two_servers() -> Iterator[list[tuple[str, PathLog]]]:
    with ExitStack() as stack:
        logs = [PathLog(), PathLog()]
        yield [(stack.enter_context(serve(log)), log) for log in logs]


def test_two_runs_in_one_process_each_send_to_their_own_target_with_their_own_ids(
    run_suite: Any, two_servers: list[tuple[str, PathLog]]
) -> None:
    """A run that read the first run's state (its ids, its schema's ids) would ask the second server for 992011.

    Before the run lived in the config, a second run in one process failed 19 tests (the schema was cached
    for the process)."""
    for (base_url, log), callout_id in zip(two_servers, ["992011", "992012"], strict=True):
        run = run_suite(
            *("--base-url", base_url, "--callout-ids", callout_id, "--rate-limit", "0"),  # 25 generated cases
            env={"PANIC_API_TOKEN": MOCK_TOKEN},
        )
        assert (0, "ok") == (run.result.ret, run.report["verdict"]), run.output
        assert run.report["base_url"] == base_url
        assert f'name="test_known_callout_honours_the_contract[{callout_id}]"' in run.junit
        assert 1 == run.junit.count('name="test_known_callout_honours_the_contract[')
        assert {callout_id} == log.ids(), log.paths  # the probes and every positive generated case
        assert run.report["validated_bodies"] > 1  # the property test sent some of them


def process_state() -> tuple[str | None, Any, Any, set[str]]:
    return (
        settings.get_current_profile_name(),
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
        {thread.name for thread in threading.enumerate()},
    )


@pytest.fixture
def another_profile() -> Iterator[str]:
    """A profile none of the suite's runs loads, so a run that left its own behind shows."""
    before = settings.get_current_profile_name()
    settings.load_profile("default")
    yield "default"
    settings.load_profile(before)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="the-plugin-loads-the-profile"),
        pytest.param(("--hypothesis-profile=live",), id="hypothesis-loads-the-given-profile"),
        pytest.param(("--rate-limit", "fast"), id="a-usage-error-in-configure"),
    ],
)
def test_a_run_leaves_the_profile_the_signal_handlers_and_the_threads_as_it_found_them(
    args: tuple[str, ...], pytester: pytest.Pytester, another_profile: str
) -> None:
    before = process_state()
    assert another_profile == before[0]
    result = pytester.runpytest_inprocess(str(SUITE), "-p", "no:cacheprovider", *args)
    assert result.ret in {0, 4}, result.stdout.str() + result.stderr.str()
    assert before == process_state()


def test_the_schema_is_read_only_while_a_run_collects() -> None:
    with pytest.raises(RuntimeError, match="the panic-api plugin is not active"):
        suite_schema()
