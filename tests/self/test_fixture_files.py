"""The fixture file format: a bad file is one line naming it and the fix; writes are atomic."""

from __future__ import annotations

import base64
import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from panic_contract import outputs
from panic_contract.core import fixtures as fixture_files
from panic_contract.core.fixtures import CONTRACTS_DIR, check_record, fixture_text, load_fixture
from panic_contract.errors import FixtureError
from tests.self.conftest import LIVE_ENV, live_args

EXAMPLE = json.loads((CONTRACTS_DIR / "callout-documented-example.json").read_text(encoding="utf-8"))
RECORDED = {"source": "recorded", "target": "staging", "recorded_at": "2024-04-20T14:45:00Z", "tool_version": "0.1"}
FORMAT_HINT = "(see README.md, 'Adding a fixture', for the format)"


def dump_fixture(data: Any, path: Path) -> None:
    """A fixture written as the recorder writes one: checked, then written whole or not at all."""
    outputs.write_atomically(path, fixture_text(data, path))


def edited(change: Any) -> dict[str, Any]:
    record = copy.deepcopy(EXAMPLE)
    change(record)
    return record


def write(path: Path, record: Any) -> Path:
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def test_documented_example_loads_as_an_exchange() -> None:
    exchange = load_fixture(CONTRACTS_DIR / "callout-documented-example.json").to_exchange()
    assert ("GET", "/panic-api/v2/callouts/992011", 200, "valid") == (
        exchange.method,
        exchange.path,
        exchange.status,
        exchange.credentials,
    )
    assert 992011 == exchange.parsed["id"]


@pytest.mark.parametrize(
    ("text", "says", "fix"),
    [
        ('{"description": ', "not valid JSON: ", "(fix or delete the file)"),
        (
            json.dumps(edited(lambda r: r["response"].pop("status"))),
            'not a fixture: at response: "status" is a required property',
            FORMAT_HINT,
        ),
        (
            json.dumps(edited(lambda r: r["request"].update(headers={"Authorization": "Bearer x"}))),
            "not a fixture: at request: Additional properties are not allowed ('headers' was unexpected)",
            FORMAT_HINT,
        ),
    ],
    ids=["bad-json", "missing-response-status", "request-with-headers"],
)
def test_malformed_fixture_is_one_line_naming_the_file_and_the_fix(
    tmp_path: Path, text: str, says: str, fix: str
) -> None:
    path = tmp_path / "callout-broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FixtureError) as raised:
        load_fixture(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {says}")
    assert message.endswith(fix)
    assert "\n" not in message


def test_missing_fixture_folder_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(
        FixtureError,
        match=r"no-such-dir: no such fixture folder \(create it, or point --contracts-dir at one\)",
    ):
        list(fixture_files.iter_fixtures(tmp_path / "no-such-dir"))


@pytest.mark.parametrize("missing", ["target", "recorded_at", "tool_version"])
def test_recorded_provenance_must_say_where_when_and_by_what(missing: str) -> None:
    provenance = dict(RECORDED)
    del provenance[missing]
    with pytest.raises(FixtureError, match=rf"at provenance: \"{missing}\" is a required property"):
        check_record(edited(lambda r: r.update(provenance=provenance)), "recorded.json")


def test_complete_recorded_provenance_is_accepted() -> None:
    check_record(edited(lambda r: r.update(provenance=RECORDED)), "recorded.json")


def test_dump_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "callout.json"
    dump_fixture(EXAMPLE, path)
    assert EXAMPLE == load_fixture(path).data


def test_dump_refuses_a_record_that_is_not_a_fixture_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "callout.json"
    with pytest.raises(FixtureError, match=r"callout\.json: not a fixture: at the top level: \"description\""):
        dump_fixture(edited(lambda r: r.pop("description")), path)
    assert [] == list(tmp_path.iterdir())


@pytest.mark.parametrize("fail_in", ["os.replace", "os.fsync"])
def test_dump_that_fails_midway_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_in: str
) -> None:
    path = write(tmp_path / "callout.json", EXAMPLE)
    old = path.read_bytes()

    def fail(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, fail_in.removeprefix("os."), fail)
    with pytest.raises(OSError, match="disk full"):
        dump_fixture(edited(lambda r: r.update(description="a newer recording")), path)
    assert old == path.read_bytes()
    assert [path] == list(tmp_path.iterdir())  # no temporary file left behind


# --- a 200 fixture must hold a callout object ----------------------------------------------------------

NOT_A_CALLOUT = {
    "list": ([EXAMPLE["response"]["body"]], "it is an array"),
    "no-status": ({k: v for k, v in EXAMPLE["response"]["body"].items() if k != "status"}, "it has no status"),
    "no-id": ({k: v for k, v in EXAMPLE["response"]["body"].items() if k != "id"}, "it has no id"),
    "neither": ({"customerId": 178921}, "it has no id and no status"),
    "id-list": ({**EXAMPLE["response"]["body"], "id": [992011]}, "its id is not a single value"),
}


def write_not_a_callout(folder: Path, case: str) -> Path:
    body = NOT_A_CALLOUT[case][0]
    return write(folder / "callout-not-a-callout.json", edited(lambda r: r["response"].update(body=body)))


@pytest.mark.parametrize("case", sorted(NOT_A_CALLOUT))
def test_a_200_body_that_is_not_a_callout_object_is_one_line_naming_the_file(case: str, tmp_path: Path) -> None:
    path = write_not_a_callout(tmp_path, case)
    with pytest.raises(FixtureError) as raised:
        fixture_files.served_callout(load_fixture(path))
    message = str(raised.value)
    assert message == (
        f"{path}: response.body of a 200 fixture must be a callout object with an id and a status, "
        f"but {NOT_A_CALLOUT[case][1]} (fix the body, or record the fixture again)"
    )
    assert "178921" not in message  # the body's values are not echoed


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["response"].update(status=404, body={"message": "Callout not found"}),
        lambda r: r["request"].update(credentials="missing"),
        lambda r: (r["response"].pop("body"), r["response"].update(body_text="{")),
    ],
    ids=["an-error", "without-a-token", "not-json"],
)
def test_fixtures_that_serve_no_callout_have_none(change: Any, tmp_path: Path) -> None:
    fixture = load_fixture(write(tmp_path / "other.json", edited(change)))
    assert fixture_files.served_callout(fixture) is None


def test_a_200_body_that_is_not_a_callout_fails_the_fixture_tests_in_one_line(
    tmp_path: Path, run_suite: Any, live_mock: Any
) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    write(folder / "callout-documented-example.json", EXAMPLE)
    path = write_not_a_callout(folder, "list")
    ran = run_suite(
        f"--contracts-dir={folder}", *live_args(live_mock()), "-k", "test_fixtures and callout", env=LIVE_ENV
    )
    assert f"{path}: response.body of a 200 fixture must be a callout object" in ran.output
    for crash in ("Traceback", "AttributeError", "KeyError", "TypeError"):
        assert crash not in ran.output


# --- bodies that are not UTF-8, and how files are written ----------------------------------------------


def test_a_body_that_is_not_utf8_is_kept_as_base64_and_read_back_as_bytes(tmp_path: Path) -> None:
    raw = b'{"id": 1, "status": "\xff"}'
    record = edited(
        lambda r: (r["response"].pop("body"), r["response"].update(body_base64=base64.b64encode(raw).decode()))
    )
    path = tmp_path / "callout.json"
    dump_fixture(record, path)
    assert raw == load_fixture(path).to_exchange().body


@pytest.mark.parametrize(
    "response",
    [{"body_base64": "not base64!"}, {"body_base64": "abc"}, {"body_base64": "", "body_text": ""}],
    ids=["not-base64", "unpadded", "two-bodies"],
)
def test_a_base64_body_must_be_base64_and_alone(response: dict[str, str]) -> None:
    record = edited(lambda r: (r["response"].pop("body"), r["response"].update(response)))
    with pytest.raises(FixtureError, match=r"^x\.json: not a fixture: at response[:/]"):
        check_record(record, "x.json")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_are_written_with_the_users_umask(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        outputs.write_atomically(tmp_path / "report.json", "{}\n")
    finally:
        os.umask(previous)
    assert 0o666 & ~umask == (tmp_path / "report.json").stat().st_mode & 0o777


def test_a_set_written_all_or_nothing_puts_back_what_was_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b.json").write_text("old b")
    real, calls = os.replace, []

    def fails_second(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "replace", fails_second)
    with pytest.raises(outputs.WriteError) as raised:
        outputs.write_all_or_nothing({tmp_path / "a.json": "new a", tmp_path / "b.json": "new b"})
    assert str(tmp_path / "b.json") == raised.value.filename
    assert "Input/output error" == raised.value.strerror
    assert {"b.json": "old b"} == {path.name: path.read_text() for path in tmp_path.iterdir()}
