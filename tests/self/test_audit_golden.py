"""The audit's outputs on a fixed set of captures, compared with those recorded before its readers were made faster.

Every capture in tests/self/captures, generated ones (the benchmark's mix of drifts, as HAR and JSON Lines,
pretty-printed, gzip-compressed, with entries shaped as different exporters write them) and broken ones:
the exit code, every printed line, the JSON report and the Markdown report, with the run's time left out.
`python -m tests.self.test_audit_golden` records them again (only after a change meant to alter them).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import unittest.mock
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from panic_contract.capture import har
from panic_contract.capture.splitting import PART_BYTES_ENV
from panic_contract.commands import cli

HERE = Path(__file__).parent
CAPTURES = HERE / "captures"
GOLDEN = HERE / "audit_golden.json"
_spec = importlib.util.spec_from_file_location("bench_captures", HERE.parent.parent / "bench" / "captures.py")
assert _spec is not None
assert _spec.loader is not None
bench_captures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_captures)

Make = Callable[[Path], Path]


def _entries(count: int) -> list[dict[str, Any]]:
    return [bench_captures._har_entry(*exchange) for exchange in bench_captures.exchanges(count)]


def _har(path: Path, entries: list[Any], *, indent: bool = False, before: str = "", after: str = "") -> Path:
    log = '{"version": "1.2", "creator": {"name": "golden", "version": "1"}, ' + before + '"entries": '
    body = json.dumps(entries, indent=2 if indent else None)
    path.write_text('{"log": ' + log + body + after + "}}\n")
    return path


def _generated_har(path: Path) -> Path:
    bench_captures.write_har(path, 3000)
    return path


def _generated_jsonl(path: Path) -> Path:
    bench_captures.write_jsonl(path, 3000)
    return path


def _pretty(path: Path) -> Path:
    return _har(path, _entries(400), indent=True, before='"pages": [{"id": "page_1", "title": "x"}], ')


def _pages_after(path: Path) -> Path:
    return _har(path, _entries(300), after=', "pages": [{"id": "p", "title": "after"}], "comment": "entries first"')


def _mixed_first_keys(path: Path) -> Path:
    entries = _entries(300)
    for n, entry in enumerate(entries):
        if n % 3 == 1:  # some exporters write pageref first, on the entries that have one
            entries[n] = {"pageref": "page_1", **entry}
        if n % 7 == 2:
            entries[n] = {"_initiator": {"type": "other"}, **entry}
    return _har(path, entries)


def _nested_like_entries(path: Path) -> Path:
    """Objects inside an entry that start with the entry's own first key (a cut there is not between entries)."""
    entries = _entries(300)
    for n, entry in enumerate(entries):
        if n % 5 == 0:
            entry["_related"] = [{"x": 1}, {"startedDateTime": "2024-04-20T14:45:00.000Z", "time": 1}]
    return _har(path, entries)


def _base64_bodies(path: Path) -> Path:
    entries = _entries(200)
    for entry in entries:
        content = entry["response"]["content"]
        content["text"] = base64.b64encode(content["text"].encode()).decode()
        content["encoding"] = "base64"
    return _har(path, entries)


def _gzipped(path: Path) -> Path:
    raw = _generated_har(path.with_suffix(""))
    path.write_bytes(gzip.compress(raw.read_bytes(), mtime=0))
    raw.unlink()
    return path


def _crlf_jsonl(path: Path) -> Path:
    _generated_jsonl(path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    return path


def _one_large_body(path: Path) -> Path:
    entries = _entries(40)
    big = json.dumps({"id": 1, "pad": 'é\\"' * (2 << 20)})
    entries[20]["response"]["content"]["text"] = big
    return _har(path, entries)


def _truncated(path: Path) -> Path:
    _generated_har(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _invalid_char(path: Path) -> Path:
    data = _har(path, _entries(500)).read_bytes()
    at = data.index(b'"status": 200', len(data) // 2)
    path.write_bytes(data[:at] + b'"status": 2OO' + data[at + len(b'"status": 200') :])
    return path


def _nested_deep(path: Path) -> Path:
    data = _har(path, _entries(200)).read_bytes()
    at = data.index(b'"cache": {}', len(data) // 2)
    path.write_bytes(data[:at] + b'"cache":' + b"[" * 300 + b"]" * 300 + data[at + len(b'"cache": {}') :])
    return path


def _nested_allowed(path: Path) -> Path:
    data = _har(path, _entries(200)).read_bytes()
    at = data.index(b'"cache": {}', len(data) // 2)
    path.write_bytes(data[:at] + b'"cache":' + b"[" * 200 + b"]" * 200 + data[at + len(b'"cache": {}') :])
    return path


def _without_response(path: Path) -> Path:
    entries = _entries(200)
    del entries[150]["response"]
    return _har(path, entries)


def _not_a_har(path: Path) -> Path:
    path.write_text('{"entries": []}')
    return path


def _empty_entries(path: Path) -> Path:
    return _har(path, [])


def _trailing_garbage(path: Path) -> Path:
    _har(path, _entries(100))
    path.write_bytes(path.read_bytes() + b'{"more": 1}')
    return path


def _second_entries(path: Path) -> Path:
    return _har(path, _entries(50), after=', "entries": ' + json.dumps(_entries(60)[50:]))


def _not_an_object_entry(path: Path) -> Path:
    entries: list[Any] = _entries(100)
    entries[60] = [1, 2]
    return _har(path, entries)


def _jsonl_bad_line(path: Path) -> Path:
    _generated_jsonl(path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2000] = b'{"request": {"method": "GET", "path": "/panic-api/v2/cal\n'
    path.write_bytes(b"".join(lines))
    return path


def _jsonl_bad_record(path: Path) -> Path:
    _generated_jsonl(path)
    lines = path.read_bytes().splitlines(keepends=True)
    record = orjson.loads(lines[1500])
    record["response"]["status"] = "200"
    lines[1500] = orjson.dumps(record) + b"\n"
    path.write_bytes(b"".join(lines))
    return path


def _recorded(target: str) -> dict[str, str]:
    return {"source": "recorded", "target": target, "recorded_at": "2026-11-30T09:14:02Z", "tool_version": "0.1.0"}


def _jsonl_varied(path: Path) -> Path:
    """Records as a recorder and other tools write them: hosts, credentials, body_text, body_base64, headers."""
    records = []
    for n, line in enumerate(Path(_generated_jsonl(path)).read_bytes().splitlines()[:1000]):
        record = orjson.loads(line)
        response = record["response"]
        if n % 4 == 1:
            record["provenance"] = _recorded("staging-panic.aura.services")
        if n % 9 == 2:
            record["provenance"] = _recorded("localhost:8000")
        if n % 11 == 3:
            record["request"]["credentials"] = "missing"
        if n % 13 == 4 and "body" in response:
            response["body_text"] = orjson.dumps(response.pop("body")).decode()
        if n % 17 == 5 and "body" in response:
            response["body_base64"] = base64.b64encode(orjson.dumps(response.pop("body"))).decode()
        if n % 19 == 6:
            response["headers"] = {"Content-Type": "application/json; charset=utf-8", "X-Request-Id": str(n)}
        if n % 23 == 7:
            record["request"]["path"] += "?access_token=golden-token-never-printed"
        records.append(orjson.dumps(record))
    path.write_bytes(b"\n".join(records) + b"\n")
    return path


CASES: dict[str, tuple[str, Make]] = {
    **{
        f"captures/{p.name}": (p.name, lambda d, p=p: Path(shutil.copy(p, d / p.name)))
        for p in sorted(CAPTURES.iterdir())
    },
    "generated.har": ("capture.har", _generated_har),
    "generated.jsonl": ("capture.jsonl", _generated_jsonl),
    "pretty.har": ("capture.har", _pretty),
    "pages-after-entries.har": ("capture.har", _pages_after),
    "mixed-first-keys.har": ("capture.har", _mixed_first_keys),
    "nested-like-entries.har": ("capture.har", _nested_like_entries),
    "base64-bodies.har": ("capture.har", _base64_bodies),
    "gzipped.har.gz": ("capture.har.gz", _gzipped),
    "crlf.jsonl": ("capture.jsonl", _crlf_jsonl),
    "one-large-body.har": ("capture.har", _one_large_body),
    "truncated.har": ("capture.har", _truncated),
    "invalid-char.har": ("capture.har", _invalid_char),
    "nested-deep.har": ("capture.har", _nested_deep),
    "nested-allowed.har": ("capture.har", _nested_allowed),
    "without-response.har": ("capture.har", _without_response),
    "not-a-har.har": ("capture.har", _not_a_har),
    "empty-entries.har": ("capture.har", _empty_entries),
    "trailing-garbage.har": ("capture.har", _trailing_garbage),
    "second-entries-array.har": ("capture.har", _second_entries),
    "not-an-object-entry.har": ("capture.har", _not_an_object_entry),
    "bad-line.jsonl": ("capture.jsonl", _jsonl_bad_line),
    "bad-record.jsonl": ("capture.jsonl", _jsonl_bad_record),
    "varied.jsonl": ("capture.jsonl", _jsonl_varied),
}
# Cut into parts on two workers: the same outputs as one pass.
SPLIT = ("generated.har", "generated.jsonl", "mixed-first-keys.har", "nested-like-entries.har", "truncated.har")


@contextlib.contextmanager
def _environment(part_bytes: int | None) -> Iterator[None]:
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("PANIC_API_") or name == PART_BYTES_ENV:
            del os.environ[name]
    os.environ["PANIC_API_NO_HISTORY"] = "1"  # each run as if it were the first: the outputs do not depend on a store
    if part_bytes is not None:
        os.environ[PART_BYTES_ENV] = str(part_bytes)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def outputs(name: str, folder: Path, jobs: int = 1) -> dict[str, Any]:
    """What `panic-contract audit` gives for case `name`: exit code, lines, reports (the run's time left out)."""
    file_name, make = CASES[name]
    path = make(folder / file_name) if not name.startswith("captures/") else make(folder)
    report, markdown = folder / "drift.json", folder / "drift.md"
    argv = ["audit", str(path), f"--jobs={jobs}", f"--drift-report={report}", f"--drift-report-md={markdown}"]
    out, err = io.StringIO(), io.StringIO()
    with _environment(64 << 10 if jobs > 1 else None), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    found: dict[str, Any] = {}
    if report.exists():
        found = json.loads(report.read_text())
        found.pop("started_at")
        found.pop("duration_s")
    text = re.sub(r" in [0-9.]+s\.", " in <duration>s.", markdown.read_text()) if markdown.exists() else ""
    for produced in (report, markdown, path):
        produced.unlink(missing_ok=True)
    where = str(folder)
    return {
        "code": code,
        "out": out.getvalue().replace(where, "<dir>").splitlines(),
        "err": err.getvalue().replace(where, "<dir>").splitlines(),
        "report": json.loads(json.dumps(found).replace(where, "<dir>")),
        "markdown": text.replace(where, "<dir>").splitlines(),
    }


def _golden() -> dict[str, Any]:
    return dict(json.loads(GOLDEN.read_text()))


@pytest.mark.parametrize("name", list(CASES))
def test_the_audit_gives_what_it_gave_before_its_readers_were_made_faster(name: str, tmp_path: Path) -> None:
    assert _golden()[name] == outputs(name, tmp_path)


@pytest.mark.parametrize("name", SPLIT)
def test_cut_into_parts_on_two_workers_it_gives_the_same(name: str, tmp_path: Path) -> None:
    assert _golden()[name] == outputs(name, tmp_path, jobs=2)


def record() -> None:
    import tempfile

    found = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in CASES:
            found[name] = outputs(name, Path(scratch))
    GOLDEN.write_text(json.dumps(found, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"recorded {len(found)} cases in {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    record()


# --- the fast reader reads what ijson reads, or hands the HAR to ijson -----------------------------------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab"\\{}[],: é\n'), max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "request"]), inner, max_size=3)
    ),
    max_leaves=12,
)
_entries_strategy = st.lists(
    st.one_of(
        st.builds(lambda extra: {"request": {"method": "GET"}, "x": extra}, _json_values),
        st.dictionaries(st.sampled_from(["request", "pageref", "time"]), _json_values, min_size=1, max_size=3),
        _json_values,
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    entries=_entries_strategy,
    indent=st.booleans(),
    after=st.sampled_from(["", ', "browser": {"n": 1}']),
    batch=st.sampled_from([1, 40, 32 << 10]),
)
def test_the_fast_reader_gives_the_entries_ijson_gives_or_gives_way(
    entries: list[Any], indent: bool, after: str, batch: int
) -> None:
    text = '{"log": {"version": "1.2", "entries": ' + json.dumps(entries, indent=2 if indent else None) + after + "}}"
    data = text.encode()
    expected = list(har.IJSON.items(io.BytesIO(data), "log.entries.item", use_float=True))
    fast = har._FastEntries(har.DepthGuard(io.BytesIO(data), har.MAX_DEPTH))
    with unittest.mock.patch.object(har, "_BATCH", batch):  # small batches: many cuts, some inside entries
        try:
            found = list(fast)
        except har._NotFastError:
            return  # ijson reads it instead
    assert expected == found


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.99])
def test_a_har_cut_short_is_never_read_as_whole_by_the_fast_reader(cut: float) -> None:
    data = json.dumps({"log": {"entries": _entries(200)}}).encode()
    fast = har._FastEntries(har.DepthGuard(io.BytesIO(data[: int(len(data) * cut)]), har.MAX_DEPTH))
    with pytest.raises(har._NotFastError):
        list(fast)
