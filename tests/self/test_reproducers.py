"""A reproducer pastes and works: `curl` with the token's variable (never a value), the real host, the URL
quoted for the shell, and the request's own credentials (none, or a wrong token, where it carried them).

The host is the run's: a live target's base URL, the embedded mock's `http://127.0.0.1:8000`, a HAR entry's
origin, a JSON Lines record's `provenance.target`; `$PANIC_API_BASE_URL` where the capture names none.
Pasted into a shell against real servers on 127.0.0.1, each shows what its finding says.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.core.contract import default_contract
from panic_contract.core.findings import Exchange, Kind, inspect
from panic_contract.core.ledger import Ledger
from panic_contract.core.reports import reproducer
from panic_contract.mock import MOCK_TOKEN
from panic_contract.redaction import WRONG_TOKEN
from tests.self.conftest import LIVE_ENV, SENTINEL_TOKEN, live_args
from tests.self.test_audit import CALLOUT, HOST

BASE_URL = "http://127.0.0.1:8765"
PATH = "/panic-api/v2/callouts/992011"
# A path as a server or a capture may have it: anything but NUL, which no URL and no shell word holds.
PATHS = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40).map(
    lambda tail: "/panic-api/" + tail
)
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="pasting a reproducer needs curl on PATH")


def pasted(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`command` run by bash as a person's paste would be, with only `env` (and PATH) set."""
    environ = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(["bash", "-c", command], env=environ, capture_output=True, text=True, timeout=30, check=False)


def words_bash_gives_curl(command: str, env: dict[str, str]) -> list[str]:
    """The arguments bash hands `curl` for `command` (a function stands in for curl and prints them)."""
    done = pasted("curl() { printf '%s\\0' \"$@\"; }; " + command, env)
    assert 0 == done.returncode, done.stderr
    return done.stdout.split("\0")[:-1]


# --- the line -------------------------------------------------------------------------------------------


def test_the_token_is_its_variable_the_url_single_quoted() -> None:
    assert f"""curl -H "Authorization: Bearer $PANIC_API_TOKEN" '{BASE_URL}{PATH}'""" == reproducer(
        BASE_URL, f"GET {PATH}"
    )


def test_without_a_host_the_url_is_the_base_url_variable_s() -> None:
    assert f"""curl -H "Authorization: Bearer $PANIC_API_TOKEN" "$PANIC_API_BASE_URL"'{PATH}'""" == reproducer(
        None, f"GET {PATH}"
    )


@given(PATHS, st.sampled_from([BASE_URL, None]), st.sampled_from(["valid", "unknown", "missing", "invalid"]))
def test_the_shell_gives_curl_the_request_as_it_was(path: str, base_url: str | None, credentials: Any) -> None:
    """A property over any path (quotes, `$`, backticks, spaces, line breaks), with a host and without one,
    for every credential a request carried: split as a POSIX shell splits it, the words are the request."""
    words = shlex.split(reproducer(base_url, f"GET {path}", credentials))
    header = {
        "valid": ["-H", "Authorization: Bearer $PANIC_API_TOKEN"],
        "unknown": ["-H", "Authorization: Bearer $PANIC_API_TOKEN"],
        "missing": [],
        "invalid": ["-H", f"Authorization: Bearer {WRONG_TOKEN}"],
    }[credentials]
    assert ["curl", *header, (base_url or "$PANIC_API_BASE_URL") + path] == words


@pytest.mark.parametrize("path", ["/x/'1'", '/x/"$HOME"', "/x/`id`", "/x/$(id)?a=1&b=2", "/x/a b!c", "/x/\n;id"])
@pytest.mark.parametrize("base_url", [BASE_URL, None])
def test_bash_expands_the_variables_and_nothing_else(path: str, base_url: str | None) -> None:
    env = {"PANIC_API_TOKEN": SENTINEL_TOKEN, "PANIC_API_BASE_URL": "http://127.0.0.1:9"}
    words = words_bash_gives_curl(reproducer(base_url, f"GET {path}"), env)
    assert ["-H", f"Authorization: Bearer {SENTINEL_TOKEN}", (base_url or "http://127.0.0.1:9") + path] == words


def test_another_method_is_sent_as_it_was() -> None:
    assert ["-X", "TRACE", "-H"] == shlex.split(reproducer(BASE_URL, f"TRACE {PATH}"))[1:4]


# --- the request's credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "status", "kind"),
    [
        ("missing", 200, Kind.AUTH_NOT_ENFORCED),
        ("invalid", 200, Kind.AUTH_NOT_ENFORCED),
        ("missing", 403, Kind.UNDOCUMENTED_STATUS_CODE),
        ("invalid", 500, Kind.SERVER_ERROR),
        ("unknown", 200, Kind.NULL_IN_NON_NULLABLE),
    ],
)
def test_a_finding_keeps_the_credentials_its_request_carried(credentials: Any, status: int, kind: Kind) -> None:
    body = {**CALLOUT, "customerId": None} if status == 200 else {"message": "no"}
    exchange = Exchange("GET", PATH, status, {"content-type": "application/json"}, None, body, credentials)
    (finding,) = inspect(exchange, default_contract()).findings
    assert (kind, credentials) == (finding.kind, finding.credentials)


def test_credentials_survive_the_merge_of_a_worker_s_ledger() -> None:
    """Under `pytest -n N` and `audit --jobs N` the reports are built from merged ledgers."""
    exchange = Exchange("GET", PATH, 200, {"content-type": "application/json"}, None, CALLOUT, "missing")
    worker = Ledger()
    worker.add(inspect(exchange, default_contract()))
    merged = Ledger()
    merged.merge(worker.as_dict())
    (entry,) = merged.sorted_entries()
    assert "missing" == entry.first.credentials
    assert "curl 'http://127.0.0.1:8765/panic-api/v2/callouts/992011'" == reproducer(
        BASE_URL, entry.first.request, entry.first.credentials
    )


# --- pasted, against real servers on 127.0.0.1 -------------------------------------------------------------


@needs_curl
def test_a_live_run_s_reproducer_pastes_and_shows_the_drift(run_suite: Any, live_mock: Any) -> None:
    base_url = live_mock("null-in-non-nullable")
    run = run_suite(*live_args(base_url), env=LIVE_ENV)
    (finding,) = run.report["findings"]
    assert finding["reproducer"].endswith(f" '{base_url}{finding['request'].split(' ', 1)[1]}'")
    done = pasted(finding["reproducer"], {"PANIC_API_TOKEN": MOCK_TOKEN})
    assert (0, None) == (done.returncode, json.loads(done.stdout)["customerId"]), done.stderr


@needs_curl
def test_a_no_token_finding_s_reproducer_pastes_without_the_token(run_suite: Any, live_mock: Any) -> None:
    base_url = live_mock("auth-not-enforced")
    run = run_suite(*live_args(base_url), env=LIVE_ENV)
    (finding,) = [f for f in run.report["findings"] if f["kind"] == "auth-not-enforced"]
    assert "Authorization" not in finding["reproducer"]
    served = pasted(finding["reproducer"], {})  # no token in the environment either: the mock serves it anyway
    assert 992011 == json.loads(served.stdout)["id"], served.stderr
    clean = live_mock()
    refused = pasted(finding["reproducer"].replace(base_url, clean), {})
    assert "message" in json.loads(refused.stdout)  # a target that enforces its token refuses the same request


@pytest.fixture
def audit_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Audit one capture in this process; the JSON report and what it printed."""
    for name in ("PANIC_API_SERVERS", "PANIC_API_DRIFT_REPORT", "PANIC_API_DRIFT_REPORT_MD"):
        monkeypatch.delenv(name, raising=False)

    def run(path: Path, *args: str) -> tuple[dict[str, Any], str]:
        report = tmp_path / "audit.json"
        assert 1 == cli.main(["audit", str(path), f"--drift-report={report}", *args])
        return json.loads(report.read_text()), capsys.readouterr().out

    return run


def jsonl(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def record(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = {"status": 200, "headers": {"content-type": "application/json"}, "body": body}
    return {"request": {"method": "GET", "path": PATH, "credentials": "valid"}, "response": response, **extra}


@needs_curl
def test_json_lines_without_a_host_reproduce_at_the_base_url_variable_never_the_file(
    tmp_path: Path, audit_file: Any, live_mock: Any
) -> None:
    """Was `curl ... exchanges.jsonl/panic-api/...`: the file's name where a host goes."""
    report, out = audit_file(jsonl(tmp_path / "exchanges.jsonl", record({**CALLOUT, "customerId": None})))
    (finding,) = report["findings"]
    assert (
        f"""curl -H "Authorization: Bearer $PANIC_API_TOKEN" "$PANIC_API_BASE_URL"'{PATH}'""" == (finding["reproducer"])
    )
    assert "exchanges.jsonl/" not in out
    assert f"    reproduce: {finding['reproducer']}" in out.splitlines()
    env = {"PANIC_API_TOKEN": MOCK_TOKEN, "PANIC_API_BASE_URL": live_mock("null-in-non-nullable")}
    done = pasted(finding["reproducer"], env)
    assert None is json.loads(done.stdout)["customerId"], done.stderr


def test_a_json_lines_record_naming_its_host_reproduces_at_that_host_s_https_url(
    tmp_path: Path, audit_file: Any
) -> None:
    provenance = {"source": "recorded", "target": "staging-panic.aura.services", "recorded_at": "2024-04-20T14:45:00Z"}
    provenance["tool_version"] = "0.1.0"
    capture = jsonl(tmp_path / "recorded.jsonl", record({**CALLOUT, "customerId": None}, provenance=provenance))
    (finding,) = audit_file(capture)[0]["findings"]
    assert finding["reproducer"].endswith(f" '{HOST}{PATH}'")


def har(path: Path, url: str) -> Path:
    text = json.dumps({**CALLOUT, "customerId": None})
    entry = {
        "request": {"method": "GET", "url": url, "headers": []},
        "response": {"status": 200, "headers": [], "content": {"mimeType": "application/json", "text": text}},
    }
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [entry]}}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"{HOST}{PATH}?access_token=x", f"'{HOST}{PATH}'"),  # its origin and path: never the query
        (f"https://panic.aura.services:443{PATH}", f"'https://panic.aura.services{PATH}'"),
        (PATH, f"\"$PANIC_API_BASE_URL\"'{PATH}'"),  # a relative URL names no host
    ],
)
def test_a_har_entry_reproduces_at_its_origin(url: str, shown: str, tmp_path: Path, audit_file: Any) -> None:
    (finding,) = audit_file(har(tmp_path / "capture.har", url))[0]["findings"]
    assert finding["reproducer"].endswith(f" {shown}")
    assert "capture.har" not in finding["reproducer"]
