"""The live-target code paths, against real HTTP servers on 127.0.0.1 that the tests start."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.self.conftest import LIVE_ENV, SENTINEL_TOKEN, live_args


def test_clean_loopback_server_passes(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock()), env=LIVE_ENV)
    assert run.result.ret == 0, run.output
    assert run.report["verdict"] == "ok"
    assert run.report["target"] == "custom"
    run.result.stdout.fnmatch_lines(["panic-api target: custom, base URL: http://127.0.0.1:*"])


def test_drifting_loopback_server_fails_naming_the_field(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock("missing-field")), env=LIVE_ENV)
    assert run.result.ret == 1, run.output
    assert "$.calloutClassificationId" == run.kinds["missing-field"]


def test_rate_limited_server_is_waited_out_and_never_a_finding(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock("rate-limited")), env=LIVE_ENV)
    assert run.result.ret == 0, run.output
    assert run.report["findings"] == []


def test_html_502_from_a_gateway_is_an_outage(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock("gateway-502")), env=LIVE_ENV)
    assert run.result.ret == 10, run.output
    assert run.report["verdict"] == "outage"
    assert run.report["findings"] == []
    run.result.stdout.fnmatch_lines(["verdict: outage (exit 10)*127.0.0.1:*502*"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_closed_port_is_an_outage_naming_the_host(run_suite) -> None:
    port = _free_port()
    run = run_suite(*live_args(f"http://127.0.0.1:{port}"), env=LIVE_ENV)
    assert run.result.ret == 10, run.output
    assert run.report["findings"] == []
    run.result.stdout.fnmatch_lines(
        [f"verdict: outage (exit 10): cannot reach 127.0.0.1:{port}: connection refused (3 attempts)"]
    )


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_hanging_socket_times_out_into_an_outage(run_suite, hanging_server) -> None:
    run = run_suite(*live_args(hanging_server), "--request-timeout", "0.3", "--retries", "0", env=LIVE_ENV)
    assert run.result.ret == 10, run.output
    run.result.stdout.fnmatch_lines(
        [
            f"verdict: outage (exit 10): cannot reach {hanging_server.removeprefix('http://')}: "
            "no response within 0.3s (--request-timeout) (1 attempt)"
        ]
    )


def test_wrong_token_is_an_auth_verdict_and_never_printed(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock()), env={"PANIC_API_TOKEN": SENTINEL_TOKEN})
    assert run.result.ret == 11, run.output
    assert run.report["verdict"] == "auth"
    for where in (run.output, str(run.report), run.markdown, run.junit):
        assert SENTINEL_TOKEN not in where


def test_sentinel_token_appears_in_no_output_or_report_of_a_drifted_run(run_suite, live_mock) -> None:
    base_url = live_mock("null-in-non-nullable", "new-field", token=SENTINEL_TOKEN)
    run = run_suite(*live_args(base_url), "-v", env={"PANIC_API_TOKEN": SENTINEL_TOKEN})
    assert run.result.ret == 1, run.output
    assert run.report["findings"]
    for where in (run.output, str(run.report), run.markdown, run.junit):
        assert SENTINEL_TOKEN not in where


def test_a_run_that_validated_no_callout_is_inconclusive(run_suite, live_mock, tmp_path) -> None:
    base_url = live_mock(contracts_dir=tmp_path)  # a server where every callout is 404
    run = run_suite("--base-url", base_url, "--callout-ids", "1,2", "--rate-limit", "0", env=LIVE_ENV)
    assert run.result.ret == 12, run.output
    assert run.report["verdict"] == "inconclusive"
    run.result.stdout.fnmatch_lines(["verdict: inconclusive (exit 12)*--callout-ids*"])


SENTINEL_SECRET = "sentinel-secret-0c4d"


def test_client_credentials_are_exchanged_for_a_token(run_suite, live_mock) -> None:
    base_url = live_mock(token=SENTINEL_TOKEN, client_credentials=("suite-client", SENTINEL_SECRET))
    env = {"PANIC_API_CLIENT_ID": "suite-client", "PANIC_API_CLIENT_SECRET": SENTINEL_SECRET}
    run = run_suite(*live_args(base_url), env=env)
    assert run.result.ret == 0, run.output
    for where in (run.output, str(run.report), run.markdown, run.junit):
        assert SENTINEL_TOKEN not in where
        assert SENTINEL_SECRET not in where


def test_rejected_client_credentials_are_an_auth_verdict(run_suite, live_mock) -> None:
    base_url = live_mock(client_credentials=("suite-client", "another-secret"))
    env = {"PANIC_API_CLIENT_ID": "suite-client", "PANIC_API_CLIENT_SECRET": SENTINEL_SECRET}
    run = run_suite(*live_args(base_url), env=env)
    assert run.result.ret == 11, run.output
    assert SENTINEL_SECRET not in run.output
    assert ("auth", 0) == (run.report["verdict"], run.report["requests"] - 1)  # the exchange, and nothing else
    run.result.stdout.fnmatch_lines(["*deselected*", "verdict: auth (exit 11): * rejected the client credentials *"])


def test_request_budget_stops_a_live_run_and_says_so(run_suite, live_mock) -> None:
    run = run_suite(*live_args(live_mock()), "--request-budget", "12", "-rs", env=LIVE_ENV)
    assert run.report["requests"] <= 12
    assert run.report["verdict"] == "ok"
    assert "request budget of 12" in run.report["reason"]
    run.result.stdout.fnmatch_lines(["*stopped at the request budget of 12 (--request-budget)*"])


def test_an_id_that_is_not_there_fails_the_run_without_a_finding(run_suite, live_mock) -> None:
    """992011 validates, 1 answers 404: the run fails, and says it is not drift."""
    base_url = live_mock()
    run = run_suite("--base-url", base_url, "--callout-ids", "992011,1", "--rate-limit", "0", env=LIVE_ENV)
    assert run.result.ret == 1, run.output
    assert run.report["verdict"] == "failed"
    assert run.report["findings"] == []
    run.result.stdout.fnmatch_lines(
        [
            "*callout 1 did not answer 200 with a body to validate*",
            "verdict: failed (exit 1): tests failed without a contract finding*",
        ]
    )


def test_unreachable_token_endpoint_is_an_outage_before_any_test(run_suite) -> None:
    port = _free_port()
    env = {"PANIC_API_CLIENT_ID": "suite-client", "PANIC_API_CLIENT_SECRET": SENTINEL_SECRET}
    run = run_suite(*live_args(f"http://127.0.0.1:{port}"), env=env)
    assert run.result.ret == 10, run.output
    assert "outage" == run.report["verdict"]
    run.result.stdout.fnmatch_lines(
        [
            "verdict: outage (exit 10): token exchange at /panic-api/v2/oauth/token failed: "
            f"cannot reach 127.0.0.1:{port}: *"
        ]
    )
    assert SENTINEL_SECRET not in run.output


def test_a_live_run_without_ids_names_the_ids_that_answered(run_suite, live_mock) -> None:
    run = run_suite("--base-url", live_mock(), "--rate-limit", "0", "--hypothesis-profile=live", env=LIVE_ENV)
    run.result.stdout.fnmatch_lines(
        [
            "*= API drift =*",
            "no --callout-ids given: ids that answered 200: 992011*; pass ids that exist there with --callout-ids*",
            "verdict: *",
        ]
    )


def test_the_auth_probe_fails_when_it_sees_a_404_instead_of_the_401_it_probes_for(
    run_suite, live_mock, tmp_path
) -> None:
    """A server that looks the id up before the token proves nothing about auth with an id it does not have."""
    base_url = live_mock("auth-not-enforced", contracts_dir=tmp_path)  # no callouts: every id is 404
    run = run_suite("--base-url", base_url, "--callout-ids", "5", "--rate-limit", "0", env=LIVE_ENV)
    assert 0 != run.result.ret, run.output
    run.result.stdout.fnmatch_lines(["*callout 5 answered 404 to no token, so this cannot tell whether*"])
