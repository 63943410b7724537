"""The audit's in-scope rule (`capture.scope`) is one rule: HAR and JSON Lines judge and skip the same exchanges.

An exchange is judged when its method is GET in any case, its path is the operation's, and the host the
capture names (a HAR entry's URL, a JSON Lines record's `provenance.target`), if any, is this API's or a
`--server`; other operations are skipped, other hosts counted apart.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract.capture.reading import audit_file
from panic_contract.capture.result import AuditResult, ReadOptions
from panic_contract.core.contract import default_contract
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

CALLOUT_PATH = f"/panic-api/v2/callouts/{CALLOUT['id']}"
PATHS = (CALLOUT_PATH, f"{CALLOUT_PATH}/events", "/panic-api/v2/other", "/PANIC-API/v2/callouts/1")
METHODS = ("GET", "get", "Get", "POST", "delete")
# (origin a HAR's URL starts with, host[:port] a recorded JSON Lines record names); None: the capture names none
HOSTS = (
    None,
    ("https://staging-panic.aura.services", "staging-panic.aura.services"),
    ("https://panic.aura.services", "panic.aura.services"),
    ("https://dev-panic.aura.services", "dev-panic.aura.services"),
    ("http://localhost:3000", "localhost:3000"),
    ("https://example.com", "example.com"),
)
LOCAL = "http://localhost:3000"

exchange = st.tuples(st.sampled_from(METHODS), st.sampled_from(PATHS), st.sampled_from(HOSTS))
exchanges = st.lists(exchange, min_size=1, max_size=12)  # an empty capture is refused, in either format


def jsonl(items: list[tuple[str, str, tuple[str, str] | None]]) -> bytes:
    lines = []
    for method, path, host in items:
        record: dict[str, object] = {
            "request": {"method": method, "path": path, "credentials": "valid"},
            "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": CALLOUT},
        }
        if host is not None:
            record["provenance"] = {
                "source": "recorded",
                "target": host[1],
                "recorded_at": "2024-04-20T14:45:00Z",
                "tool_version": "0.1.0",
            }
        lines.append(json.dumps(record))
    return "".join(line + "\n" for line in lines).encode()


def har(items: list[tuple[str, str, tuple[str, str] | None]]) -> bytes:
    entries = [
        {
            "request": {"method": method, "url": (host[0] if host else "") + path, "headers": []},
            "response": {
                "status": 200,
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "content": {"mimeType": "application/json", "text": json.dumps(CALLOUT)},
            },
        }
        for method, path, host in items
    ]
    return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()


def counts(result: AuditResult) -> tuple[int, int, int, int]:
    return result.entries, result.audited, result.skipped, sum(result.other_hosts.values())


@settings(max_examples=60, deadline=None)
@given(exchanges, st.booleans())
def test_both_formats_judge_skip_and_set_apart_the_same_exchanges(
    items: list[tuple[str, str, tuple[str, str] | None]], local_server: bool
) -> None:
    options = ReadOptions(servers=(LOCAL,) if local_server else ())
    ours = {"https://staging-panic.aura.services", "https://panic.aura.services", "https://dev-panic.aura.services"}
    ours |= {LOCAL} if local_server else set()
    operation = [item for item in items if item[0].upper() == "GET" and item[1] == CALLOUT_PATH]
    judged = [item for item in operation if item[2] is None or item[2][0] in ours]
    expected = (len(items), len(judged), len(items) - len(operation), len(operation) - len(judged))
    contract = default_contract()
    with tempfile.TemporaryDirectory() as folder:
        lines, document = Path(folder, "capture.jsonl"), Path(folder, "capture.har")
        lines.write_bytes(jsonl(items))
        document.write_bytes(har(items))
        found = [counts(audit_file(path, contract, options=options)) for path in (lines, document)]
    assert [expected, expected] == found
