"""Where one run keeps its state: the pytest config's stash, under typed keys declared here and nowhere else.

Nothing of a run lives in a module global, so two runs in one process (pytester's in-process runs, the
project's own tests) never see each other's target, ledger or schema. What a run changes for the whole
process (the hypothesis profile, signal handlers) is undone at its end from `UNDO`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from panic_contract.core.ending import Ending
from panic_contract.pytest.run import SuiteRun

RUN = pytest.StashKey[SuiteRun]()  # the run's target, ledger and sender, from configure to unconfigure
SCHEMA = pytest.StashKey[Any]()  # the schemathesis schema of this run, built at the first collection that asks
ENDING = pytest.StashKey[Ending]()  # the verdict, its lines and exit code, from sessionfinish to the summary
UNDO = pytest.StashKey[list[Callable[[], None]]]()  # what configure changed for the process, undone last first


def run_of(config: pytest.Config) -> SuiteRun | None:
    """The run of this pytest config; None without one (`--help`, or a configure that stopped on an error)."""
    return config.stash.get(RUN, None)
