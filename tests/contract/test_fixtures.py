"""Each fixture in contracts/ honours the contract, and together they cover what the contract allows.

A fixture that names no operation or status in the spec fails here, so fixtures cannot rot.
A malformed file fails its own test with the one-line reason, instead of breaking collection.
The plugin parametrizes `fixture_file` with the files of the run's folder (`--contracts-dir`), and
`nullable_field` with the nullable fields of the run's spec (`--spec`); these tests send nothing, so they
ask for the folder (`panic_contracts_dir`) and the contract (`panic_contract`), not for the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from panic_contract.core.contract import Contract
from panic_contract.core.findings import inspect
from panic_contract.core.fixtures import (
    CONTRACTS_DIR,
    Fixture,
    FixtureError,
    iter_fixtures,
    load_fixture,
    served_callout,
)


def loaded(*, path: Path | None = None, folder: Path = CONTRACTS_DIR) -> list[Fixture]:
    """One fixture file, or all of the folder's; a bad file fails the test with its one-line reason."""
    try:
        fixtures = [load_fixture(path)] if path else list(iter_fixtures(folder))
        for fixture in fixtures:
            served_callout(fixture)  # a 200 body that is not a callout object is a fixture error too
    except FixtureError as exc:
        reason = str(exc)
    else:
        return fixtures
    pytest.fail(reason, pytrace=False)  # outside `except`, so no chained traceback is shown


def callouts(folder: Path) -> list[tuple[Fixture, Mapping[str, Any]]]:
    """Each callout fixture with its body: a 200 answered to a request with a valid token."""
    return [(fixture, body) for fixture in loaded(folder=folder) if (body := served_callout(fixture)) is not None]


def test_fixture_names_an_operation_and_status_of_the_spec(fixture_file: Path, panic_contract: Contract) -> None:
    (fixture,) = loaded(path=fixture_file)
    name = fixture_file.name
    assert panic_contract.operation_id == fixture.operation, f"{name}: no operation {fixture.operation!r} in the spec"
    assert fixture.status in panic_contract.documented_statuses, f"{name}: status {fixture.status} is not in the spec"


def test_fixture_honours_the_contract(fixture_file: Path, panic_contract: Contract) -> None:
    (fixture,) = loaded(path=fixture_file)
    inspection = inspect(fixture.to_exchange(), panic_contract)
    name = fixture_file.name
    assert inspection.signal is None, f"{name}: {fixture.status} with valid credentials is {inspection.signal}"
    messages = [f"{name}: {finding.message()}" for finding in inspection.findings]
    if messages:
        pytest.fail("\n".join(messages), pytrace=False)


def test_callout_fixtures_cover_every_known_status_in_any_casing(
    panic_contracts_dir: Path, panic_contract: Contract
) -> None:
    covered = {str(body["status"]).casefold() for _, body in callouts(panic_contracts_dir)}
    assert set() == panic_contract.known_statuses_folded - covered


def test_callout_fixtures_show_each_nullable_field_null(nullable_field: str, panic_contracts_dir: Path) -> None:
    bodies = callouts(panic_contracts_dir)
    assert any(body.get(nullable_field, "") is None for _, body in bodies), f"no 200 fixture has {nullable_field} null"


def test_callout_fixture_ids_are_unique_within_a_provenance(panic_contracts_dir: Path) -> None:
    """A recording may shadow a synthetic callout of the same id (the mock serves the recording)."""
    keys = [(fixture.data["provenance"]["source"], repr(body["id"])) for fixture, body in callouts(panic_contracts_dir)]
    assert sorted(set(keys)) == sorted(keys)
