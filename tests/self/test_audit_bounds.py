"""The audit's bounds: no line, string or entry read past --max-body-size, nothing waited on forever, and
Ctrl-C or SIGTERM end every worker with the verdict of what was read."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import types
from pathlib import Path
from typing import Any

import ijson
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from panic_contract.capture import har, jsonl, reading
from panic_contract.capture.guard import CUT_MARK, DepthGuard
from panic_contract.commands import cli
from panic_contract.core import findings
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

MIB = 1 << 20
HOST = "https://staging-panic.aura.services"
PATH = "/panic-api/v2/callouts/{}"
REPO = Path(__file__).resolve().parents[2]


def record(body: Any = CALLOUT, callout_id: int = 992011) -> bytes:
    response = {"status": 200, "headers": {"content-type": "application/json"}, "body": body}
    return json.dumps({"request": {"method": "GET", "path": PATH.format(callout_id)}, "response": response}).encode()


def har_entry(text: str, url: str = HOST + PATH.format(992011)) -> dict[str, Any]:
    return {
        "request": {"method": "GET", "url": url, "headers": [{"name": "Authorization", "value": "Bearer t0ken-x"}]},
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"size": len(text), "mimeType": "application/json", "text": text},
        },
    }


def write_har(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("PANIC_API_MAX_BODY_SIZE", "PANIC_API_SERVERS", "PANIC_API_DRIFT_REPORT"):
        monkeypatch.delenv(name, raising=False)

    def audit_(*args: str) -> tuple[int, str, str]:
        code = cli.main(["audit", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return audit_


def peak_of(call: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        value = call()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- a line, a string, an entry larger than the cap ---------------------------------------------------


def test_a_json_lines_line_larger_than_the_cap_is_one_line_and_is_never_held_whole(tmp_path: Path, run: Any) -> None:
    """A 400 MiB line took 1.3 GB; a 64 MiB one here is read 4 MiB deep, no further."""
    path = tmp_path / "capture.jsonl"
    with path.open("wb") as out:
        out.write(record() + b"\n" + b'{"request": {"method": "GET", "path": "/x"}, "response": {"body_text": "')
        chunk = b"x" * MIB
        for _ in range(64):
            out.write(chunk)
        out.write(b'"}}\n' + record() + b"\n")
    (code, _, err), peak = peak_of(lambda: run(str(path)))
    assert 4 == code
    assert [
        f"panic-contract audit: verdict: usage (exit 4): {path}: line 2: larger than 4 MiB (--max-body-size), not "
        "read; no exchange record is that large: is this the capture you meant? (raise --max-body-size to read it)"
    ] == err.splitlines()
    assert peak < 24 * MIB  # the line was 64 MiB; holding it whole costs three times that
    assert 0 == run(str(path), "--max-body-size=65MiB")[0]


def test_a_line_of_exactly_the_cap_is_read(tmp_path: Path, run: Any) -> None:
    line = record({**CALLOUT, "pad": ""})
    line = record({**CALLOUT, "pad": "x" * (64 * 1024 - len(line))})
    assert 64 * 1024 == len(line)
    path = tmp_path / "capture.jsonl"
    path.write_bytes(line + b"\n" + line)  # the last line without its line end
    code, out, _ = run(str(path), "--max-body-size=64KiB")
    assert 0 == code, out
    assert "2 of 2 exchanges audited" in out
    path.write_bytes(line + b"x\n")
    assert 4 == run(str(path), "--max-body-size=64KiB")[0]


def test_a_har_body_larger_than_the_cap_is_one_finding_and_the_entries_after_it_are_judged(
    tmp_path: Path, run: Any
) -> None:
    huge = json.dumps({**CALLOUT, "pad": 'é\\"' * (12 * MIB)})  # escapes and non-ASCII where the cut falls
    other = har_entry("x" * (40 * MIB), url="https://cdn.example/app.js")  # another host's bundle: cut, unseen
    drifted = har_entry(json.dumps({**CALLOUT, "customerId": None}))
    path = write_har(tmp_path / "capture.har", [har_entry(json.dumps(CALLOUT)), har_entry(huge), other, drifted])
    (code, out, err), peak = peak_of(lambda: run(str(path), f"--drift-report={tmp_path / 'r.json'}"))
    assert (1, "") == (code, err)
    report = json.loads((tmp_path / "r.json").read_text())
    assert [
        ("malformed-body", None, ["larger than 4 MiB (--max-body-size), not read"], ["entry 2"]),
        ("null-in-non-nullable", "$.customerId", ["null"], ["entry 4"]),
    ] == [(f["kind"], f["field"], f["actual_values"], f["samples"]) for f in report["findings"]]
    assert "3 of 4 exchanges audited, 1 of other operations skipped" in out
    assert peak < 48 * MIB  # the bodies were 78 MiB and 40 MiB


def test_a_body_over_the_cap_but_under_the_cut_is_judged_too_large_as_well(tmp_path: Path, run: Any) -> None:
    body = json.dumps({**CALLOUT, "pad": "x" * (5 * MIB)})  # 5 MiB: past the cap, short of the guard's cut
    path = write_har(tmp_path / "capture.har", [har_entry(body)])
    code, out, _ = run(str(path))
    assert 1 == code
    assert "body is larger than 4 MiB (--max-body-size), not read, contract says a JSON object" in out
    assert 0 == run(str(path), "--max-body-size=6MiB")[0]


@pytest.mark.parametrize(
    ("make", "what", "limit"),
    [
        (lambda: '{"log": {"entries": [{"n": ' + "1" * (20 * MIB) + "}]}}", "a value", "8 MiB"),
        (
            lambda: '{"log": {"entries": [{"h": [' + ",".join(['"' + "x" * MIB + '"'] * 40) + "]}]}}",
            "an entry",
            "32 MiB",
        ),
    ],
    ids=["a-number-of-20-MiB", "an-entry-of-forty-1-MiB-strings"],
)
def test_a_har_value_or_entry_past_every_bound_is_one_line(
    make: Any, what: str, limit: str, tmp_path: Path, run: Any
) -> None:
    path = tmp_path / "capture.har"
    path.write_text(make())
    (code, _, err), peak = peak_of(lambda: run(str(path)))
    assert 4 == code
    assert 1 == len(err.splitlines())
    assert ": entry 1 (before byte " in err
    assert f"): {what} larger than {limit}, not read (--max-body-size 4 MiB); no HAR entry is that large" in err
    assert peak < 80 * MIB


@pytest.mark.parametrize("value", ["0", "2048", "4.5XiB", "lots", "-1", "9" * 40])
def test_a_bad_max_body_size_is_one_line_and_exit_4(value: str, tmp_path: Path, run: Any) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(record() + b"\n")
    code, out, err = run(str(path), f"--max-body-size={value}")
    assert (4, "") == (code, out)
    assert [
        f"panic-contract audit: error: --max-body-size (or PANIC_API_MAX_BODY_SIZE) is {value!r}; "
        "it must be from 0.01 to 1024 MiB: a number of MiB (e.g. 4 or 0.5) or a size with its unit (512KiB, 16MiB)"
    ] == err.splitlines()


@pytest.mark.parametrize("value", ["ftp://x", "http://127.0.0.1:99999", "http://h/path", "http://user:pw@h"])
def test_a_bad_server_is_one_line_and_exit_4(value: str, tmp_path: Path, run: Any) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(record() + b"\n")
    code, _, err = run(str(path), "--server", value)
    assert 4 == code
    assert 1 == len(err.splitlines())
    assert err.startswith("panic-contract audit: error: --server (or PANIC_API_SERVERS) ")
    assert "pw" not in err


# --- the guard cuts a long string where the JSON stays valid --------------------------------------------


class Trickle(io.RawIOBase):
    """Hands out the bytes in pieces of the sizes drawn, as a pipe or a slow disk may."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        super().__init__()
        self.data, self.sizes, self.at, self.turn = data, sizes, 0, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        step = self.sizes[self.turn % len(self.sizes)]
        self.turn += 1
        piece = self.data[self.at : self.at + min(step, size if size >= 0 else step)]
        self.at += len(piece)
        return piece


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)


@settings(max_examples=150, deadline=None)
# A string of escapes read a byte at a time: each escape's backslash came carried into the next chunk, after
# the point to cut at had passed, so no cut was found and valid text was refused as "a string larger than".
@example(values=['00000000""' + "\x1f" * 9 + "\U00010000"], ascii_only=True, limit=8, sizes=[1])
@given(
    values=st.lists(st.one_of(TEXT, st.integers(-(10**6), 10**6), st.none()), min_size=1, max_size=8),
    ascii_only=st.booleans(),
    limit=st.integers(min_value=8, max_value=120),  # keys ("entries") and numbers stay shorter
    sizes=st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=5),
)
def test_strings_the_guard_cuts_stay_json_and_keep_a_prefix_the_rest_whole(
    values: list[Any], ascii_only: bool, limit: int, sizes: list[int]
) -> None:
    document = json.dumps({"log": {"entries": [{"v": value} for value in values]}}, ensure_ascii=ascii_only)
    guard = DepthGuard(Trickle(document.encode(), sizes), 64, string_limit=limit)
    parsed = [entry["v"] for entry in ijson.items(guard, "log.entries.item")]
    assert len(values) == len(parsed)
    for value, seen in zip(values, parsed, strict=True):
        if isinstance(seen, str) and seen.endswith(CUT_MARK):
            assert isinstance(value, str)
            assert value.startswith(seen[: -len(CUT_MARK)])
            written = json.dumps(value, ensure_ascii=ascii_only)[1:-1].encode()
            assert len(written) > limit  # only a long string is ever cut
        else:
            assert value == seen


# --- nothing is waited on forever -------------------------------------------------------------------------


def test_a_device_that_never_ends_is_refused_at_once(tmp_path: Path, run: Any) -> None:
    link = tmp_path / "capture.jsonl"
    link.symlink_to("/dev/zero")
    started = time.monotonic()
    code, _, err = run(str(link))
    assert time.monotonic() - started < 5  # it was 7 GB and still reading when stopped at 15 s
    assert (
        4,
        [
            f"panic-contract audit: verdict: usage (exit 4): {link}: not a capture file (a device, which may never "
            "end): name a HAR or JSON Lines file, or pipe the capture on standard input (-)"
        ],
    ) == (code, err.splitlines())


def test_a_folder_is_refused(tmp_path: Path, run: Any) -> None:
    code, _, err = run(str(tmp_path))
    assert 4 == code
    assert f"{tmp_path}: not a capture file (a folder)" in err


def test_a_named_pipe_that_no_program_writes_to_is_waited_on_a_bounded_time(
    tmp_path: Path, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open() of such a pipe used to wait forever."""
    monkeypatch.setattr(reading, "PIPE_WAIT_S", 0.3)
    fifo = tmp_path / "capture.har"
    os.mkfifo(fifo)
    started = time.monotonic()
    code, _, err = run(str(fifo))
    assert time.monotonic() - started < 5
    assert (
        4,
        [
            f"panic-contract audit: verdict: usage (exit 4): {fifo}: a named pipe that no program writes to (waited "
            "0.3 s): start the program that writes the capture first, or pipe it on standard input (-)"
        ],
    ) == (code, err.splitlines())


def test_a_named_pipe_with_a_writer_is_read(tmp_path: Path, run: Any) -> None:
    fifo = tmp_path / "capture.jsonl"
    os.mkfifo(fifo)

    def write() -> None:
        time.sleep(0.2)  # the audit opens the pipe first, and waits for its writer
        with fifo.open("wb") as pipe:
            pipe.write(record() + b"\n" + record(callout_id=992012, body={**CALLOUT, "id": 992012}) + b"\n")

    writer = threading.Thread(target=write)
    writer.start()
    code, out, _ = run(str(fifo))
    writer.join()
    assert 0 == code, out
    assert "2 of 2 exchanges audited" in out


def test_standard_input_from_a_terminal_is_refused(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal(io.BufferedReader(io.BytesIO(b""))))
    code, _, err = run("-")
    assert (
        4,
        [
            "panic-contract audit: verdict: usage (exit 4): standard input is a terminal: pipe a capture into it "
            "(zcat capture.har.gz | panic-contract audit -), or name the file"
        ],
    ) == (code, err.splitlines())


# --- Ctrl-C and SIGTERM --------------------------------------------------------------------------------------


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    judge = findings.inspect_fields
    seen = []

    def judging(*args: Any) -> Any:
        seen.append(1)
        if len(seen) > calls:
            raise KeyboardInterrupt
        return judge(*args)

    monkeypatch.setattr(jsonl, "inspect_fields", judging)  # each reader calls the judge by its own name
    monkeypatch.setattr(har, "inspect_fields", judging)
    # the quick checks count a clean exchange without the judge: off here, where the judge is what stops
    # (test_ctrl_c_while_clean_lines_are_read_quickly stops them)
    monkeypatch.setattr(jsonl, "QUICK_LINES", False)
    monkeypatch.setattr(har, "QUICK_ENTRIES", False)


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_ctrl_c_ends_with_the_verdict_and_the_reports_of_what_was_read(
    fmt: str, tmp_path: Path, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies = [CALLOUT, {**CALLOUT, "customerId": None}, CALLOUT, CALLOUT]
    if fmt == "jsonl":
        path = tmp_path / "capture.jsonl"
        path.write_bytes(b"".join(record(body) + b"\n" for body in bodies))
    else:
        path = write_har(tmp_path / "capture.har", [har_entry(json.dumps(body)) for body in bodies])
    _interrupt_after(monkeypatch, 2)
    code, out, _ = run(str(path), f"--drift-report={tmp_path / 'r.json'}")
    assert 130 == code
    assert out.splitlines()[-1] == (  # the third exchange was read, and not judged
        "verdict: interrupted (exit 130): interrupted by Ctrl-C after 3 exchanges, before the audit finished: the "
        "reports hold what was read (drift: 1 finding(s) of kind null-in-non-nullable; 2 of 3 exchanges audited, "
        "0 of other operations skipped); run it again for a verdict"
    )
    assert ["null-in-non-nullable"] == [f["kind"] for f in json.loads((tmp_path / "r.json").read_text())["findings"]]


def test_ctrl_c_before_any_drift_is_interrupted_never_ok(
    tmp_path: Path, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(record() + b"\n" for _ in range(5)))
    _interrupt_after(monkeypatch, 3)
    code, out, _ = run(str(path))
    assert 130 == code
    assert out.splitlines()[-1].startswith(
        "verdict: interrupted (exit 130): interrupted by Ctrl-C after 4 exchanges, before the audit finished: the "
        "reports hold what was read (ok: "
    )


def test_ctrl_c_while_clean_lines_are_read_quickly_counts_what_was_read(
    tmp_path: Path, run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(record() + b"\n" for _ in range(5)))
    parsed: list[int] = []

    def loads(line: bytes) -> Any:  # the quick check parses each line once: the fourth parse is stopped
        parsed.append(1)
        if len(parsed) > 3:
            raise KeyboardInterrupt
        return orjson.loads(line)

    monkeypatch.setattr(jsonl, "orjson", types.SimpleNamespace(loads=loads, JSONDecodeError=orjson.JSONDecodeError))
    code, out, _ = run(str(path))
    assert 130 == code
    line = out.splitlines()[-1]
    assert line.startswith(
        "verdict: interrupted (exit 130): interrupted by Ctrl-C after 3 exchanges, before the audit finished: the "
        "reports hold what was read (ok: "
    )
    assert "; 3 of 3 exchanges audited, 0 of other operations skipped); run it again for a verdict" in line


STOPPABLE = textwrap.dedent(
    """
    import sys, time
    from panic_contract.capture import splitting
    from panic_contract.commands import cli

    def _run_task(task, contract=None):  # every worker's part: it never ends by itself
        time.sleep(600)

    _run_task.__module__, _run_task.__qualname__ = "panic_contract.capture.splitting", "_run_task"
    splitting._run_task = _run_task  # inherited by the forked workers
    splitting.MIN_PART_BYTES = 2048
    sys.exit(cli.main(["audit", sys.argv[1], "--jobs", "2"]))
    """
)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads a process's children from /proc (Linux)")
@pytest.mark.parametrize(("signum", "how"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")])
def test_sigterm_or_ctrl_c_ends_every_worker_and_prints_the_verdict(signum: int, how: str, tmp_path: Path) -> None:
    """Before, SIGTERM ended the main process only: its workers ran on, orphaned, under PID 1."""
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(record() + b"\n" for _ in range(200)))
    child = subprocess.Popen(
        [sys.executable, "-c", STOPPABLE, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 2 == len(workers)
        time.sleep(0.3)  # the parts are handed out
        child.send_signal(signum)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert 130 == child.returncode, err
    assert out.splitlines()[-1].startswith(
        f"verdict: interrupted (exit 130): interrupted by {how} after 0 exchanges, before the audit finished: "
    )
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [] == [pid for pid in workers if _running(pid)]
