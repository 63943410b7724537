"""One drifting server, one accepted-drift file: the same accepted, expired, open and stale sets everywhere.

The suite in one process, the suite under `pytest -n 2`, and `panic-contract audit --jobs 2` of a capture
of the same server's answers (cut into parts, JSON Lines and HAR) each classify the findings where they
are folded in; what they report must not depend on which process folded what.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from panic_contract.capture import splitting
from panic_contract.capture.result import ReadOptions
from panic_contract.commands import cli
from panic_contract.mock import MOCK_TOKEN
from tests.self.conftest import LIVE_ENV
from tests.self.samples import DOCUMENTED_CALLOUT

LATER = (date.today() + timedelta(days=30)).isoformat()
EARLIER = (date.today() - timedelta(days=1)).isoformat()
STATUSES = {992101: "Escalated", 992102: "Paused"}  # two values of one kind and field: one accepted, one not
IDS = (992011, *STATUSES)
PATH = "/panic-api/v2/callouts/{}"
PART_BYTES = 4096

ACCEPTED_DRIFT = f"""\
- kind: unknown-status
  field: $.status
  value: Escalated
  reason: ticket 4411
  expires: {LATER}
- kind: null-in-non-nullable
  field: $.customerId
  reason: ticket 4412, a fix was promised for yesterday
  expires: {EARLIER}
- kind: new-field
  field: $.responderEta
  value: 420
  reason: ticket 4413
  expires: {LATER}
- kind: missing-field
  field: $.calloutClassificationId
  reason: ticket 4414, fixed since
  expires: {LATER}
"""


def fixtures(folder: Path) -> Path:
    folder.mkdir()
    for callout_id, status in [(992011, DOCUMENTED_CALLOUT["status"]), *STATUSES.items()]:
        fixture = {
            "description": f"callout {callout_id} with status {status}",
            "operation": "getCallout",
            "provenance": {"source": "synthetic"},
            "request": {"method": "GET", "path": PATH.format(callout_id), "credentials": "valid"},
            "response": {
                "status": 200,
                "headers": {"content-type": "application/json"},
                "body": {**DOCUMENTED_CALLOUT, "id": callout_id, "status": status},
            },
        }
        (folder / f"callout-{callout_id}.json").write_text(json.dumps(fixture))
    return folder


def classified(report: dict[str, Any]) -> dict[str, set[Any]]:
    """What a report tells apart, independent of counts (the suite sends more than one capture holds)."""

    def keyed(items: list[dict[str, Any]]) -> set[tuple[str, str | None, int | None, tuple[str, ...]]]:
        return {(f["kind"], f["field"], f.get("accepted_line"), tuple(sorted(f["actual_values"]))) for f in items}

    findings = report["findings"]
    return {
        "accepted": keyed(report["accepted"]),
        "expired": keyed([f for f in findings if f.get("acceptance") == "expired"]),
        "open": keyed([f for f in findings if f.get("acceptance") is None]),
        "stale": set(report["stale_acceptances"]),
        "verdict": {report["verdict"]},
    }


EXPECTED = {
    "accepted": {
        ("unknown-status", "$.status", 1, ('string "Escalated"',)),
        ("new-field", "$.responderEta", 10, ("an undocumented field (integer 420)",)),
    },
    "expired": {("null-in-non-nullable", "$.customerId", 6, ("null",))},
    "open": {("unknown-status", "$.status", None, ('string "Paused"',))},
    "stale": {f"missing-field $.calloutClassificationId (line 15, until {LATER}: ticket 4414, fixed since)"},
    "verdict": {"drift"},
}


def capture(base_url: str, folder: Path) -> dict[str, Path]:
    """The server's answers to each id, repeated until the capture is cut into parts: JSON Lines and HAR."""
    records, entries = [], []
    token = f"Bearer {MOCK_TOKEN}"  # a HAR says which token each request carried; the audit masks it
    with httpx.Client(base_url=base_url, headers={"Authorization": token}) as client:
        for callout_id in IDS:
            response = client.get(PATH.format(callout_id))
            media = response.headers["content-type"]
            answer = {"status": response.status_code, "headers": {"content-type": media}, "body": response.json()}
            records.append({"request": {"method": "GET", "path": PATH.format(callout_id)}, "response": answer})
            request = {"method": "GET", "url": base_url + PATH.format(callout_id)}
            content = {"size": len(response.text), "mimeType": media, "text": response.text}
            headers = [{"name": "Content-Type", "value": media}]
            entries.append(
                {
                    "startedDateTime": "2026-11-28T10:00:00.000Z",
                    "time": 1.0,
                    "request": {**request, "headers": [{"name": "Authorization", "value": token}]},
                    "response": {
                        "status": response.status_code,
                        "statusText": "",
                        "headers": headers,
                        "content": content,
                    },
                }
            )
    times = 12 * PART_BYTES // len(json.dumps(records)) + 1
    jsonl, har = folder / "capture.jsonl", folder / "capture.har"
    jsonl.write_text("".join(json.dumps(record) + "\n" for record in records * times))
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries * times}}, indent=1))
    return {"jsonl": jsonl, "har": har}


@pytest.mark.e2e
def test_one_process_xdist_and_audit_jobs_classify_alike(
    run_suite: Any, live_mock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url = live_mock("null-in-non-nullable", "new-field", contracts_dir=fixtures(tmp_path / "contracts"))
    accepted = tmp_path / "accepted-drift.yaml"
    accepted.write_text(ACCEPTED_DRIFT)
    args = ("--base-url", base_url, "--callout-ids", ",".join(map(str, IDS)), "--rate-limit", "0")
    seen: dict[str, dict[str, set[Any]]] = {}
    for name, extra in {"one process": (), "-n 2": ("-n", "2")}.items():
        run = run_suite(*args, "--hypothesis-profile=live", f"--accepted-drift={accepted}", *extra, env=LIVE_ENV)
        assert 1 == run.result.ret, run.output
        seen[name] = classified(run.report)
        failures = run.result.stdout.str().split("= FAILURES =", 1)[1].split("= API drift =", 1)[0]
        assert '$.status is string "Paused"' in failures  # each test's lines say what the run's ledger says
        assert '$.status is string "Escalated"' not in failures
        assert "$.responderEta" not in failures

    monkeypatch.setenv(splitting.PART_BYTES_ENV, str(PART_BYTES))
    for fmt, path in capture(base_url, tmp_path).items():
        assert len(splitting._plan(path, 2, ReadOptions(part_bytes=PART_BYTES))) > 2, (
            f"the {fmt} capture must be cut into parts"
        )
        report = tmp_path / f"{fmt}.json"
        args = ["audit", str(path), "--jobs", "2", f"--server={base_url}"]  # a loopback host: judged when named
        code = cli.main([*args, f"--accepted-drift={accepted}", f"--drift-report={report}"])
        assert 1 == code, capsys.readouterr()
        seen[f"audit --jobs 2 ({fmt})"] = classified(json.loads(report.read_text()))

    assert dict.fromkeys(seen, EXPECTED) == seen
