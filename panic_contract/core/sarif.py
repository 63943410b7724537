"""The findings of a run as SARIF 2.1.0, each located at its line of the spec, for GitHub code scanning.

One result per ledger entry (a finding, deduplicated and counted), its rule the finding's kind. A field's
finding sits at that field's schema in the spec (`components/schemas/Callout/properties/<field>`, reached by
the `$ref` the 200 response uses); a status-code finding at the status code's entry under the operation's
`responses` (the whole `responses` map for a code the spec does not document); anything else at the
operation. Lines come from the spec's YAML nodes (PyYAML's `compose` keeps each node's mark), so they are the
lines a person sees. Accepted drift is reported too, as suppressed results. `write_reports` masks the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from panic_contract.core.findings import Kind
from panic_contract.core.ledger import Ledger, LedgerEntry
from panic_contract.core.next_steps import KIND_STEPS
from panic_contract.core.verdict import Decision, Verdict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL = "panic-contract"
FINGERPRINT = "panicContractFinding/v1"  # kind and field: the same drift is the same alert on every run
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
# Findings about the status code: located at the code's entry (auth-not-enforced: at the 401 it should have been).
_STATUS_KINDS = {Kind.UNDOCUMENTED_STATUS_CODE, Kind.SERVER_ERROR, Kind.AUTH_NOT_ENFORCED}
# Findings about the response as a whole (its media type, its body): the status is not part of the finding, so
# they sit at the operation's responses.
_RESPONSE_KINDS = {Kind.WRONG_CONTENT_TYPE, Kind.MALFORMED_BODY}


@dataclass(frozen=True)
class Place:
    """A line and column of the spec (1-based), and what is there, as a person names it."""

    line: int
    column: int
    name: str


class SpecLines:
    """Where things are in the spec file: found by walking its YAML nodes, which keep their line marks."""

    def __init__(self, text: str) -> None:
        try:
            self.root: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            self.root = None  # the contract loaded it, so this is a spec changed under the run: line 1 then
        self.operation = self._operation()

    @classmethod
    def of(cls, path: Path) -> SpecLines:
        try:
            return cls(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return cls("")

    def _operation(self) -> tuple[yaml.Node | None, Place]:
        paths = _child(self.root, "paths")
        for key, item in _items(paths[1] if paths else None):
            for method, operation in _items(item):
                if method.value in HTTP_METHODS:
                    return operation, _place(method, f"paths/{key.value}/{method.value}")
        return None, Place(1, 1, "the spec")

    def for_entry(self, entry: LedgerEntry) -> Place:
        """The place of a finding's subject: the field's schema, the status code's entry, or the operation."""
        operation, at_operation = self.operation
        finding = entry.first
        responses = _child(operation, "responses")
        if responses is None:
            return at_operation
        at_responses = _place(responses[0], f"{at_operation.name}/responses")
        if finding.kind in _STATUS_KINDS:
            code = "401" if finding.kind is Kind.AUTH_NOT_ENFORCED else finding.actual.split(" ", 1)[0]
            found = _child(responses[1], code)
            return _place(found[0], f"{at_responses.name}/{code}") if found else at_responses
        if finding.kind in _RESPONSE_KINDS:
            return at_responses
        if not finding.field or not finding.field.startswith("$"):  # a schemathesis check names itself there
            return at_operation
        return self._field(responses[1], finding.field, at_responses.name) or at_responses

    def _field(self, responses: yaml.Node, field: str, under: str) -> Place | None:
        """The schema of `field` (`$.a`, `$.a.b`, `$.a[0]`) in the 200 response's body: as deep as the spec goes."""
        steps = ["200", "content", "application/json", "schema"]
        media = _path(responses, steps)
        if media is None:
            return None
        place = _place(media[0], f"{under}/{'/'.join(steps)}")
        schema, name = self._resolved(media[1], place.name)
        for match in _PATH_PART.finditer(field.removeprefix("$")):
            step = ["properties", match[1]] if match[1] is not None else ["items"]
            found = _path(schema, step)
            if found is None:  # an undocumented field: where the documented ones are
                properties = _child(schema, "properties")
                return _place(properties[0], f"{name}/properties") if properties else place
            name = f"{name}/{'/'.join(step)}"
            place = _place(found[0], name)
            schema, name = self._resolved(found[1], name)
        return place

    def _resolved(self, node: yaml.Node, name: str) -> tuple[yaml.Node, str]:
        """`node`, or what its local `$ref` points at (followed a few times at most: a ref loop ends)."""
        for _ in range(8):
            ref = _child(node, "$ref")
            if ref is None or not isinstance(ref[1], yaml.ScalarNode) or not ref[1].value.startswith("#/"):
                return node, name
            parts = [part.replace("~1", "/").replace("~0", "~") for part in ref[1].value[2:].split("/")]
            target = _path(self.root, parts)
            if target is None:
                return node, name
            node, name = target[1], "/".join(parts)
        return node, name


def _items(node: yaml.Node | None) -> Iterator[tuple[yaml.ScalarNode, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield key, value


def _child(node: yaml.Node | None, name: str) -> tuple[yaml.ScalarNode, yaml.Node] | None:
    return next(((key, value) for key, value in _items(node) if key.value == name), None)


def _path(node: yaml.Node | None, parts: Sequence[str]) -> tuple[yaml.ScalarNode, yaml.Node] | None:
    found = None
    for part in parts:
        found = _child(node, part)
        if found is None:
            return None
        node = found[1]
    return found


def _place(node: yaml.Node, name: str) -> Place:
    return Place(node.start_mark.line + 1, node.start_mark.column + 1, name)


def artifact_uri(spec_path: Path) -> str:
    """The spec as the SARIF names it: relative to the folder the run started in (a repository's root, where
    code scanning looks for it), else an absolute file URI."""
    path = spec_path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_uri()


def _version() -> str:
    from importlib import metadata  # here, not at the top: it costs every command tens of ms to start

    try:
        return metadata.version(TOOL)
    except metadata.PackageNotFoundError:
        return "0"


def _rule(kind: Kind, uri: str) -> dict[str, Any]:
    help_text = KIND_STEPS[kind].text.replace("{spec}", uri)
    short = help_text.split(":", 1)[0]
    rule: dict[str, Any] = {
        "id": str(kind),
        "name": "".join(part.capitalize() for part in str(kind).split("-")),
        "shortDescription": {"text": short[:1].upper() + short[1:] + "."},
        "help": {"text": help_text[:1].upper() + help_text[1:] + "."},
        "defaultConfiguration": {"level": "warning" if kind is Kind.NEW_FIELD else "error"},
        "properties": {"tags": ["api-drift"]},
    }
    if kind is Kind.AUTH_NOT_ENFORCED:  # GitHub ranks security alerts by this
        rule["properties"] = {"tags": ["api-drift", "security"], "security-severity": "9.1"}
    return rule


def _fingerprint(entry: LedgerEntry) -> str:
    key = f"{entry.first.kind}\n{entry.first.field or ''}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def as_sarif(ledger: Ledger, decision: Decision, spec_path: Path) -> dict[str, Any]:
    """The SARIF log of a run: one run of the tool, one result per finding (accepted ones suppressed)."""
    lines = SpecLines.of(spec_path)
    uri = artifact_uri(spec_path)
    entries = [*ledger.sorted_entries(), *ledger.accepted_entries()]
    kinds = list(dict.fromkeys(entry.first.kind for entry in entries))
    results = []
    for entry in entries:
        finding, place = entry.first, lines.for_entry(entry)
        result: dict[str, Any] = {
            "ruleId": str(finding.kind),
            "ruleIndex": kinds.index(finding.kind),
            "level": "error" if finding.severity == "breaking" else "warning",
            "message": {"text": f"{finding.message()} (x{entry.count}); seen at {', '.join(entry.samples)}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": place.line, "startColumn": place.column},
                    },
                    "logicalLocations": [{"fullyQualifiedName": place.name, "kind": "member"}],
                }
            ],
            "partialFingerprints": {FINGERPRINT: _fingerprint(entry)},
            "properties": {"field": finding.field, "count": entry.count, "severity": finding.severity},
        }
        if not entry.fails:
            result["suppressions"] = [{"kind": "external", "justification": entry.accepted_by or "accepted drift"}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL,
                        "version": _version(),
                        "rules": [_rule(kind, uri) for kind in kinds],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": decision.verdict in {Verdict.OK, Verdict.DRIFT},
                        "exitCode": decision.exit_code,
                        "exitCodeDescription": str(decision.verdict),
                        "properties": {"reason": decision.reason},
                    }
                ],
                "artifacts": [{"location": {"uri": uri}}],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(ledger: Ledger, decision: Decision, spec_path: Path) -> str:
    """The SARIF log as the file holds it."""
    return json.dumps(as_sarif(ledger, decision, spec_path), indent=2, ensure_ascii=False) + "\n"
