"""`panic-contract propose REPORT.json`: the edit to the spec that would make a drift report's findings conform.

It prints a unified diff for a person to review and commit; only `--write` applies it. Three edits are
proposed: a new status value added under `x-known-values` (`unknown-status`), a field made nullable
(`null-in-non-nullable`), a new optional field documented (`new-field`). The spec is edited as a round trip
(ruamel.yaml), so its comments and layout stay as they were. Drift that must never be written into the
contract (auth not enforced, server errors, id mismatch, malformed bodies, the wrong content type) is refused,
naming why and pointing at accepted drift instead; other kinds have no edit the report alone could justify.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import re
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from panic_contract import settings
from panic_contract.commands.accept import read_report
from panic_contract.commands.cli import option_error
from panic_contract.core.accepted import today_utc
from panic_contract.core.contract import JSON_MEDIA_TYPE, KNOWN_VALUES_KEY, SPEC_PATH, path_steps
from panic_contract.core.findings import Kind, type_described
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, command_stopped
from panic_contract.errors import AcceptedDriftError, OptionError, SpecError, UsageError
from panic_contract.outputs import terminal_line, write_atomically

PROG = "panic-contract propose"
PROPOSE_SETTINGS = ("spec",)

# Drift that no edit of the contract may make conform, and why: each is a fault to report, never a shape to allow.
REFUSED: Mapping[Kind, str] = {
    Kind.AUTH_NOT_ENFORCED: "the target serves callouts without a valid token: a security issue, never a contract",
    Kind.SERVER_ERROR: "a 5xx is the server failing, not a shape of the API",
    Kind.ID_MISMATCH: "asked for one callout, the target answered with another: a bug, not a shape of the API",
    Kind.MALFORMED_BODY: "a body that is not the JSON object the contract describes is no shape a spec can hold",
    Kind.WRONG_CONTENT_TYPE: "the API documents JSON; a body of another media type is not one a client can read",
}
# Kinds with no edit the report alone can justify: what the provider documents decides them.
NO_EDIT: Mapping[Kind, str] = {
    Kind.MISSING_FIELD: "a documented field missing: whether it is gone for good is the provider's to say",
    Kind.TYPE_CHANGED: "the value's type changed: the provider's documentation says which type is meant",
    Kind.FORMAT_VIOLATED: "the value is not in its documented format: the provider's documentation says which is meant",
    Kind.UNDOCUMENTED_STATUS_CODE: "a status code the spec does not document: its body is the provider's to document",
    Kind.SCHEMATHESIS_CHECK: "a schemathesis check failed: no edit of the spec is known to fix it",
}

# A YAML plain scalar that PyYAML (YAML 1.1, which the contract loads with) reads back as the same text.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._-]*(?<! )")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


@dataclass
class Proposal:
    """What a report asks of the spec: the edits made, and the findings no edit can answer (one line each)."""

    statuses: list[str] = field(default_factory=list)
    nullable: list[str] = field(default_factory=list)
    new_fields: dict[str, set[str]] = field(default_factory=dict)  # field name -> the JSON types it arrived as
    refused: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", type=Path, metavar="REPORT", help="a JSON drift report (--drift-report)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="apply the edit to the spec (default: print it as a unified diff, and change nothing)",
    )
    settings.add_arguments(parser, PROPOSE_SETTINGS)


def run(args: argparse.Namespace) -> int:
    try:
        values = settings.from_namespace(args, PROPOSE_SETTINGS, os.environ)
    except OptionError as exc:
        return option_error(PROG, str(exc))
    spec = Path(values["spec"]) if values["spec"] else SPEC_PATH
    try:
        findings = read_report(args.report)
        if args.write and _installed(spec):
            raise SpecError(
                f"{spec} is the installed package's copy of the spec, which --write must not change: pass the spec "
                f"of your checkout with {settings.SETTINGS['spec'].origin()}, e.g. --spec=spec/panic-api.openapi.yaml"
            )
        proposal = propose(findings, shown_report=str(args.report))
        before = _read(spec)
        after = edited(before, proposal, spec, today_utc())
    except (AcceptedDriftError, UsageError) as exc:
        return command_stopped(PROG, Decision(Verdict.USAGE, str(exc)))
    for line in [*proposal.refused, *proposal.unanswered]:
        print(f"{PROG}: {terminal_line(line)}", file=sys.stderr)
    if after == before:
        print(terminal_line(f"{PROG}: no edit of {spec.name} to propose for {args.report}"), file=sys.stderr)
    elif args.write:
        try:
            write_atomically(spec, after)
        except OSError as exc:
            reason = f"cannot write {spec}: {exc.strerror or type(exc).__name__} (pick a writable spec with --spec)"
            return command_stopped(PROG, Decision(Verdict.USAGE, reason))
        print(terminal_line(f"{PROG}: wrote {spec}: review it with git diff, then commit it"))
    else:
        sys.stdout.write(unified_diff(before, after, spec))
    return EXIT_CODES[Verdict.DRIFT] if proposal.refused or proposal.unanswered else 0


def propose(findings: Sequence[Mapping[str, Any]], *, shown_report: str) -> Proposal:
    """What each finding of a report asks of the spec, in the report's order; each value and field once."""
    proposal = Proposal()
    accept = f"panic-contract accept {shown_report} --days 14"
    for finding in findings:
        kind = _kind(finding)
        name = " ".join(str(part) for part in (finding.get("kind"), finding.get("field")) if part)
        top = _top_field(finding.get("field"))
        if kind is Kind.UNKNOWN_STATUS:
            for value in _status_texts(finding):
                if value.casefold() not in {known.casefold() for known in proposal.statuses}:
                    proposal.statuses.append(value)
        elif kind is Kind.NULL_IN_NON_NULLABLE and top is not None:
            proposal.nullable += [] if top in proposal.nullable else [top]
        elif kind is Kind.NEW_FIELD and top is not None:
            proposal.new_fields.setdefault(top, set()).update(_new_field_types(finding))
        elif kind is not None and kind in REFUSED:
            proposal.refused.append(
                f"refused: {name}: {REFUSED[kind]}; report it to the provider with its reproducer, and to let runs "
                f"pass meanwhile accept it with a reason and an expiry (accepted drift): {accept}"
            )
        else:
            why = NO_EDIT.get(kind, "a finding this command does not know") if kind else "not a finding kind"
            proposal.unanswered.append(f"no edit proposed for {name}: {why}; report it to the provider")
    return proposal


def _kind(finding: Mapping[str, Any]) -> Kind | None:
    try:
        return Kind(str(finding.get("kind")))
    except ValueError:
        return None


def _top_field(path: Any) -> str | None:
    steps = path_steps(path) if isinstance(path, str) else None
    return steps[0] if steps is not None and len(steps) == 1 and isinstance(steps[0], str) else None


def _status_texts(finding: Mapping[str, Any]) -> list[str]:
    """The status texts that arrived, whole (a value a finding cut short, `..."`, is not: it is left out)."""
    texts = []
    for actual in finding.get("actual_values") or [finding.get("actual", "")]:
        if isinstance(actual, str) and actual.startswith("string "):
            try:
                value = json.loads(actual.removeprefix("string "))
            except json.JSONDecodeError:
                continue
            if isinstance(value, str) and value.strip():
                texts.append(value)
    return texts


def _new_field_types(finding: Mapping[str, Any]) -> set[str]:
    """The JSON types a new field arrived as (`an undocumented field (integer 420)`)."""
    found = set()
    for actual in finding.get("actual_values") or [finding.get("actual", "")]:
        if isinstance(actual, str):
            json_type = type_described(actual.partition("(")[2].removesuffix(")"))
            if json_type is not None:
                found.add(json_type)
    return found


def _read(spec: Path) -> str:
    try:
        return spec.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the spec {spec}: {exc.strerror}") from None


def _round_trip() -> YAML:
    """A YAML that writes the spec back as it was read, in the spec's own layout."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096  # never fold a line the spec has on one
    return rt


def edited(text: str, proposal: Proposal, spec: Path, today: date) -> str:
    """The spec's text with the proposal's edits made; the text as it was when there are none."""
    if not (proposal.statuses or proposal.nullable or proposal.new_fields):
        return text
    rt = _round_trip()
    try:
        document = rt.load(text)
        callout = _callout_schema(document)
    except (YAMLError, KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{spec}: not the spec of one callout operation this command can edit ({exc})") from None
    note = f"proposed {today.isoformat()} by {PROG}"
    properties = callout["properties"]
    known = properties["status"][KNOWN_VALUES_KEY]
    for value in proposal.statuses:
        if value.casefold() not in {str(item).casefold() for item in known}:
            known.append(_scalar(value))
            known.yaml_add_eol_comment(note, len(known) - 1)
    for name in proposal.nullable:
        prop = properties.get(name)
        if prop is None:
            continue
        types = prop.get("type")
        if isinstance(types, str) and types != "null":
            nullable = CommentedSeq([types, DoubleQuotedScalarString("null")])
            nullable.fa.set_flow_style()
            prop["type"] = nullable
            prop.yaml_add_eol_comment(note, "type")
        elif isinstance(types, list) and "null" not in types:
            types.append(DoubleQuotedScalarString("null"))
            prop.yaml_add_eol_comment(note, "type")
    for name, types in proposal.new_fields.items():
        if name in properties:
            continue
        schema = CommentedMap()
        if len(types) == 1:
            schema["type"] = next(iter(types))
        elif types:
            listed = CommentedSeq(sorted(types))
            listed.fa.set_flow_style()
            schema["type"] = listed
        properties[name] = schema  # not required: documented as optional
        properties.yaml_add_eol_comment(f"{note}: not required", name)
    out = io.StringIO()
    rt.dump(document, out)
    result = out.getvalue()
    _reads_back(result, proposal, spec)
    return result


def _scalar(value: str) -> str:
    """A status text as the spec lists it: plain where YAML 1.1 reads it back unchanged, else double-quoted."""
    return value if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS else DoubleQuotedScalarString(value)


def _callout_schema(document: Any) -> Any:
    """The 200 response's schema of the one operation, its `$ref` followed within the document."""
    ((_, item),) = document["paths"].items()
    ((_, operation),) = [(method, op) for method, op in item.items() if method != "parameters"]
    schema = operation["responses"]["200"]["content"][JSON_MEDIA_TYPE]["schema"]
    while "$ref" in schema:
        node = document
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _reads_back(text: str, proposal: Proposal, spec: Path) -> None:
    """The edited spec, as the contract loads it (PyYAML), holds every status value proposed, unchanged."""
    try:
        loaded = yaml.safe_load(text)
        known = _callout_schema(loaded)["properties"]["status"][KNOWN_VALUES_KEY]
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{spec}: the edit would not read back as a spec ({exc}); nothing was changed") from None
    lost = [value for value in proposal.statuses if value.casefold() not in {str(k).casefold() for k in known}]
    if lost:
        raise SpecError(f"{spec}: the status value {lost[0]!r} would not read back as written; add it by hand")


def unified_diff(before: str, after: str, spec: Path) -> str:
    shown = _shown(spec)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{shown}", f"b/{shown}"
    )
    return "".join(lines)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _installed(spec: Path) -> bool:
    """Whether `spec` is inside an installed package (site-packages): a copy that --write must leave alone."""
    resolved = spec.resolve()
    roots = [Path(path).resolve() for key in ("purelib", "platlib") if (path := sysconfig.get_paths().get(key))]
    return any(resolved.is_relative_to(root) for root in roots) or bool(
        {"site-packages", "dist-packages"} & set(resolved.parts)
    )
