"""The schemathesis schema of one run, for the property test's `@schema.parametrize()`.

`schemathesis.pytest.from_fixture` breaks on pytest 9.2 (its lazy schema reads `Node._nodeid`, which
pytest 9.2 replaced: pytest-dev/pytest#14758), so the schema is built when the test module is imported.
A module is imported while pytest collects it: the plugin names the collecting config (`collecting`),
and `suite_schema()` builds the schema of that config's run, once, into its stash. Requests do not go
through schemathesis's transport: the run's one sender sends them, and `case.validate_response` checks
what came back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import pytest

from panic_contract.pytest.keys import SCHEMA, run_of
from panic_contract.pytest.run import SuiteRun

_COLLECTING: ContextVar[pytest.Config | None] = ContextVar("panic_api_collecting", default=None)


@contextmanager
def collecting(config: pytest.Config) -> Iterator[None]:
    """While `config` collects: the test modules it imports read their run from it."""
    token = _COLLECTING.set(config)
    try:
        yield
    finally:
        _COLLECTING.reset(token)


def suite_schema() -> Any:
    """The schema of the run that is collecting this module (called at import of the suite's modules)."""
    config = _COLLECTING.get()
    run = None if config is None else run_of(config)
    if config is None or run is None:
        raise RuntimeError("the panic-api plugin is not active: run the suite with pytest from the project root")
    if SCHEMA not in config.stash:
        config.stash[SCHEMA] = _schema_of(run)
    return config.stash[SCHEMA]


def _schema_of(run: SuiteRun) -> Any:
    import schemathesis
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_path(str(run.contract.spec_path))
    schema.config.update(base_url=run.target.display_url)
    ids = run.target.callout_ids
    # Random ids almost never exist on a real server: positive cases also try the ids known to exist.
    chosen_ids: tuple[int | None, ...] = (None, *ids)
    if run.target.live:
        # Every request to a live target counts against its rate limit. The deterministic probes, sent first,
        # already ask what the coverage phase would (no token, 7 other methods, 5 ids of the wrong type: ~16
        # requests), one request each, and the known ids stand in for the examples phase (the documented id):
        # only the fuzzing phase runs. Its positive cases use the known ids alone, so each validates a callout.
        # Without ids, the examples phase stays: the documented callout is the one id likely to exist.
        schema.config.phases.coverage.enabled = False
        if ids:
            schema.config.phases.examples.enabled = False
            chosen_ids = tuple(ids)
    parameter = run.contract.path_parameter

    def with_id(case: Any, chosen: int | None) -> Any:
        if chosen is not None:
            case.path_parameters = {**(case.path_parameters or {}), parameter: chosen}
        return case

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        if not ids or case.meta is None or case.meta.generation.mode.is_negative:
            return st.just(case)
        return st.sampled_from(chosen_ids).map(lambda chosen: with_id(case, chosen))

    return schema
