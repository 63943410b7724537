"""The shape diff: how a recording's shape moved against the earlier fixtures, and the lines that say so.

Fields added or removed, type or nullness changes, status values never seen before and contract findings
the earlier fixture did not have are drift; ordinary value changes are listed apart and never are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panic_contract.core.contract import Contract
from panic_contract.core.findings import JSON_TYPE_NAMES, Inspection, Kind, describe_value, inspect
from panic_contract.core.fixtures import exchange_from_record
from panic_contract.outputs import terminal_line
from panic_contract.recording.recorder import Recorded


def json_type(value: Any) -> str:
    return JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def shape_of(body: Any) -> dict[str, str]:
    """JSON path -> JSON type, for the body and every field at any depth (array items as `[*]`)."""
    shape: dict[str, str] = {}
    for path, value in _walk(body, "$"):
        kind = json_type(value)
        known = shape.setdefault(path, kind)
        if kind not in known.split("|"):  # array items of mixed types
            shape[path] = "|".join(sorted({*known.split("|"), kind}))
    return shape


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, f"{path}.{name}")
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[*]")


def values_of(body: Any) -> dict[str, Any]:
    """JSON path -> scalar value (array items left out: their paths are not unique)."""
    return {path: value for path, value in _walk(body, "$") if "[*]" not in path and not isinstance(value, dict | list)}


@dataclass
class ShapeDiff:
    """How one exchange's shape moved against its earlier fixture; `changes` are drift, values are not."""

    name: str
    compared: bool
    changes: list[str] = field(default_factory=list)
    value_changes: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    paths: set[str] = field(default_factory=set)  # JSON paths a change line is about

    @property
    def drift(self) -> bool:
        return bool(self.changes)

    def add(self, category: str, line: str, path: str | None = None) -> None:
        self.changes.append(line)
        self.counts[category] += 1
        if path is not None:
            self.paths.add(path)


def shape_diff(
    item: Recorded, earlier: Mapping[str, Any] | None, seen_statuses: frozenset[str], contract: Contract
) -> ShapeDiff:
    diff = ShapeDiff(item.planned.path.name, compared=earlier is not None)
    comparable = earlier is not None and _compare_with_earlier(diff, item, earlier, contract)
    _new_status_values(diff, item, seen_statuses)
    if earlier is not None and comparable:  # last: what no line above explains is a mere value change
        _value_changes(diff, earlier["response"].get("body"), item.record["response"].get("body"))
    return diff


def _compare_with_earlier(diff: ShapeDiff, item: Recorded, earlier: Mapping[str, Any], contract: Contract) -> bool:
    """Add the shape changes; False when the two answers differ too much to compare bodies."""
    old_response, new_response = earlier["response"], item.record["response"]
    if old_response["status"] != new_response["status"]:
        diff.add("status code", f"status code {old_response['status']} -> {new_response['status']}")
        return False
    tags = {f.field: f.kind for f in item.inspection.findings if f.field is not None}
    allowed = _contract_types(contract, new_response["status"])
    _compare_shapes(diff, shape_of(old_response.get("body")), shape_of(new_response.get("body")), allowed, tags)
    _new_findings(diff, earlier, item.inspection, contract)
    return True


def _value_changes(diff: ShapeDiff, old_body: Any, new_body: Any) -> None:
    old_values, new_values = values_of(old_body), values_of(new_body)
    for path in sorted(old_values.keys() & new_values.keys() - diff.paths):
        before, after = old_values[path], new_values[path]
        if before != after:
            diff.value_changes.append(f"{path}: {describe_value(before)} -> {describe_value(after)}")


def _compare_shapes(
    diff: ShapeDiff,
    old_shape: Mapping[str, str],
    new_shape: Mapping[str, str],
    allowed: Mapping[str, frozenset[str]],
    tags: Mapping[str, Kind],
) -> None:
    for path in _outermost(new_shape.keys() - old_shape.keys()):
        diff.add("added", f"+ {path}: {new_shape[path]}, added{_tag(tags, path)}", path)
    for path in _outermost(old_shape.keys() - new_shape.keys()):
        diff.add("removed", f"- {path}: {old_shape[path]}, removed{_tag(tags, path)}", path)
    for path in sorted(old_shape.keys() & new_shape.keys()):
        before, after = old_shape[path], new_shape[path]
        if before != after and not _contract_allows(allowed.get(path), before, after):
            category = "nullness" if "null" in {before, after} else "type"
            diff.add(category, f"~ {path}: {before} -> {after}{_tag(tags, path)}", path)


def _outermost(paths: set[str]) -> list[str]:
    """Drop paths inside another listed path: an added object is one change, not one per field."""
    return sorted(p for p in paths if not any(p != q and p.startswith((q + ".", q + "[")) for q in paths))


def _tag(tags: Mapping[str, Kind], path: str) -> str:
    return f" [{tags[path]}]" if path in tags else ""


def _contract_types(contract: Contract, status: int) -> dict[str, frozenset[str]]:
    """`$.field` -> the JSON types the contract allows there (top-level fields of a documented body)."""
    response = contract.responses.get(status)
    if response is None:
        return {}
    allowed: dict[str, frozenset[str]] = {}
    for name, schema in response.schema.get("properties", {}).items():
        types = schema.get("type", [])
        allowed[f"$.{name}"] = frozenset([types] if isinstance(types, str) else types)
    return allowed


def _contract_allows(allowed: frozenset[str] | None, before: str, after: str) -> bool:
    """A move between two types the contract allows (null <-> number for a nullable latitude) is a value change."""
    if not allowed:
        return False
    widened = allowed | ({"integer"} if "number" in allowed else set())
    return {before, after} <= widened


def _new_findings(diff: ShapeDiff, earlier: Mapping[str, Any], inspection: Inspection, contract: Contract) -> None:
    """Contract findings the earlier fixture did not have, unless a line above already shows them."""
    before = {(f.kind, f.field) for f in inspect(exchange_from_record(earlier), contract).findings}
    for finding in inspection.findings:
        if finding.kind is Kind.UNKNOWN_STATUS or (finding.kind, finding.field) in before:
            continue  # unknown status values are judged against every status seen, not one fixture
        if finding.field not in diff.paths:
            diff.add("contract", f"! {finding.message()}", finding.field)


def _new_status_values(diff: ShapeDiff, item: Recorded, seen: frozenset[str]) -> None:
    body = item.record["response"].get("body")
    status = body.get("status") if isinstance(body, dict) else None
    for finding in item.inspection.findings:
        if finding.kind is Kind.UNKNOWN_STATUS and isinstance(status, str) and status.casefold() not in seen:
            line = f"! $.status: {describe_value(status)}, a status value never seen before [{finding.kind}]"
            diff.add("new status", line, "$.status")


_TOTAL_WORDS = (
    ("added", "field(s) added"),
    ("removed", "removed"),
    ("type", "type change(s)"),
    ("nullness", "nullness change(s)"),
    ("new status", "new status value(s)"),
    ("status code", "status code change(s)"),
    ("contract", "other contract finding(s)"),
)


def report_lines(diffs: Sequence[ShapeDiff], folder: Path) -> list[str]:
    """The lines to print, per exchange and then in total; none when nothing was compared and nothing drifted."""
    if not any(d.compared or d.drift for d in diffs):
        return []
    lines = [f"shape diff against the fixtures in {folder}/:"]
    for diff in diffs:
        lines.extend(terminal_line(line) for line in _diff_lines(diff))  # paths and values come from the server
    totals: Counter[str] = sum((d.counts for d in diffs), Counter())
    parts = [f"{totals[key]} {words}" for key, words in _TOTAL_WORDS if totals[key]] or ["no shape drift"]
    values = sum(len(d.value_changes) for d in diffs)
    compared = sum(d.compared for d in diffs)
    changed = sum(d.drift for d in diffs if d.compared)
    new = sum(d.drift for d in diffs if not d.compared)  # no earlier file: only a status never seen before
    counts = [f"{changed} of {compared} compared exchange(s) changed shape"] if compared else []
    counts += [f"{new} new exchange(s) with drift"] if new else []
    lines.append(f"  total: {' and '.join(counts)}: {', '.join(parts)}; {values} value change(s) (not drift)")
    return lines


def _diff_lines(diff: ShapeDiff) -> Iterator[str]:
    if diff.compared:
        yield f"  {diff.name}: {'shape changed' if diff.drift else 'same shape'}"
    else:
        yield f"  {diff.name}: new, no earlier recording to compare with"
    for line in diff.changes:
        yield f"    {line}"
    if diff.value_changes:
        yield f"    = value changes (not drift): {', '.join(diff.value_changes)}"
