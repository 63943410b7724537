"""The capture readers on any input: arbitrary bytes, and valid HAR and JSON Lines with random mutations, as
files of each name and gzip-compressed. Each ends in a verdict (findings or none), or in one usage line and
exit 4; never a traceback, and never much memory."""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panic_contract.commands import cli
from tests.self.samples import DOCUMENTED_CALLOUT as CALLOUT

HOST = "https://staging-panic.aura.services"
VERDICT_CODES = {0, 1, 10, 11, 12}
USAGE = "panic-contract audit: verdict: usage (exit 4): "
MIB = 1 << 20
NAMES = ["capture.har", "capture.jsonl", "capture.json", "capture"]


def audited(path: Path) -> tuple[int, str, str, int]:
    """Exit code, stdout, stderr and peak traced memory of one audit, in this process."""
    out, err = io.StringIO(), io.StringIO()
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["audit", str(path), "--jobs", "1"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return code, out.getvalue(), err.getvalue(), peak


def assert_a_verdict_or_one_line(code: int, out: str, err: str, peak: int) -> None:
    if code == 4:
        assert ("", 1) == (out, len(err.splitlines())), err
        assert err.startswith(USAGE)
    else:
        assert code in VERDICT_CODES
        assert "" == err
        assert out.splitlines()[-1].startswith("verdict: ")
    assert peak < 64 * MIB


VALUES = st.sampled_from([None, 0, -1, 1.5, "", "x", "Escalated", "2024-04-20T14:45:00Z", [], {}, True])
BODIES = st.one_of(
    st.just(CALLOUT),
    st.dictionaries(st.sampled_from([*CALLOUT, "extra"]), VALUES | st.sampled_from(list(CALLOUT.values()))),
    st.text(max_size=30),
)
EXCHANGES = st.lists(
    st.tuples(
        st.sampled_from(["GET", "POST", "get"]),
        st.sampled_from([
            "/panic-api/v2/callouts/992011",
            "/panic-api/v2/callouts/x",
            "/panic-api/v2/callouts/992011?access_token=fuzz-token-2b9e",
            "/other",
        ]),
        st.sampled_from([200, 200, 401, 404, 429, 500, 502, 0, 301]),
        BODIES,
        st.sampled_from([HOST, "http://localhost:3000", "HTTPS://STAGING-PANIC.AURA.SERVICES:443", ""]),
        st.sampled_from(["text", "base64", "none", "size-0", "utf8"]),
    ),
    max_size=6,
)  # fmt: skip


def har_text(exchanges: list[tuple[Any, ...]]) -> bytes:
    entries = []
    for method, path, status, body, host, saved in exchanges:
        text = body if isinstance(body, str) else json.dumps(body)
        content: dict[str, Any] = {"size": len(text), "mimeType": "application/json"}
        if saved == "text":
            content["text"] = text
        elif saved == "utf8":
            content.update(text=text, encoding="utf8")
        elif saved == "base64":
            content.update(text=base64.b64encode(text.encode()).decode(), encoding="base64")
        elif saved == "size-0":
            content["size"] = 0
        entries.append({
            "request": {
                "method": method,
                "url": host + path,
                "headers": [{"name": "Authorization", "value": "Bearer fuzz-token-7f3a"}] if status != 401 else [],
            },
            "response": {"status": status, "headers": [{"name": "Content-Type", "value": "application/json"}],
                         "content": content},
        })  # fmt: skip
    return json.dumps({"log": {"version": "1.2", "entries": entries}}, indent=1).encode()


def jsonl_text(exchanges: list[tuple[Any, ...]]) -> bytes:
    lines = []
    for method, path, status, body, _, saved in exchanges:
        # a HAR's status 0 is a request never answered; a JSON Lines record is of an exchange that had an answer
        response: dict[str, Any] = {"status": status or 200, "headers": {"content-type": "application/json"}}
        response["body_text" if isinstance(body, str) or saved == "text" else "body"] = (
            body if isinstance(body, str) or saved != "text" else json.dumps(body)
        )
        lines.append(json.dumps({"request": {"method": method, "path": path}, "response": response}))
    return ("\n".join(lines) + "\n").encode()


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["delete", "insert", "replace", "truncate"]), st.floats(0, 1), st.binary(max_size=4)),
    min_size=1,
    max_size=4,
)


def mutated(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for kind, where, piece in mutations:
        at = int(where * len(data))
        if kind == "delete":
            data = data[:at] + data[at + len(piece) + 1 :]
        elif kind == "insert":
            data = data[:at] + piece + data[at:]
        elif kind == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        else:
            data = data[:at]
    return data


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=512), name=st.sampled_from(NAMES), packed=st.booleans())
def test_arbitrary_bytes_give_a_verdict_or_one_line(data: bytes, name: str, packed: bool, tmp_path: Path) -> None:
    path = tmp_path / (name + (".gz" if packed else ""))
    path.write_bytes(gzip.compress(data) if packed else data)
    assert_a_verdict_or_one_line(*audited(path))


@FUZZ
@given(
    exchanges=EXCHANGES,
    fmt=st.sampled_from(["har", "jsonl"]),
    mutations=MUTATIONS,
    name=st.sampled_from(NAMES),
    packed=st.booleans(),
)
def test_valid_captures_with_random_mutations_give_a_verdict_or_one_line(
    exchanges: list[tuple[Any, ...]], fmt: str, mutations: list[Any], name: str, packed: bool, tmp_path: Path
) -> None:
    data = mutated(har_text(exchanges) if fmt == "har" else jsonl_text(exchanges), mutations)
    path = tmp_path / (name + (".gz" if packed else ""))
    path.write_bytes(gzip.compress(data) if packed else data)
    assert_a_verdict_or_one_line(*audited(path))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exchanges=EXCHANGES.filter(bool), fmt=st.sampled_from(["har", "jsonl"]))
def test_valid_captures_always_give_a_verdict(exchanges: list[tuple[Any, ...]], fmt: str, tmp_path: Path) -> None:
    """Unmutated, every capture these strategies make is readable: never exit 4."""
    path = tmp_path / f"capture.{fmt}"
    path.write_bytes(har_text(exchanges) if fmt == "har" else jsonl_text(exchanges))
    code, out, err, peak = audited(path)
    assert code in VERDICT_CODES, err
    assert_a_verdict_or_one_line(code, out, err, peak)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["har", "jsonl"]), mutations=MUTATIONS, repeat=st.integers(8, 24))
def test_large_mutated_captures_keep_memory_flat(fmt: str, mutations: list[Any], repeat: int, tmp_path: Path) -> None:
    """A few MiB of near-valid capture, mutated anywhere (inside a long body too): memory stays far below it."""
    body = {**CALLOUT, "pad": "x" * (repeat * 64 * 1024)}
    exchanges = [("GET", "/panic-api/v2/callouts/992011", 200, body, HOST, "text")] * 4
    data = mutated(har_text(exchanges) if fmt == "har" else jsonl_text(exchanges), mutations)
    path = tmp_path / f"capture.{fmt}"
    path.write_bytes(data)
    code, out, err, peak = audited(path)
    assert_a_verdict_or_one_line(code, out, err, peak)
    assert peak < 32 * MIB
