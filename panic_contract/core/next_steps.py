"""What to do next: for each verdict and each finding kind, one sentence and what to paste, in one table.

Every report shows the steps of its run (the terminal section, the JSON report's `next_steps` and each
finding's `next_step`, the Markdown summary and so the job summary). A step names the run's own things
(the report's path, the field, what arrived, the spec), filled in from `Where` and the finding; the sinks
in `outputs` mask and escape it where it lands, like any text from a server. A paste is one line: a
command, a flag to add to the command that was run, or a line of the spec.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

from panic_contract.core.contract import SPEC_PATH
from panic_contract.core.findings import Kind
from panic_contract.core.ledger import LedgerEntry
from panic_contract.core.verdict import Verdict


@dataclass(frozen=True)
class Step:
    """One next step: what to do and why, and what to paste for it (each one line)."""

    text: str
    paste: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.text, "commands": list(self.paste)}


# --- the table ------------------------------------------------------------------------------------------
# Placeholders: {report} the JSON report's path (shell-quoted), {help} the command's help, {spec} the spec's
# path; a finding's paste holding {value} is one line per value that arrived.

# What a run's verdict asks of a person: the suite's words (and record's).
VERDICT_STEPS: Final[Mapping[Verdict, Step]] = {
    Verdict.OK: Step("nothing to do: no finding fails the run"),
    Verdict.DRIFT: Step(
        "report each finding to the provider with its reproducer, and fix what counts on it; to let runs pass "
        "meanwhile, accept the findings until a date: paste the entries this prints into the accepted-drift "
        "file (--accepted-drift) and replace each TODO with why",
        ("panic-contract accept {report} --days 14",),
    ),
    Verdict.FAILED: Step(
        "tests failed without a contract finding: fix what the failures above say, then run only those again by adding",
        ("--lf",),
    ),
    Verdict.USAGE: Step(
        "fix the option or variable the reason names (nothing was sent), then run again; every option is in",
        ("{help}",),
    ),
    Verdict.OUTAGE: Step(
        "the target could not be reached or kept failing, so nothing was judged (neither your code nor drift): "
        "run again later, and check the provider's status page if it lasts; a target that is only slow is given "
        "longer for each response with",
        ("--request-timeout 30",),
    ),
    Verdict.AUTH: Step(
        "the target rejected our token: refresh PANIC_API_TOKEN (or PANIC_API_CLIENT_ID and "
        "PANIC_API_CLIENT_SECRET, when the run exchanges them for a token) where the run reads it, such as the "
        "CI secret, then run again"
    ),
    Verdict.INCONCLUSIVE: Step(
        "nothing conclusive was held to the contract, so the run cannot pass: do what the reason says; most "
        "often the ids given do not exist on the target: pass ids of callouts that do",
        ("--callout-ids ID,ID",),
    ),
    Verdict.INTERRUPTED: Step(
        "the run stopped before it finished, and the reports hold only what was judged so far: run it again for "
        "a verdict"
    ),
}

# Where the audit's verdict asks something else: a capture is another client's traffic, sent at another time.
AUDIT_VERDICT_STEPS: Final[Mapping[Verdict, Step]] = {
    Verdict.OUTAGE: Step(
        "the capture shows the target answering 502/503/504: it was down while the capture was made, which is "
        "neither your code nor drift; audit a capture from when it was up"
    ),
    Verdict.AUTH: Step(
        "the capture shows a 401 to a request that carried a token: that client's token was expired or revoked "
        "when the capture was made; refresh it there (this is not drift)"
    ),
    Verdict.INCONCLUSIVE: Step(
        "the capture held nothing to judge: export it with its bodies (a HAR with content), or judge the "
        "exchanges with another host of this API by naming it with",
        ("--server URL",),
    ),
    Verdict.INTERRUPTED: Step(
        "the audit stopped before it finished, and the reports hold only what was read: run it again for a verdict"
    ),
}

# What each kind of finding asks of a person (README.md, "What is checked", has the kinds). The finding's own
# line says which field and what arrived; its step says what to do about a finding of its kind.
KIND_STEPS: Final[Mapping[Kind, Step]] = {
    Kind.MISSING_FIELD: Step(
        "missing from the body: report it to the provider with the reproducer; until it is back, nothing that "
        "reads it can count on it"
    ),
    Kind.TYPE_CHANGED: Step(
        "the value's type changed: report it to the provider with the reproducer, and check the code that parses it"
    ),
    Kind.NULL_IN_NON_NULLABLE: Step(
        "null where the contract allows none: report it to the provider with the reproducer, and make the code "
        "that reads it cope with null meanwhile"
    ),
    Kind.FORMAT_VIOLATED: Step(
        "the value is not in the documented format: report it to the provider with the reproducer; whatever "
        "parses that format fails on it"
    ),
    Kind.UNKNOWN_STATUS: Step(
        "a status value the spec does not list: if the provider documents it, add it under x-known-values on "
        "Callout.status in {spec} (README.md, 'Accepting a new status value'); else report it to the provider",
        ("- {value}",),
    ),
    Kind.NEW_FIELD: Step(
        "a field the spec does not document, which fails a run only under --strict-drift: once the provider "
        "documents it, add it to the properties of Callout in {spec}, so a later change to it is caught"
    ),
    Kind.UNDOCUMENTED_STATUS_CODE: Step(
        "a status code the spec does not document: report it to the provider with the reproducer"
    ),
    Kind.SERVER_ERROR: Step(
        "a server error for a well-formed request: report it to the provider with the reproducer (a 502, 503 or "
        "504 is an outage, not this)"
    ),
    Kind.WRONG_CONTENT_TYPE: Step(
        "not the documented media type: report it to the provider with the reproducer; a client that reads "
        "JSON fails on it"
    ),
    Kind.MALFORMED_BODY: Step(
        "a body that is not the JSON object the contract describes: report it to the provider with the "
        "reproducer (a body larger than --max-body-size: raise that setting if such bodies are expected)"
    ),
    Kind.AUTH_NOT_ENFORCED: Step(
        "the target serves callouts without a valid token, so anyone can read them: report it to the provider "
        "as a security issue now, with the reproducer, and do not accept it"
    ),
    Kind.ID_MISMATCH: Step(
        "asked for one callout, the target answered with another: report it to the provider with the "
        "reproducer; a client would show the wrong callout"
    ),
    Kind.SCHEMATHESIS_CHECK: Step(
        "a schemathesis check failed (the field names it): report it to the provider with the reproducer"
    ),
}

# A finding an accepted-drift entry covered until it expired: its kind's step, and this.
EXPIRED = "; its accepted-drift entry has expired: renew it (a new reason and date) or fix the drift"
# A step pasting the JSON report, in a run that wrote none.
NO_REPORT = " (this run wrote no JSON report: run it again with --drift-report=drift.json first)"
DEFAULT_REPORT = "drift.json"


@dataclass(frozen=True)
class Where:
    """What the steps of one run name."""

    report: str | None = None  # the JSON report's path, as given; None: none was written
    audit: bool = False  # `panic-contract audit`: a capture of another client's traffic
    spec: Path = SPEC_PATH
    mock: str | None = None  # the embedded mock's URL the reproducers name; None: not the mock
    mock_drift: tuple[str, ...] = ()  # its drift switches in this run


def for_verdict(verdict: Verdict, where: Where) -> Step:
    """The step the run's verdict asks for."""
    step = (AUDIT_VERDICT_STEPS if where.audit else {}).get(verdict) or VERDICT_STEPS[verdict]
    return _filled(step, where)


def for_entry(entry: LedgerEntry, where: Where) -> Step:
    """The step one finding asks for: its kind's, with the values that arrived where it pastes them."""
    step = _filled(KIND_STEPS[entry.first.kind], where, _status_values(entry.actuals or [entry.first.actual]))
    if entry.acceptance == "expired":
        step = Step(step.text + EXPIRED, step.paste)
    return step


def serving_mock(where: Where) -> Step | None:
    """On the embedded mock: how to serve it where the reproducers send, with the run's drift."""
    if where.mock is None:
        return None
    port = urlsplit(where.mock).port or 80
    drift = "".join(f" --drift {shlex.quote(name)}" for name in where.mock_drift)
    return Step(
        f"the reproducers send to {where.mock}, where this serves the embedded mock as the run had it; set "
        "PANIC_API_TOKEN to the token it prints",
        (f"panic-contract mock --port {port}{drift}",),
    )


def steps(entries: Iterable[LedgerEntry], verdict: Verdict, where: Where) -> list[tuple[str, Step]]:
    """Every step of a run, each once, by what it is for: serving the mock (when there is something to
    reproduce), the findings' (one for the fields of a kind that ask the same), then the verdict's."""
    fields: dict[tuple[str, Step], list[str]] = {}
    for entry in entries:
        named = fields.setdefault((str(entry.first.kind), for_entry(entry, where)), [])
        if entry.first.field and entry.first.field not in named:
            named.append(entry.first.field)
    found = [(" ".join([kind, ", ".join(names)]).strip(), step) for (kind, step), names in fields.items()]
    mock = serving_mock(where) if found else None
    return [*([("reproduce", mock)] if mock else []), *found, (str(verdict), for_verdict(verdict, where))]


def _filled(step: Step, where: Where, each: Iterable[str] = ()) -> Step:
    shared = {
        "report": shlex.quote(where.report or DEFAULT_REPORT),
        "help": "panic-contract audit --help" if where.audit else "pytest --help",
        "spec": _shown(where.spec),
    }
    text = step.text.format_map(shared)
    paste: list[str] = []
    for line in step.paste:
        if "{value}" in line:
            paste += [line.format_map({**shared, "value": value}) for value in each]
        else:
            paste.append(line.format_map(shared))
    if where.report is None and any("{report}" in line for line in step.paste):
        text += NO_REPORT
    return Step(text, tuple(paste))


# A YAML plain scalar that reads back as the same text: letters, digits, spaces, `.`, `_`, `-`; and not one
# of the words YAML 1.1 reads as a boolean or null.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 ._-]*(?<! )")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _status_values(actuals: Iterable[str]) -> list[str]:
    """The status texts that arrived (`string "Escalated"`), as lines of the spec's YAML list hold them.

    A value a finding cut short (`..."`) is not whole, and is left out: the report has what arrived."""
    values = []
    for actual in actuals:
        if not actual.startswith("string "):
            continue
        try:
            value = json.loads(actual.removeprefix("string "))
        except json.JSONDecodeError:
            continue
        if isinstance(value, str):
            plain = _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS
            values.append(value if plain else _double_quoted(value))
    return values


def _double_quoted(value: str) -> str:
    """`value` as a YAML double-quoted scalar on one printable line: written by YAML's own emitter (a NEL, which
    YAML reads as a line break, as `\\N`), and what it leaves that a terminal would not print (a no-break
    space) as YAML's escape of it."""
    item = yaml.safe_dump([value], default_style='"', allow_unicode=True, width=_ONE_LINE)
    return "".join(map(_printable, item.removeprefix("- ").rstrip("\n")))


def _printable(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}"


_ONE_LINE = 1 << 30  # the emitter's line width: it never folds


def _shown(path: Path) -> str:
    """A path as a person in the current folder types it: relative when it is inside, else whole."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
