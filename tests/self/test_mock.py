"""The embedded mock: clean, it honours the contract; each drift switch is one finding or signal."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import settings

from panic_contract import mock
from panic_contract.commands import cli
from panic_contract.commands import mock as mock_command
from panic_contract.core.contract import SPEC_PATH, default_contract
from panic_contract.core.findings import Exchange, Inspection, Kind, exchange_of, inspect
from panic_contract.core.fixtures import CONTRACTS_DIR, iter_fixtures
from panic_contract.core.verdict import Verdict, halt_decision
from panic_contract.errors import FixtureError
from panic_contract.faults import Credentials, Halt, Signal
from panic_contract.mock import DRIFTS, MOCK_TOKEN, create_app, known_callout_ids, serve
from panic_contract.redaction import WRONG_TOKEN, Secret
from panic_contract.sending.sender import Limits, Sender
from tests.self.samples import DRIFT_FINDINGS

SENTINEL_TOKEN = "sentinel-token-5b1e9c"
AUTH = {"Authorization": f"Bearer {MOCK_TOKEN}"}
HEADERS: dict[Credentials, dict[str, str]] = {
    "valid": AUTH,
    "missing": {},
    "invalid": {"Authorization": f"Bearer {WRONG_TOKEN}"},
}
CALLOUT = "/panic-api/v2/callouts/{}"
ASKED_ID = 992013  # not the documented example 992011, so id-mismatch has something to show

# --- the clean mock passes schemathesis's full default checks, positive and negative ----------------

schema = schemathesis.openapi.from_path(str(SPEC_PATH))
schema.app = create_app()


@schema.parametrize()
@settings(max_examples=30, deadline=None)
def test_clean_mock_passes_every_default_schemathesis_check(case) -> None:
    case.call_and_validate(headers=AUTH)


# --- helpers: one GET through the project's sender (or plain httpx), judged by the one judge -------------


@pytest.fixture(scope="module")
def clean_url() -> Iterator[str]:
    with serve(create_app()) as url:
        yield url


def fetch(base_url: str, callout_id: int | str = ASKED_ID, credentials: Credentials = "valid") -> Exchange:
    """One GET the way the suite sends it: a fault of the target (429, 502, 401 to our token) raises."""
    contract = default_contract()
    with Sender(base_url, Secret(MOCK_TOKEN), documented_method=contract.method, limits=Limits(retries=0)) as sender:
        path, accept = contract.path_for(callout_id), {"Accept": "application/json"}
        response = sender.send("GET", path, credentials=credentials, headers=accept)
        return exchange_of(response, credentials)


def fetch_raw(base_url: str, callout_id: int | str = ASKED_ID, credentials: Credentials = "valid") -> Exchange:
    """One GET with plain httpx: what the mock answers, faults included, with nothing retried or raised."""
    response = httpx.get(base_url + CALLOUT.format(callout_id), headers=HEADERS[credentials])
    return exchange_of(response, credentials)


def judge(exchange: Exchange) -> Inspection:
    return inspect(exchange, default_contract())


def found(inspection: Inspection) -> set[tuple[str, str | None]]:
    return {(str(f.kind), f.field) for f in inspection.findings}


# --- clean behaviour ------------------------------------------------------------------------------------


def test_known_ids_are_the_distinct_ids_of_the_200_fixtures() -> None:
    ids = known_callout_ids()
    served = [f.body["id"] for f in iter_fixtures() if f.status == 200]
    assert sorted(served) == ids
    assert len(set(ids)) == len(ids)
    assert 992011 in ids


def test_clean_mock_serves_every_fixture_body_unchanged(clean_url: str) -> None:
    bodies = {f.body["id"]: f.body for f in iter_fixtures() if f.status == 200}
    for callout_id, body in bodies.items():
        exchange = fetch(clean_url, callout_id)
        assert (200, body) == (exchange.status, json.loads(exchange.body or b""))
        assert Inspection(validated_body=True) == judge(exchange)


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_request_without_a_valid_token_gets_a_documented_401(credentials: Credentials, clean_url: str) -> None:
    exchange = fetch(clean_url, credentials=credentials)
    assert 401 == exchange.status
    assert "message" in json.loads(exchange.body or b"")
    assert Inspection() == judge(exchange)


def test_token_is_checked_before_the_id(clean_url: str) -> None:
    assert 401 == fetch(clean_url, 1, credentials="missing").status


@pytest.mark.parametrize("callout_id", [1, 999999999, "abc", "1.5", "9" * 40])
def test_unknown_or_non_integer_id_gets_a_documented_404(callout_id: int | str, clean_url: str) -> None:
    exchange = fetch(clean_url, callout_id)
    assert 404 == exchange.status
    assert Inspection() == judge(exchange)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def test_other_methods_get_405_allowing_get(method: str, clean_url: str) -> None:
    response = httpx.request(method, clean_url + CALLOUT.format(ASKED_ID), headers=AUTH)
    assert (405, "GET", "application/json") == (
        response.status_code,
        response.headers["allow"],
        response.headers["content-type"],
    )


@pytest.mark.parametrize(
    "path", ["/", "/panic-api/v2/callouts", "/panic-api/v2/callouts/992011/events", "/panic-api/v2/callouts/a%0Ab"]
)
def test_other_paths_get_a_json_404(path: str, clean_url: str) -> None:
    response = httpx.get(clean_url + path, headers=AUTH)
    assert (404, "application/json") == (response.status_code, response.headers["content-type"])
    assert "message" in response.json()


def test_mock_accepts_the_token_it_was_given_and_never_echoes_one() -> None:
    with serve(create_app(token=SENTINEL_TOKEN)) as url:
        accepted = httpx.get(url + CALLOUT.format(ASKED_ID), headers={"Authorization": f"Bearer {SENTINEL_TOKEN}"})
        refused = httpx.get(url + CALLOUT.format(ASKED_ID), headers=AUTH)
    with serve(create_app()) as url:
        wrong = httpx.get(url + CALLOUT.format(ASKED_ID), headers={"Authorization": f"Bearer {SENTINEL_TOKEN}"})
    assert (200, 401, 401) == (accepted.status_code, refused.status_code, wrong.status_code)
    for response in (accepted, refused, wrong):
        assert SENTINEL_TOKEN not in response.text + str(response.headers)


# --- drift switches map onto the findings vocabulary -----------------------------------------------------

# drift switch -> the one (finding kind, field) inspect() reports for a GET of ASKED_ID with the mock token
# auth-not-enforced shows only without a valid token; schemathesis-check only in schemathesis's own checks
ONE_FINDING = {
    drift: found for drift, found in DRIFT_FINDINGS.items() if drift not in {"auth-not-enforced", "schemathesis-check"}
}
# the wrapped shape: every documented field is missing at the top level, and two undocumented ones appear
WRAPPED = {("missing-field", f"$.{name}") for name in default_contract().responses[200].properties} | {
    ("new-field", "$.message"),
    ("new-field", "$.callout"),
}


def test_every_finding_kind_has_a_drift_switch_of_the_same_name() -> None:
    assert {str(k) for k in Kind} <= {str(d) for d in DRIFTS}


@pytest.mark.parametrize("drift", sorted(ONE_FINDING))
def test_drift_switch_yields_its_one_finding(drift: str) -> None:
    with serve(create_app(drift=[drift])) as url:
        inspection = judge(fetch(url))
    assert {ONE_FINDING[drift]} == found(inspection)
    assert inspection.signal is None


def test_schemathesis_check_switch_answers_other_methods_405_without_allow() -> None:
    with serve(create_app(drift=["schemathesis-check"])) as url:
        response = httpx.post(f"{url}/panic-api/v2/callouts/992011")
    assert (405, None) == (response.status_code, response.headers.get("allow"))


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_auth_not_enforced_serves_the_callout_without_a_valid_token(credentials: Credentials) -> None:
    with serve(create_app(drift=["auth-not-enforced"])) as url:
        exchange = fetch(url, credentials=credentials)
    assert 200 == exchange.status
    assert {("auth-not-enforced", None)} == found(judge(exchange))


def test_wrapped_serves_the_newer_docs_shape() -> None:
    with serve(create_app(drift=["wrapped"])) as url:
        exchange = fetch(url)
    body = json.loads(exchange.body or b"")
    assert ["message", "callout"] == list(body)
    assert ASKED_ID == body["callout"]["id"]
    assert -33.9258 == body["callout"]["incidentInformation"]["latitude"]
    assert WRAPPED == found(judge(exchange))


def test_drift_switches_combine() -> None:
    with serve(create_app(drift=["missing-field", "unknown-status", "new-field"])) as url:
        inspection = judge(fetch(url))
    assert {ONE_FINDING[d] for d in ("missing-field", "unknown-status", "new-field")} == found(inspection)


def test_auth_rejected_refuses_the_valid_token_as_a_signal_not_a_finding() -> None:
    with serve(create_app(drift=["auth-rejected"])) as url:
        exchange = fetch_raw(url)
        with pytest.raises(Halt) as raised:
            fetch(url)
    assert (401, Inspection(signal=Signal.AUTH_REJECTED)) == (exchange.status, judge(exchange))
    assert Verdict.AUTH == halt_decision(raised.value).verdict


def test_rate_limited_answers_429_twice_then_serves() -> None:
    with serve(create_app(drift=["rate-limited"])) as url:
        exchanges = [fetch_raw(url) for _ in range(3)]
    assert [429, 429, 200] == [e.status for e in exchanges]
    assert ["1", "1"] == [e.headers["retry-after"] for e in exchanges[:2]]
    assert [Signal.RATE_LIMITED, Signal.RATE_LIMITED, None] == [judge(e).signal for e in exchanges]


def test_gateway_502_is_an_html_page_for_every_request() -> None:
    with serve(create_app(drift=["gateway-502"])) as url:
        exchanges = [fetch_raw(url), fetch_raw(url, credentials="missing"), fetch_raw(url, 1)]
    assert [(502, "text/html; charset=utf-8")] * 3 == [(e.status, e.headers["content-type"]) for e in exchanges]
    assert [Signal.GATEWAY_ERROR] * 3 == [judge(e).signal for e in exchanges]


def test_unknown_drift_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown mock drift typo; allowed: auth-not-enforced, auth-rejected, "):
        create_app(drift=["typo"])


# --- fixtures the mock cannot serve ---------------------------------------------------------------------


def test_broken_fixture_stops_the_mock_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "callout-broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(FixtureError, match=r"callout-broken\.json: not valid JSON"):
        create_app(contracts_dir=tmp_path)


def test_two_200_fixtures_with_one_id_stop_the_mock(tmp_path: Path) -> None:
    source = (CONTRACTS_DIR / "callout-documented-example.json").read_text(encoding="utf-8")
    (tmp_path / "a.json").write_text(source, encoding="utf-8")
    (tmp_path / "b.json").write_text(source, encoding="utf-8")
    with pytest.raises(FixtureError, match=r"b\.json: callout 992011 is also served by a\.json \(give each"):
        known_callout_ids(tmp_path)


def test_recorded_callout_shadows_a_synthetic_one_of_the_same_id(tmp_path: Path) -> None:
    synthetic = json.loads((CONTRACTS_DIR / "callout-documented-example.json").read_text(encoding="utf-8"))
    recorded = json.loads(json.dumps(synthetic))
    recorded["provenance"] = {
        "source": "recorded",
        "target": "staging-panic.aura.services",
        "recorded_at": "2026-11-27T12:00:00Z",
        "tool_version": "0.1.0",
    }
    recorded["response"]["body"]["status"] = "closed"
    (tmp_path / "a.json").write_text(json.dumps(synthetic), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(recorded), encoding="utf-8")
    assert "closed" == mock.load_callouts(tmp_path)[992011]["status"]


# --- serving on a real port, from Python and from the command line -------------------------------------


def test_serve_runs_on_a_free_loopback_port_and_stops_cleanly() -> None:
    before = set(threading.enumerate())
    with serve(create_app()) as url:
        assert url.startswith("http://127.0.0.1:")
        assert 200 == httpx.get(url + CALLOUT.format(ASKED_ID), headers=AUTH).status_code
    assert before == set(threading.enumerate())
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + CALLOUT.format(ASKED_ID), headers=AUTH)


def test_mock_command_says_so_in_one_line_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = argparse.Namespace(port=port, drift=[], contracts_dir=CONTRACTS_DIR)
        assert 4 == mock_command.run(args)
    err = capsys.readouterr().err
    assert f"panic-contract mock: verdict: usage (exit 4): cannot listen on 127.0.0.1:{port}: " in err
    assert err.endswith("(pick another --port)\n")
    assert 1 == err.count("\n")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "panic_contract.mock"],
        [str(Path(sys.executable).parent / "panic-contract"), "mock"],
    ],
    ids=["python-m", "console-script"],
)
def test_mock_runs_by_hand_and_prints_url_and_token(command: list[str]) -> None:
    process = subprocess.Popen(
        [*command, "--port", "0", "--drift", "new-field"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=CONTRACTS_DIR.parent,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split("serving ", 1)[-1].split(" ", 1)[0]
        exchange = fetch(url) if url.startswith("http://127.0.0.1:") else None
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert f"(token: {MOCK_TOKEN}, drift: new-field)" in line, line + err
    assert exchange is not None
    assert {("new-field", "$.responderEta")} == found(judge(exchange))
    assert "Traceback" not in err


def test_mock_command_says_so_in_one_line_when_the_fixtures_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(port=0, drift=[], contracts_dir=tmp_path / "nowhere")
    assert 4 == mock_command.run(args)
    assert capsys.readouterr().err == (
        f"panic-contract mock: verdict: usage (exit 4): {tmp_path / 'nowhere'}: no such fixture folder "
        "(create it, or point --contracts-dir at one)\n"
    )


@pytest.mark.parametrize("port", ["70000", "-1", "65536", "eighty"])
@pytest.mark.parametrize(
    "main", [cli.main, lambda argv: mock_command.main(argv[1:])], ids=["panic-contract", "python-m"]
)
def test_a_port_out_of_range_is_one_usage_line_and_exit_4(
    port: str, main: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert 4 == main(["mock", "--port", port])
    out, err = capsys.readouterr()
    assert "" == out
    assert 1 == err.count("\n")
    prog = "panic-contract mock" if main is cli.main else "python -m panic_contract.mock"
    assert [
        f"{prog}: error: argument --port: '{port}' is not a port: give 0 to 65535 (0: any free port); see {prog} --help"
    ] == err.splitlines()


def test_the_mock_restarts_at_once_on_the_port_it_just_served() -> None:
    """Stopped with a client still connected, the server closes first: its side lingers in TIME_WAIT."""
    with httpx.Client() as client:
        with serve(create_app()) as url:
            assert 200 == client.get(url + CALLOUT.format(ASKED_ID), headers=AUTH).status_code
        port = int(url.rsplit(":", 1)[1])
        with serve(create_app(), port=port) as again:
            assert url == again
            assert 200 == client.get(url + CALLOUT.format(ASKED_ID), headers=AUTH).status_code


def test_a_200_fixture_that_is_not_a_callout_stops_the_mock_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixture = json.loads((CONTRACTS_DIR / "callout-documented-example.json").read_text(encoding="utf-8"))
    fixture["response"]["body"] = [fixture["response"]["body"]]
    (tmp_path / "callout-list.json").write_text(json.dumps(fixture), encoding="utf-8")
    with pytest.raises(FixtureError, match=r"callout-list\.json: response\.body of a 200 fixture must be a callout"):
        create_app(contracts_dir=tmp_path)
    assert 4 == cli.main(["mock", "--port", "0", "--contracts-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert err.startswith(f"panic-contract mock: verdict: usage (exit 4): {tmp_path / 'callout-list.json'}: ")
    assert 1 == err.count("\n")
