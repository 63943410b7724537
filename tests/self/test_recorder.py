"""`panic-contract record`: scrubbed fixtures, no secrets, safe overwrites, the shape diff, exit codes."""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.commands import record as recorder
from panic_contract.core import fixtures as fixture_files
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Exchange, inspect
from panic_contract.core.fixtures import check_record, iter_fixtures, load_fixture
from panic_contract.mock import MOCK_TOKEN, known_callout_ids
from panic_contract.recording import scrub as scrubbing
from tests.self.faulty_servers import faulty_server, redirect_target_requests
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

SENTINEL_TOKEN = "sentinel-token-7f3a"
SENTINEL_SECRET = "sentinel-secret-9e2b"
SECOND = {
    **CALLOUT,
    "id": 992012,
    "customerId": 204417,
    "predefinedLocationId": None,
    "status": "created",
    "latitude": None,
    "longitude": None,
}
CONTRACT = default_contract()
JSON = "application/json"
RAW_PERSONAL_VALUES = ("178921", "204417", "-33.9258", "18.4233")
STAGING_HOST = "staging-panic.aura.services"
RECORDED_NAMES = [
    "recorded-401.json",
    "recorded-404.json",
    "recorded-callout-992011.json",
    "recorded-callout-992012.json",
]


@dataclass
class FakeApi:
    """The live API as respx plays it: a token, some callouts, and switches to misbehave."""

    callouts: dict[int, dict[str, Any]]
    router: respx.MockRouter
    accept_token: bool = True
    token: str = SENTINEL_TOKEN  # the one token it accepts
    faults: dict[int, Exception | httpx.Response] = field(default_factory=dict)

    def answer(self, request: httpx.Request, callout_id: str) -> httpx.Response:
        if int(callout_id) in self.faults:
            fault = self.faults[int(callout_id)]
            if isinstance(fault, Exception):
                raise fault
            return fault
        if not self.accept_token or request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"message": "Unauthorized"})
        if int(callout_id) not in self.callouts:
            return httpx.Response(404, json={"message": "Callout not found"})
        return httpx.Response(200, json=self.callouts[int(callout_id)])

    @property
    def calls(self) -> int:
        return int(self.router.calls.call_count)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    for name in list(os.environ):
        if name.startswith(("PANIC_API_", "PANIC_CONTRACT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PANIC_API_TOKEN", SENTINEL_TOKEN)
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        fake = FakeApi({992011: copy.deepcopy(CALLOUT), 992012: copy.deepcopy(SECOND)}, router)
        router.get(path__regex=r"^/panic-api/v2/callouts/(?P<callout_id>\d+)$").mock(side_effect=fake.answer)
        yield fake


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "contracts"


def record(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="panic-contract record")
    recorder.add_arguments(parser)
    return recorder.run(parser.parse_args(argv))


def record_into(out: Path, *argv: str, ids: str = "992011,992012", target: str = "staging") -> int:
    """As a user would run it against staging, minus the rate limit and the retry waits."""
    named = ["--target", target] if target else []
    return record(*named, "--ids", ids, "--out", str(out), "--rate-limit", "0", "--retries", "0", *argv)


def everything_in(directory: Path) -> str:
    return "".join(path.read_text() for path in sorted(directory.iterdir())) if directory.exists() else ""


def snapshot(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


def test_recording_writes_scrubbed_fixtures_the_suite_accepts(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 0 == record_into(out)
    captured = capsys.readouterr()
    assert RECORDED_NAMES == sorted(path.name for path in out.iterdir())
    contract = default_contract()
    for fixture in iter_fixtures(out):
        check_record(fixture.data, fixture.name)
        inspection = inspect(fixture.to_exchange(), contract)
        assert ((), None) == (inspection.findings, inspection.signal), fixture.name
        provenance = fixture.data["provenance"]
        assert ("recorded", STAGING_HOST) == (provenance["source"], provenance["target"])
        assert metadata.version("panic-contract") == provenance["tool_version"]
    written = everything_in(out) + captured.out + captured.err
    for secret_or_personal in (SENTINEL_TOKEN, "authorization", *RAW_PERSONAL_VALUES):
        assert secret_or_personal not in written.lower()
    assert [
        f"recording 4 exchange(s) from {STAGING_HOST} into {out}/",
        "[1/4] 992011 200 ok",
        "[2/4] 992012 200 ok",
        "[3/4] 999999999 (no such id) 404 ok",
        "[4/4] 992011 (no token) 401 ok",
        f"recorded 4 fixture(s) into {out}/ from {STAGING_HOST}, scrubbed; 0 with shape drift",
    ] == captured.out.splitlines()


def test_scrubbing_keeps_types_nulls_status_and_ids(api: FakeApi, out: Path) -> None:
    record_into(out)
    first = load_fixture(out / "recorded-callout-992011.json").body
    second = load_fixture(out / "recorded-callout-992012.json").body
    assert (-33.93, 18.42) == (first["latitude"], first["longitude"])
    assert isinstance(first["customerId"], int)
    assert first["customerId"] != CALLOUT["customerId"]
    assert {**CALLOUT, "customerId": first["customerId"], "latitude": -33.93, "longitude": 18.42} == first
    assert {**SECOND, "customerId": second["customerId"]} == second  # nulls stay null


def test_pseudonyms_are_stable_per_key_and_keep_the_json_type() -> None:
    key = scrubbing.DEFAULT_SCRUB_KEY
    pseudonym = scrubbing.pseudonym(178921, key)
    assert pseudonym == scrubbing.pseudonym(178921, key)
    assert isinstance(pseudonym, int)
    assert pseudonym not in {178921, scrubbing.pseudonym(178922, key), scrubbing.pseudonym(178921, b"other key")}
    assert str(pseudonym) == scrubbing.pseudonym("178921", key)
    assert float(pseudonym) == scrubbing.pseudonym(178921.0, key)
    assert [None, True] == [scrubbing.pseudonym(None, key), scrubbing.pseudonym(True, key)]


def test_coordinates_are_coarsened_without_changing_their_type() -> None:
    assert -33.93 == scrubbing.coarsen(-33.9258)
    assert isinstance(scrubbing.coarsen(18.0), float)
    assert -34 == scrubbing.coarsen(-34)
    assert "-33.93,18.42" == scrubbing.coarsen("-33.9258,18.4233")
    assert scrubbing.coarsen(None) is None


def test_scrubbing_reaches_nested_fields_and_keeps_unknown_ones() -> None:
    body = {"message": "ok", "callout": {"customerId": 178921, "latitude": -33.9258}, "responderEta": 420}
    scrubbed = scrubbing.scrub(body, scrubbing.DEFAULT_SCRUB_KEY)
    assert {"message", "callout", "responderEta"} == set(scrubbed)
    assert (-33.93, 420) == (scrubbed["callout"]["latitude"], scrubbed["responderEta"])
    assert 178921 != scrubbed["callout"]["customerId"]


def test_a_non_json_body_naming_personal_fields_is_withheld_but_stays_malformed() -> None:
    entry = scrubbing.body_entry(b'{"customerId": 178921, "latit', scrubbing.DEFAULT_SCRUB_KEY)
    assert "178921" not in entry["body_text"]
    assert {"body_text": "<html>Bad gateway</html>"} == scrubbing.body_entry(b"<html>Bad gateway</html>", b"k")


def test_scrub_key_from_the_environment_changes_the_pseudonyms(
    api: FakeApi, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_into(out)
    monkeypatch.setenv("PANIC_CONTRACT_SCRUB_KEY", "a-secret-scrub-key")
    record_into(tmp_path / "keyed")
    default = load_fixture(out / "recorded-callout-992011.json").body["customerId"]
    keyed = load_fixture(tmp_path / "keyed" / "recorded-callout-992011.json").body
    assert default != keyed["customerId"]
    assert "a-secret-scrub-key" not in everything_in(tmp_path / "keyed")


def test_no_scrub_keeps_raw_values_only_when_asked(api: FakeApi, out: Path) -> None:
    assert 0 == record_into(out, "--no-scrub")
    fixture = load_fixture(out / "recorded-callout-992011.json")
    assert CALLOUT == fixture.body
    assert fixture.data["provenance"]["scrubbed"] is False


def test_client_credentials_and_token_never_reach_files_output_or_logs(
    api: FakeApi,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("PANIC_API_TOKEN")
    monkeypatch.setenv("PANIC_API_CLIENT_ID", "client-1")
    monkeypatch.setenv("PANIC_API_CLIENT_SECRET", SENTINEL_SECRET)
    # A token of this test alone: one another test registered as a secret would come back masked from the
    # token endpoint (a bug in sending.py, pinned by test_sending's xfail), and this test is about leaks.
    api.token = "sentinel-token-exchanged-52d8"
    token = api.router.post(path="/panic-api/v2/oauth/token").respond(200, json={"accessToken": api.token})
    assert 0 == record_into(out)
    assert 1 == token.call_count
    captured = capsys.readouterr()
    written = everything_in(out) + captured.out + captured.err + caplog.text
    assert caplog.records  # httpx logged its requests: the check below read real log lines
    assert api.token not in written
    assert SENTINEL_SECRET not in written


def test_the_target_is_the_base_url_flag_then_target_staging_then_the_variables(
    api: FakeApi, out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_into(out)
    monkeypatch.setenv("PANIC_API_BASE_URL", "https://from-variable.test")
    record_into(tmp_path / "variable", target="")
    record_into(tmp_path / "flag", "--base-url", "https://from-flag.test/")
    record_into(tmp_path / "staging")  # --target staging wins over the variable
    monkeypatch.delenv("PANIC_API_BASE_URL")
    monkeypatch.setenv("PANIC_API_TARGET", "staging")
    record_into(tmp_path / "target-variable", target="")
    folders = ("variable", "flag", "staging", "target-variable")
    targets = [
        load_fixture(directory / "recorded-404.json").data["provenance"]["target"]
        for directory in (out, *(tmp_path / name for name in folders))
    ]
    assert [STAGING_HOST, "from-variable.test", "from-flag.test", STAGING_HOST, STAGING_HOST] == targets


@pytest.mark.parametrize(
    ("target_variable", "first_words"),
    [(None, "no target"), ("mock", "PANIC_API_TARGET is 'mock', not a live target")],
    ids=["nothing", "target-mock"],
)
def test_without_a_named_live_target_nothing_is_sent_and_the_line_says_how_to_name_one(
    api: FakeApi,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    target_variable: str | None,
    first_words: str,
) -> None:
    """The suite defaults to the mock; record has no default: leaving the target out never reaches staging."""
    if target_variable:
        monkeypatch.setenv("PANIC_API_TARGET", target_variable)
    assert 4 == record_into(out, target="")
    assert [
        f"panic-contract record: error: {first_words}: record reaches a live target only when it is named; pass "
        "--target staging, or --base-url URL for another server of this API (or set PANIC_API_TARGET=staging or "
        "PANIC_API_BASE_URL); nothing was sent"
    ] == capsys.readouterr().err.splitlines()
    assert 0 == api.calls
    assert not out.exists()


def test_record_help_says_it_sends_only_to_a_target_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["record", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "It sends only to a live target you name: --target staging, or --base-url URL (or PANIC_API_TARGET=staging, "
        "PANIC_API_BASE_URL); without one it is a usage error and nothing is sent."
    ) in text
    assert "--allow-drift KIND[,KIND]" in text


def test_ids_can_come_from_the_environment(api: FakeApi, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANIC_API_CALLOUT_IDS", "992012")
    assert 0 == record("--target", "staging", "--out", str(out), "--rate-limit", "0")
    assert (out / "recorded-callout-992012.json").exists()


def test_an_existing_fixture_is_replaced_only_with_update(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_into(out)
    before, calls = snapshot(out), api.calls
    capsys.readouterr()
    assert 4 == record_into(out)
    captured = capsys.readouterr()
    assert [
        f"panic-contract record: verdict: usage (exit 4): {out / 'recorded-callout-992011.json'} already exists "
        "(4 of 4 fixtures do): pass --update to replace them, or --check to compare without writing"
    ] == captured.err.splitlines()
    assert before == snapshot(out)
    assert calls == api.calls  # refused before anything was sent
    api.callouts[992012]["status"] = "closed"
    assert 0 == record_into(out, "--update")
    assert '"status": "closed"' in (out / "recorded-callout-992012.json").read_text()


def test_an_interrupted_write_leaves_the_previous_fixtures_whole(
    api: FakeApi, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_into(out)
    before = snapshot(out)
    api.callouts[992011]["status"] = "closed"

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)  # fixture_files renames the finished temporary file with it
    with pytest.raises(KeyboardInterrupt):
        record_into(out, "--update")
    assert before == snapshot(out)  # and no temporary file was left behind


def test_an_outage_half_way_writes_nothing_and_exits_10(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.faults[992012] = httpx.ReadTimeout("timed out")
    assert 10 == record_into(out, "--request-timeout", "4")
    captured = capsys.readouterr()
    assert [
        f"panic-contract record: verdict: outage (exit 10): cannot reach {STAGING_HOST}: no response within 4s "
        "(--request-timeout) (1 attempt); nothing was written"
    ] == captured.err.splitlines()
    assert not out.exists()


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (httpx.Response(503), f"{STAGING_HOST} kept answering 503 Service Unavailable (1 attempt)"),
        (httpx.Response(429), f"{STAGING_HOST} kept answering 429 Too Many Requests (1 attempt); lower --rate-limit"),
    ],
    ids=["gateway", "rate-limited"],
)
def test_a_target_that_keeps_failing_is_an_outage(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str], fault: httpx.Response, reason: str
) -> None:
    api.faults[992011] = fault
    assert 10 == record_into(out)
    assert [f"panic-contract record: verdict: outage (exit 10): {reason}; nothing was written"] == (
        capsys.readouterr().err.splitlines()
    )
    assert not out.exists()


def test_a_rejected_token_exits_11_with_one_line(api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.accept_token = False
    assert 11 == record_into(out)
    assert [
        f"panic-contract record: verdict: auth (exit 11): {STAGING_HOST} rejected our token "
        "(401 to a request that carried it): refresh PANIC_API_TOKEN; nothing was written"
    ] == capsys.readouterr().err.splitlines()
    assert not out.exists()


def test_rejected_client_credentials_exit_11(
    api: FakeApi, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PANIC_API_TOKEN")
    monkeypatch.setenv("PANIC_API_CLIENT_ID", "client-1")
    monkeypatch.setenv("PANIC_API_CLIENT_SECRET", SENTINEL_SECRET)
    api.router.post(path="/panic-api/v2/oauth/token").respond(401, json={"message": "bad client"})
    assert 11 == record_into(out)
    assert [
        f"panic-contract record: verdict: auth (exit 11): {STAGING_HOST} rejected the client credentials "
        "(HTTP 401 from /panic-api/v2/oauth/token): check PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET; "
        "nothing was written"
    ] == capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("argv", "unset_token", "reason"),
    [
        (
            ["--ids", "992011"],
            True,
            "no credentials: set PANIC_API_TOKEN, or PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET",
        ),
        (
            ["--ids", "992011,99x"],
            False,
            "--callout-ids (or PANIC_API_CALLOUT_IDS) is '992011,99x'; '99x' is not a callout id: "
            "give comma-separated callout ids, e.g. 992011,992012",
        ),
        (
            ["--ids", " "],
            False,
            "--callout-ids (or PANIC_API_CALLOUT_IDS) is ' '; no callout id in it: "
            "give comma-separated callout ids, e.g. 992011,992012",
        ),
        ([], False, "no callout ids: pass --ids 992011,992012 (or set PANIC_API_CALLOUT_IDS)"),
        (
            ["--ids", "992011", "--base-url", "ftp://staging"],
            False,
            "--base-url (or PANIC_API_BASE_URL) is 'ftp://staging'; it is not an http(s) server root; "
            "give the server root as scheme://host[:port], e.g. http://127.0.0.1:8000",
        ),
    ],
    ids=["no-token", "bad-ids", "blank-ids", "no-ids", "bad-base-url"],
)
def test_command_line_errors_exit_4_with_one_error_line_and_send_nothing(
    api: FakeApi,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    unset_token: bool,
    reason: str,
) -> None:
    if unset_token:
        monkeypatch.delenv("PANIC_API_TOKEN")
    assert 4 == record("--target", "staging", "--out", str(out), *argv)
    assert [f"panic-contract record: error: {reason}"] == capsys.readouterr().err.splitlines()
    assert 0 == api.calls
    assert not out.exists()


def test_check_without_an_earlier_recording_is_a_usage_error(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 4 == record_into(out, "--check")
    assert [
        f"panic-contract record: verdict: usage (exit 4): --check found no earlier recording in {out}/ "
        "to compare with: record first"
    ] == capsys.readouterr().err.splitlines()


def drift_the_documented_callout(api: FakeApi) -> None:
    """Every kind of shape change at once: a field added, one removed, a type changed, a new status."""
    body = api.callouts[992011]
    del body["predefinedLocationId"]
    body.update(responderEta=420, customerId="178921", status="Escalated")


def test_the_shape_diff_names_each_change_per_callout_and_in_total(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_into(out)
    drift_the_documented_callout(api)
    capsys.readouterr()
    assert 0 == record_into(out, "--update", "--allow-drift=missing-field,type-changed,new-field,unknown-status")
    lines = capsys.readouterr().out.splitlines()
    assert f"recording 4 exchange(s) from {STAGING_HOST} into {out}/" == lines[0]
    assert "[1/4] 992011 200 missing-field, type-changed, new-field, unknown-status" == lines[1]
    assert [
        f"shape diff against the fixtures in {out}/:",
        "  recorded-callout-992011.json: shape changed",
        "    + $.responderEta: integer, added [new-field]",
        "    - $.predefinedLocationId: integer, removed [missing-field]",
        "    ~ $.customerId: integer -> string [type-changed]",
        '    ! $.status: string "Escalated", a status value never seen before [unknown-status]',
        "  recorded-callout-992012.json: same shape",
        "  recorded-404.json: same shape",
        "  recorded-401.json: same shape",
        "  total: 1 of 4 compared exchange(s) changed shape: 1 field(s) added, 1 removed, 1 type change(s), "
        "1 new status value(s); 0 value change(s) (not drift)",
        f"recorded 4 fixture(s) into {out}/ from {STAGING_HOST}, scrubbed; 1 with shape drift",
    ] == lines[5:]


def test_value_changes_are_listed_apart_and_are_not_drift(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_into(out)
    api.callouts[992012].update(status="closed", latitude=-33.9, longitude=18.4)  # null -> number: allowed
    capsys.readouterr()
    assert 0 == record_into(out, "--check")
    lines = capsys.readouterr().out.splitlines()
    assert "  recorded-callout-992012.json: same shape" in lines
    assert (
        "    = value changes (not drift): $.latitude: null -> number -33.9, $.longitude: null -> number 18.4, "
        '$.status: string "created" -> string "closed"'
    ) in lines
    assert f"verdict: ok (exit 0): no shape drift against {out}/; nothing written" == lines[-1]


def test_null_in_a_field_the_contract_does_not_allow_null_is_drift(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_into(out)
    api.callouts[992011]["customerId"] = None
    capsys.readouterr()
    assert 1 == record_into(out, "--check")
    assert "    ~ $.customerId: integer -> null [null-in-non-nullable]" in capsys.readouterr().out.splitlines()


def test_a_status_seen_in_an_earlier_fixture_is_not_new(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.callouts[992012]["status"] = "Escalated"
    assert 0 == record_into(out, "--allow-drift=unknown-status")
    api.callouts[992011]["status"] = "escalated"
    capsys.readouterr()
    assert 0 == record_into(out, "--check")
    assert "never seen before" not in capsys.readouterr().out


def test_a_status_code_change_is_drift(api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_into(out)
    del api.callouts[992012]
    capsys.readouterr()
    assert 1 == record_into(out, "--check")
    assert "    status code 200 -> 404" in capsys.readouterr().out.splitlines()


def test_check_exits_1_on_shape_drift_and_writes_nothing(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record_into(out)
    before = snapshot(out)
    drift_the_documented_callout(api)
    capsys.readouterr()
    assert 1 == record_into(out, "--check")
    assert (
        "verdict: drift (exit 1): shape drift in 1 of 4 exchange(s); nothing written"
        == (capsys.readouterr().out.splitlines()[-1])
    )
    assert before == snapshot(out)


def test_recording_from_the_mock_on_a_loopback_port_end_to_end(
    live_mock: Any,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Real sockets, the real mock: what it records the fixture checks accept; a drifted mock shows in the diff."""
    caplog.set_level(logging.DEBUG)
    for name in list(os.environ):
        if name.startswith(("PANIC_API_", "PANIC_CONTRACT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PANIC_API_TOKEN", MOCK_TOKEN)
    assert {992011, 992012} <= set(known_callout_ids())
    ids = "992011,992012"
    assert 0 == cli.main(["record", "--ids", ids, "--out", str(out), "--base-url", live_mock(), "--rate-limit", "0"])
    contract = default_contract()
    for fixture in iter_fixtures(out):
        inspection = inspect(fixture.to_exchange(), contract)
        assert ((), None) == (inspection.findings, inspection.signal), fixture.name
    assert RECORDED_NAMES == sorted(path.name for path in out.iterdir())
    written = everything_in(out) + caplog.text
    assert "send_request_headers" in caplog.text  # httpcore's debug log of the real transport was read
    assert MOCK_TOKEN not in written
    assert "178921" not in written  # the documented example's customerId
    capsys.readouterr()
    before = snapshot(out)

    drifted = ("--ids", ids, "--out", str(out), "--base-url", live_mock("new-field", "type-changed"), "--update")
    assert 1 == record(*drifted, "--rate-limit", "0")  # not asked for by name: nothing written, the findings listed
    refused = capsys.readouterr()
    assert before == snapshot(out)
    assert [
        "not written, the fixtures would carry findings:",
        '  recorded-callout-992011.json: GET /panic-api/v2/callouts/992011: $.id is string "992011", contract says '
        "integer [type-changed]",
    ] == refused.out.splitlines()[-5:-3]
    assert [
        "panic-contract record: verdict: drift (exit 1): 4 finding(s) in 2 fixture(s), which the fixture tests would "
        "fail on; nothing was written: to write them anyway, name their kinds with "
        "--allow-drift=type-changed,new-field"
    ] == refused.err.splitlines()

    assert 0 == record(*drifted, "--allow-drift=type-changed,new-field", "--rate-limit", "0")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("recording 4 exchange(s) from 127.0.0.1:")
    assert [
        "[1/4] 992011 200 type-changed, new-field",
        "[2/4] 992012 200 type-changed, new-field",
        "[3/4] 999999999 (no such id) 404 ok",
        "[4/4] 992011 (no token) 401 ok",
        f"shape diff against the fixtures in {out}/:",
        "  recorded-callout-992011.json: shape changed",
        "    + $.responderEta: integer, added [new-field]",
        "    ~ $.id: integer -> string [type-changed]",
        "  recorded-callout-992012.json: shape changed",
        "    + $.responderEta: integer, added [new-field]",
        "    ~ $.id: integer -> string [type-changed]",
        "  recorded-404.json: same shape",
        "  recorded-401.json: same shape",
        "  total: 2 of 4 compared exchange(s) changed shape: 2 field(s) added, 2 type change(s); "
        "0 value change(s) (not drift)",
    ] == lines[1:-1]


# --- where it writes, and all or nothing --------------------------------------------------------------


def test_the_default_out_is_the_projects_contracts_folder_whatever_the_current_folder(
    api: FakeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fixture_files.CONTRACTS_DIR == recorder.default_out()  # a checkout: its own contracts/
    project = tmp_path / "project" / "contracts"
    project.mkdir(parents=True)
    monkeypatch.setattr(recorder, "CONTRACTS_DIR", project)
    elsewhere = tmp_path / "tests"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert 0 == record("--target", "staging", "--ids", "992011", "--rate-limit", "0", "--retries", "0")
    assert f"recording 3 exchange(s) from {STAGING_HOST} into {project}/" == capsys.readouterr().out.splitlines()[0]
    assert ["recorded-401.json", "recorded-404.json", "recorded-callout-992011.json"] == sorted(
        path.name for path in project.iterdir()
    )
    assert [] == list(elsewhere.iterdir())


def test_installed_from_a_wheel_the_default_out_is_the_current_folders_contracts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "CONTRACTS_IN_CHECKOUT", False)
    monkeypatch.chdir(tmp_path)
    assert tmp_path / "contracts" == recorder.default_out()


@pytest.mark.parametrize("in_the_way", ["out-is-a-file", "parent-is-a-file"])
def test_an_out_folder_that_cannot_be_made_is_refused_before_anything_is_sent(
    api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str], in_the_way: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    out = blocker if in_the_way == "out-is-a-file" else blocker / "contracts"
    assert 4 == record_into(out)
    err = capsys.readouterr().err
    assert 1 == err.count("\n"), err
    assert err.startswith(f"panic-contract record: verdict: usage (exit 4): --out {out}")
    assert "is a file, not a folder" in err
    assert 0 == api.calls
    assert "not a folder" == blocker.read_text()


def test_an_out_folder_that_refuses_files_is_refused_before_anything_is_sent(
    api: FakeApi, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out.mkdir()

    def read_only(*args: Any, **kwargs: Any) -> str:
        raise PermissionError(13, "Permission denied")  # as root, a chmod alone would not refuse

    monkeypatch.setattr(recorder.tempfile, "mkdtemp", read_only)
    assert 4 == record_into(out)
    assert [
        f"panic-contract record: verdict: usage (exit 4): --out {out}: cannot write in {out}: Permission denied; "
        "nothing was sent"
    ] == capsys.readouterr().err.splitlines()
    assert 0 == api.calls


def _fail_on_call(number: int, error: OSError, real: Any) -> Any:
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == number:
            raise error
        return real(*args, **kwargs)

    return failing


@pytest.mark.parametrize("update", [False, True], ids=["first-recording", "update"])
@pytest.mark.parametrize("fail_in", ["fsync", "replace"])
def test_a_write_failing_part_way_changes_nothing_in_out_and_exits_4(
    api: FakeApi,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    update: bool,
    fail_in: str,
) -> None:
    if update:
        assert 0 == record_into(out)
        api.callouts[992011]["status"] = "closed"
        api.callouts[992012]["status"] = "closed"
    before = snapshot(out) if out.exists() else None
    capsys.readouterr()
    full = OSError(28, "No space left on device")
    monkeypatch.setattr(os, fail_in, _fail_on_call(3, full, getattr(os, fail_in)))  # two files are in by then
    assert 4 == record_into(out, *(["--update"] if update else []))
    err = capsys.readouterr().err
    assert [
        "panic-contract record: verdict: usage (exit 4): cannot write the fixtures: "
        f"{_third_file()}: No space left on device (check --out {out}); "
        f"nothing in {out}/ was changed"
    ] == err.splitlines()
    assert "Traceback" not in err
    if before is None:
        assert not out.exists()
    else:
        assert before == snapshot(out)  # the old set, whole, and no temporary file left behind


def _third_file() -> str:
    return "recorded-404.json"  # the plan's order: each id, then the 404, then the 401


def test_a_folder_in_the_way_of_one_fixture_changes_nothing_in_out(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 0 == record_into(out)
    (out / "recorded-401.json").unlink()
    (out / "recorded-401.json").mkdir()
    before = snapshot_with_folders(out)
    api.callouts[992011]["status"] = "closed"
    capsys.readouterr()
    assert 4 == record_into(out, "--update")
    err = capsys.readouterr().err
    assert err.startswith(
        "panic-contract record: verdict: usage (exit 4): cannot write the fixtures: recorded-401.json: "
    )
    assert err.endswith(f"nothing in {out}/ was changed\n")
    assert before == snapshot_with_folders(out)


def snapshot_with_folders(directory: Path) -> dict[str, str]:
    return {path.name: "<folder>" if path.is_dir() else path.read_text() for path in sorted(directory.iterdir())}


def test_fixtures_are_written_with_the_users_umask(api: FakeApi, out: Path) -> None:
    previous = os.umask(0o022)
    try:
        assert 0 == record_into(out)
    finally:
        os.umask(previous)
    assert {0o644} == {path.stat().st_mode & 0o777 for path in out.iterdir()}


# --- bodies that are not UTF-8, and the summary -----------------------------------------------------------

NOT_UTF8 = b'{"id": 992011, "status": "Responder Dispatched \xff\xfe"}'


@pytest.mark.parametrize("scrub", [True, False], ids=["scrubbed", "no-scrub"])
def test_a_body_that_is_not_utf8_is_malformed_body_kept_byte_for_byte(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str], scrub: bool
) -> None:
    api.faults[992011] = httpx.Response(200, content=NOT_UTF8, headers={"content-type": "application/json"})
    # the fake answers the no-token probe of 992011 the same way: auth-not-enforced there, allowed with it
    allowed = "--allow-drift=malformed-body,auth-not-enforced"
    assert 0 == record_into(out, allowed, *([] if scrub else ["--no-scrub"]))
    assert "[1/4] 992011 200 malformed-body" in capsys.readouterr().out.splitlines()
    text = (out / "recorded-callout-992011.json").read_text(encoding="utf-8")
    assert "\ufffd" not in text
    fixture = load_fixture(out / "recorded-callout-992011.json")
    assert NOT_UTF8 == fixture.to_exchange().body
    suite = inspect(Exchange("GET", "/panic-api/v2/callouts/992011", 200, {"content-type": JSON}, NOT_UTF8), CONTRACT)
    assert [f.kind for f in suite.findings] == [f.kind for f in inspect(fixture.to_exchange(), CONTRACT).findings]
    assert ["malformed-body"] == [str(f.kind) for f in suite.findings]


def test_a_body_that_is_not_utf8_naming_personal_fields_is_withheld_when_scrubbing() -> None:
    entry = scrubbing.body_entry(b'{"customerId": 178921, "x": "\xff"}', scrubbing.DEFAULT_SCRUB_KEY)
    assert ["body_text"] == list(entry)
    assert entry["body_text"].startswith("<withheld by scrubbing: a non-JSON body of 32 bytes")


def test_a_first_recording_never_says_it_compared_none(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.callouts[992011]["status"] = "Escalated"
    assert 0 == record_into(out, "--allow-drift=unknown-status")
    out_lines = capsys.readouterr().out.splitlines()
    (total,) = [line for line in out_lines if line.startswith("  total:")]
    assert "of 0 compared" not in total
    assert total.startswith("  total: 1 new exchange(s) with drift: 1 new status value(s);")


# --- a recording cannot break the gate: what the fixture tests would fail on is written only by name ----------


def test_update_with_breaking_drift_writes_nothing_lists_the_findings_and_names_the_flag(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: written, exit 0, and the next plain `pytest` failed the fixture tests on it."""
    record_into(out)
    before = snapshot(out)
    api.callouts[992011]["customerId"] = None
    api.callouts[992012]["responderEta"] = 420
    capsys.readouterr()
    assert 1 == record_into(out, "--update")
    captured = capsys.readouterr()
    assert before == snapshot(out)
    assert [
        "not written, the fixtures would carry findings:",
        "  recorded-callout-992011.json: GET /panic-api/v2/callouts/992011: $.customerId is null, contract says "
        "integer [null-in-non-nullable]",
        "  recorded-callout-992012.json: GET /panic-api/v2/callouts/992012: $.responderEta is an undocumented field "
        "(integer 420), contract says no such field [new-field]",
    ] == captured.out.splitlines()[-3:]
    assert [
        "panic-contract record: verdict: drift (exit 1): 2 finding(s) in 2 fixture(s), which the fixture tests would "
        "fail on; nothing was written: to write them anyway, name their kinds with "
        "--allow-drift=null-in-non-nullable,new-field"
    ] == captured.err.splitlines()


def test_allowing_some_kinds_still_refuses_the_others_and_names_every_kind(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.callouts[992011]["customerId"] = None
    api.callouts[992012]["responderEta"] = 420
    assert 1 == record_into(out, "--allow-drift=new-field")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("panic-contract record: verdict: drift (exit 1): 1 finding(s) in 1 fixture(s), ")
    assert line.endswith("--allow-drift=null-in-non-nullable,new-field")
    assert not out.exists()
    # the flag repeated or comma-separated, as the line gives it: both write
    assert 0 == record_into(out, "--allow-drift=new-field", "--allow-drift", "null-in-non-nullable")
    assert load_fixture(out / "recorded-callout-992011.json").body["customerId"] is None


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--allow-drift=type-chnged"],
            "--allow-drift: 'type-chnged' is not a finding kind; did you mean type-changed?",
        ),
        (["--allow-drift=new-field,"], "--allow-drift: an empty kind; the kinds are " + ", ".join(recorder.KINDS)),
        (
            ["--allow-drift=new-field", "--check"],
            "--allow-drift says what to write, and --check writes nothing: give one of them",
        ),
    ],
    ids=["typo", "empty", "with-check"],
)
def test_allow_drift_that_cannot_be_used_is_an_error_line_before_anything_is_sent(
    api: FakeApi, out: Path, capsys: pytest.CaptureFixture[str], argv: list[str], line: str
) -> None:
    assert 4 == record_into(out, *argv)
    assert [f"panic-contract record: error: {line}"] == capsys.readouterr().err.splitlines()
    assert 0 == api.calls


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)


@st.composite
def drifted_callouts(draw: st.DrawFn) -> dict[str, Any]:
    """The documented callout, changed as a provider might: fields dropped, retyped, nulled, added, a new status."""
    body = copy.deepcopy(CALLOUT)
    if draw(st.booleans()):  # values the contract allows: such a recording is written
        body["status"] = draw(st.sampled_from(["created", "CLOSED", "responder dispatched", "Responder Cancelled"]))
        body["customerId"] = draw(st.integers(0, 2**31))
        body["latitude"] = body["longitude"] = draw(st.none() | st.floats(-90, 90))
        return body
    for name in draw(st.lists(st.sampled_from(sorted(CALLOUT)), max_size=3, unique=True)):
        change = draw(st.sampled_from(["drop", "value", "keep"]))
        if change == "drop":
            del body[name]
        elif change == "value":
            body[name] = draw(JSON_VALUES)
    if draw(st.booleans()):
        body[draw(st.sampled_from(["responderEta", "echo", "customerId"]))] = draw(JSON_VALUES)
    if draw(st.booleans()):
        body["status"] = draw(st.sampled_from(["closed", "Escalated", "CREATED", ""]))
    body["id"] = draw(st.sampled_from([992011, 992011, "992011", 992012]))
    return body


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=drifted_callouts())
def test_whatever_the_target_sends_record_update_writes_only_what_the_fixture_tests_pass(
    api: FakeApi, tmp_path: Path, body: dict[str, Any]
) -> None:
    """Exit 0 and every written fixture holds to the contract (what `pytest` checks of it), or exit 1 and no change."""
    first = tmp_path / "first-recording"  # the clean recording every example updates: made once, then copied
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        out = Path(scratch) / "contracts"
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if not first.exists():
                api.callouts[992011] = copy.deepcopy(CALLOUT)
                assert 0 == record_into(first)
            shutil.copytree(first, out)
            before = snapshot(out)
            api.callouts[992011] = body
            code = record_into(out, "--update")
        judged = [inspect(fixture.to_exchange(), CONTRACT) for fixture in iter_fixtures(out)]
        clean = all((j.findings, j.signal) == ((), None) for j in judged)
        expected = inspect(Exchange("GET", "/panic-api/v2/callouts/992011", 200, {"content-type": JSON},
                                    json.dumps(body).encode()), CONTRACT)  # fmt: skip
        event("refused" if expected.findings else "written")
        if expected.findings:
            assert (1, before) == (code, snapshot(out))
        else:
            assert (0, True) == (code, clean)
            assert set(body) == set(load_fixture(out / "recorded-callout-992011.json").body)  # this body, written


def test_an_id_that_answers_404_is_not_recorded_as_a_callout_fixture(
    live_mock: Any, out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the real mock over loopback: 123 does not exist there. Before: recorded-callout-123.json held its 404."""
    monkeypatch.setenv("PANIC_API_TOKEN", MOCK_TOKEN)
    base_url = live_mock()
    host = base_url.removeprefix("http://")
    argv = ["record", "--ids", "992011,123", f"--out={out}", f"--base-url={base_url}", "--rate-limit=0"]
    assert 4 == cli.main(argv)
    captured = capsys.readouterr()
    assert "[2/4] 123 404 no such callout" in captured.out.splitlines()
    assert [
        f"panic-contract record: verdict: usage (exit 4): callout 123 answered 404 on {host}: no such callout there, "
        f"and a 404 is not a callout fixture; pass --ids that exist on {host}; nothing was written"
    ] == captured.err.splitlines()
    assert not out.exists()
    assert 4 == cli.main([*argv, "--allow-drift=undocumented-status-code"])  # no flag makes a 404 a callout
    assert not out.exists()


def test_a_redirect_is_never_recorded_and_never_followed(
    out: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A loopback server that answers 302 to another host. Before: three 302 fixtures, exit 0."""
    monkeypatch.setenv("PANIC_API_TOKEN", SENTINEL_TOKEN)
    with faulty_server("redirect-other-host", token=SENTINEL_TOKEN) as base_url:
        argv = ["record", "--ids", "992011", f"--out={out}", f"--base-url={base_url}", "--rate-limit=0"]
        assert 1 == cli.main([*argv, "--allow-drift=undocumented-status-code"])  # no flag writes a redirect
    captured = capsys.readouterr()
    assert "[1/3] 992011 302 undocumented-status-code (a redirect, not followed)" in captured.out.splitlines()
    (line,) = captured.err.splitlines()
    other = re.fullmatch(
        r"panic-contract record: verdict: drift \(exit 1\): GET /panic-api/v2/callouts/992011 answered 302 "
        r"redirecting to http://localhost:(\d+)/panic-api/v2/callouts/992011 \(3 of 3 exchanges redirected\): a "
        r"redirect is not a fixture, and record never follows one; give --base-url the server that answers itself; "
        r"nothing was written",
        line,
    )
    assert other is not None, line
    assert not out.exists()
    assert [] == redirect_target_requests(base_url)  # the other host got no request, so never our token
    assert SENTINEL_TOKEN not in captured.out + captured.err
