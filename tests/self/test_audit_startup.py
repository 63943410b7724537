"""The audit's start-up: what the command imports to audit a capture, and `--version` read only when asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from panic_contract.commands import cli

# What the audit never needs: the suite's test machinery, the mock's web server and the sender's HTTP client.
NOT_FOR_THE_AUDIT = ("httpx", "schemathesis", "hypothesis", "starlette", "uvicorn", "importlib.metadata")


@pytest.mark.e2e
def test_auditing_a_capture_imports_nothing_of_the_suite_the_mock_or_the_sender(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/1"},
        "response": {"status": 404, "headers": {}},
    }
    capture.write_text(json.dumps(record) + "\n")
    code = (
        "import sys\n"
        "from panic_contract.commands import cli\n"
        f"code = cli.main(['audit', {str(capture)!r}, '--drift-report={tmp_path / 'drift.json'}'])\n"
        f"print(sorted(name for name in {NOT_FOR_THE_AUDIT!r} if name in sys.modules), code)\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    assert child.stdout.strip().splitlines()[-1] == "[] 1", child.stderr[-2000:]


def test_version_is_printed_on_standard_output_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    out, err = capsys.readouterr()
    assert (0, f"panic-contract {cli.version()}\n", "") == (stopped.value.code, out, err)
