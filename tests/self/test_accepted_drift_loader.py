"""The accepted-drift file is read with bounds: any bytes give entries, or one line naming the file and line.

A file comes from a pull request like any other: an alias bomb, an impossible date, a kind that is not text
or a key given twice must each stop the run as a usage error (exit 4, pytest and the audit alike), in one
line, never a traceback, and never with memory that grows with what the YAML would expand to.
"""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from panic_contract.commands import cli
from panic_contract.core.accepted import FIELDLESS_KINDS, MAX_BYTES, Acceptance, load, loads
from panic_contract.core.findings import Kind
from panic_contract.errors import AcceptedDriftError
from tests.self.samples import DOCUMENTED_CALLOUT

TODAY = date(2026, 11, 28)
WHERE = "accepted-drift.yaml"
GOOD = "- kind: unknown-status\n  field: $.status\n  reason: ticket 4411\n  expires: 2026-12-31\n"


def alias_bomb() -> str:
    """430 bytes that expand to 9**9 strings (today's loader hung on it, growing by about 50 MB a second)."""
    nested = "&a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"
    for level in range(1, 9):
        nested = f"&a{level} [" + ",".join([nested] + [f"*a{level - 1}"] * 8) + "]"
    return GOOD + f"  value: {nested}\n"


def scalar_bomb() -> str:
    """The same with anchors on scalars only: each alias is one string, but there are many."""
    return GOOD.replace("ticket 4411", "&r ticket 4411") + "- kind: new-field\n  reason: *r\n  expires: 2026-12-31\n"


CASES = {
    "alias-bomb": (
        alias_bomb(),
        "line 5: value must be a single value (text, a number, true, false or null), not a list or mapping",
    ),
    "scalar-alias": (scalar_bomb(), "line 3: YAML anchors (&r) are not allowed here; write each value out"),
    "alias-first": ("- kind: *k\n", "line 1: YAML aliases (*k) are not allowed here; write the value out"),
    "impossible-date": (
        GOOD.replace("2026-12-31", "2026-02-30"),
        "line 4: expires: 2026-02-30 is not a date (day is out of range for month)",
    ),
    "kind-a-list": (
        GOOD.replace("unknown-status", "[unknown-status]"),
        "line 1: kind must be text naming a finding kind, not a list or mapping",
    ),
    "kind-a-number": (GOOD.replace("unknown-status", "5"), "line 1: kind must be text, not '5': name a finding kind*"),
    "no-kind": (GOOD.replace("kind: unknown-status\n  ", ""), "line 1: kind is required: name a finding kind*"),
    "duplicate-expiry": (
        GOOD + "  expires: 2099-12-31\n",
        "line 5: expires is given twice in this entry; keep one (a second one would silently win)",
    ),
    "merge-key": (
        GOOD + "  <<: {reason: other}\n",
        "line 5: unknown key '<<'; allowed: *",
    ),
    "key-a-list": ("- [kind]: unknown-status\n", "line 1: a key is one of kind, field, value, reason, expires"),
    "python-tag": (
        GOOD.replace("ticket 4411", "!!python/name:os.system"),
        "line 3: reason cannot be read: could not determine a constructor for the tag*",
    ),
    "unknown-tag": (GOOD.replace("ticket 4411", "!secret x"), "line 3: reason cannot be read: could not determine*"),
    "int-too-long": (
        "- kind: new-field\n  field: $.a\n  value: " + "1" * 5000 + "\n  reason: r\n  expires: 2026-12-31\n",
        "line 3: value: 1111111111* cannot be read (Exceeds the limit*",
    ),
    "two-documents": (GOOD + "---\n" + GOOD, "line 5: one list of entries, not several YAML documents (---)"),
    "a-mapping": ("kind: unknown-status\n", "line 1: expected a list of entries (- kind: ...)"),
    "a-scalar-entry": ("- unknown-status\n", "line 1: an entry is a mapping with kind, field, reason and expires"),
    "control-character": (GOOD + "- kind: \x07\n", "line 5: not valid YAML: *"),
    "not-utf8": (GOOD + "- kind: caf\xe9\n", "line 5: not UTF-8 text; save the file as UTF-8"),
    "unclosed-quote": ('- kind: "unknown-status\n', "line 2: not valid YAML: found unexpected end of stream"),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / WHERE
    path.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    return path


@pytest.mark.parametrize(("text", "line"), CASES.values(), ids=CASES.keys())
def test_a_file_that_cannot_be_used_is_one_line_naming_the_file_and_line(text: str, line: str, tmp_path: Path) -> None:
    path = write(tmp_path, text)
    started = time.monotonic()
    with pytest.raises(AcceptedDriftError) as caught:
        load(path, TODAY)
    message = str(caught.value)
    assert [message] == message.splitlines()
    assert time.monotonic() - started < 5  # the bomb is refused, not expanded
    assert fnmatchcase(message, f"{path} {line}"), message


@pytest.mark.parametrize("text", ["", "# nothing accepted yet\n", "~\n", "---\n...\n", "[]\n"])
def test_an_empty_file_accepts_nothing(text: str) -> None:
    assert () == loads(text.encode(), WHERE, TODAY).entries


def test_a_file_larger_than_the_bound_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD * (MAX_BYTES // len(GOOD) + 1))
    with pytest.raises(AcceptedDriftError, match=rf"^{path}: larger than 256 KiB, more than any list"):
        load(path)


def test_an_endless_file_is_read_only_up_to_the_bound() -> None:
    with pytest.raises(AcceptedDriftError, match=r"^/dev/zero: larger than 256 KiB"):
        load(Path("/dev/zero"))


def test_the_largest_file_allowed_loads_in_bounded_time_and_memory() -> None:
    raw = (GOOD * (MAX_BYTES // len(GOOD))).encode()
    tracemalloc.start()
    started = time.monotonic()
    try:
        acceptance = loads(raw, WHERE, TODAY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert MAX_BYTES // len(GOOD) == len(acceptance.entries)
    assert time.monotonic() - started < 60  # a few seconds even with the pure-Python parser and tracing
    assert peak < 100 << 20, peak


@pytest.mark.parametrize(
    "text",
    ["- [" + ",".join(["a"] * (MAX_BYTES // 2 - 4)) + "]\n", "- " * (MAX_BYTES // 2 - 1), "[" * MAX_BYTES],
    ids=["wide", "deep-sequences", "deep-brackets"],
)
def test_the_worst_shapes_within_the_bound_stop_at_once_in_flat_memory(text: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(AcceptedDriftError) as caught:
            loads(text.encode(), WHERE, TODAY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert f"{WHERE} line 1: " in str(caught.value)
    assert peak < 50 << 20, peak


# --- any bytes: entries, or one line ----------------------------------------------------------


def holds(raw: bytes) -> Acceptance | None:
    """The loader's whole contract on `raw`: an Acceptance of sound entries, or one AcceptedDriftError line."""
    try:
        acceptance = loads(raw, WHERE, TODAY)
    except AcceptedDriftError as exc:
        message = str(exc)
        assert [message] == message.splitlines(), message
        assert message.startswith((f"{WHERE} line ", f"{WHERE}: larger than")), message
        assert len(message) < 600, message
        return None
    for entry in acceptance.entries:
        assert entry.kind in {str(kind) for kind in Kind}
        assert entry.reason.strip()
        assert "\n" not in entry.reason
        assert isinstance(entry.expires, date)
        assert field_fits(entry.kind, entry.field), entry  # an entry that could match a finding
        assert reason_written(entry.reason), entry  # and says why
        assert entry.line >= 1
        entry.describe()  # and every entry can be shown
    return acceptance


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_give_entries_or_one_line(raw: bytes) -> None:
    holds(raw)


YAML_PIECES = st.sampled_from(
    [
        "- ", "  ", "\n", ": ", "kind", "field", "value", "reason", "expires", "unknown-status", "new-field",
        "$.status", "2026-12-31", "2026-02-30", "ticket", "&a ", "*a", "<<", "[", "]", "{", "}", ",", "'", '"',
        "!!str ", "!!python/object ", "---\n", "...\n", "? ", "#", "|\n", ">\n", "~", "null", "1e999", "0x1F",
        "\t", "\\", "\x00", "\u2028", "\ufeff",
    ]
)  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(st.sampled_from(["", "- ", GOOD, GOOD + "  "]), st.lists(YAML_PIECES, max_size=60)).map(
    lambda parts: parts[0] + "".join(parts[1])
))  # fmt: skip
def test_yaml_like_text_gives_entries_or_one_line(text: str) -> None:
    holds(text.encode("utf-8", "surrogatepass"))


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.dates(),
    st.sampled_from([str(kind) for kind in Kind]),
)  # fmt: skip
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner))
KEYS = st.sampled_from(["kind", "field", "value", "reason", "expires", "colour"])


def field_fits(kind: str, field: Any) -> bool:
    """The field rule, stated on its own: none for a whole-response kind, a check's name, else a JSON path."""
    if kind in FIELDLESS_KINDS:
        return field is None
    if kind == "schemathesis-check":
        return isinstance(field, str) and field.isascii() and field.isidentifier()
    return isinstance(field, str) and (field == "$" or field.startswith(("$.", "$[")))


def reason_written(reason: Any) -> bool:
    """The reason rule, stated on its own: some letter or digit, and a first word that is no placeholder."""
    if not isinstance(reason, str):
        return False
    words = re.findall(r"[^\W_]+", reason)
    return bool(words) and words[0].lower() not in {"todo", "fixme", "tbd", "xxx"}


FIELDS = (
    st.none()
    | st.sampled_from(["$.status", "$.responderEta", "$", "$[0]", "unsupported_method"])
    | st.text(max_size=10)
)
VALID_ENTRY = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([str(kind) for kind in Kind]),
        "reason": st.text(min_size=1, max_size=20).filter(str.strip) | st.sampled_from(["TODO", "todo: x", "FIXME"]),
        "expires": st.dates(),
    },
    optional={"field": FIELDS},
)
# mostly sound entries, some with a key replaced or added, some not entries at all
ENTRY = st.one_of(
    VALID_ENTRY,
    st.tuples(VALID_ENTRY, st.dictionaries(KEYS, VALUES, max_size=2)).map(lambda pair: {**pair[0], **pair[1]}),
    VALUES,
)
ENTRIES = st.lists(ENTRY, max_size=5) | VALUES


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(ENTRIES, st.sampled_from([None, "flow", "block"]))
def test_yaml_documents_of_any_shape_give_entries_or_one_line(document: Any, style: str | None) -> None:
    text = yaml.safe_dump(document, default_flow_style={"flow": True, "block": False}.get(style or ""))
    acceptance = holds(text.encode())
    well_formed = isinstance(document, list) and all(
        isinstance(item, dict)
        and set(item) <= {"kind", "field", "reason", "expires"}
        and isinstance(item.get("kind"), str)
        and item["kind"] in {str(kind) for kind in Kind}
        and field_fits(item["kind"], item.get("field"))
        and reason_written(item.get("reason"))
        and isinstance(item.get("expires"), date)
        for item in document
    )
    if well_formed:
        assert acceptance is not None, text
        assert len(document) == len(acceptance.entries)


# --- the run stops as a usage error: exit 4, in pytest and in the audit ------------------------

STOPS = {name: CASES[name] for name in ("alias-bomb", "impossible-date", "kind-a-list", "duplicate-expiry")}


@pytest.mark.parametrize(("text", "line"), STOPS.values(), ids=STOPS.keys())
def test_the_suite_stops_with_exit_4_and_the_line(text: str, line: str, run_suite: Any, tmp_path: Path) -> None:
    path = write(tmp_path, text)
    run = run_suite(f"--accepted-drift={path}")
    assert 4 == run.result.ret, run.output
    run.result.stderr.fnmatch_lines([f"ERROR: {path} {line}"])
    assert "Traceback" not in run.output
    assert "INTERNALERROR" not in run.output


@pytest.mark.parametrize(("text", "line"), STOPS.values(), ids=STOPS.keys())
def test_the_audit_stops_with_exit_4_and_the_line(
    text: str, line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, text)
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/992011"},
        "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": DOCUMENTED_CALLOUT},
    }
    capture = tmp_path / "capture.jsonl"
    capture.write_text(json.dumps(record) + "\n")
    assert 4 == cli.main(["audit", str(capture), f"--accepted-drift={path}"])
    (err,) = capsys.readouterr().err.splitlines()
    assert fnmatchcase(err, f"panic-contract audit: verdict: usage (exit 4): {path} {line}"), err
