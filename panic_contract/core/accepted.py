"""Accepted drift: findings a team has reported to the provider, acknowledged until a date, read from its file.

`--accepted-drift FILE` names a YAML list of entries, keyed by what a person reads, not by a hash:

    - kind: unknown-status
      field: $.status
      value: Escalated              # optional: only this value is accepted
      reason: reported to the provider as ticket 4411
      expires: 2026-12-31

A finding that matches an unexpired entry is reported as accepted and does not fail the run; one
that matches an expired entry fails it, naming the entry and its reason; an entry that matched
nothing in a run that validated bodies is reported as stale (the provider fixed it: delete it);
every report names the entries that expire within `EXPIRING_DAYS` days (`Acceptance.expiring_soon`).

An entry cannot be written so that it silently accepts nothing or everything: a reason still `TODO`
(what `panic-contract accept` writes), a `field` that is not the kind's (a JSON path from `$`, a
check's name, or none), and with a cap (`--accept-max-days`) an expiry further ahead than it allows
are each a usage error naming the file and the line to edit.

The ledger (`ledger.Ledger`) asks `Acceptance.classify` once per finding, when it folds it in;
nothing else classifies. `panic-contract accept REPORT.json` (`commands/accept.py`) prints entries
for a drift report's findings, ready to paste.

The file is read with bounds, since it comes from a pull request like any other file: at most
`MAX_BYTES`, streamed as YAML events (never composed into a document first), no anchors or aliases
(an alias bomb of a few hundred bytes expands to gigabytes), no duplicate keys (a second `expires:`
would push a date back unnoticed), only scalars as values. Anything else is one AcceptedDriftError
line naming the file and the line.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from panic_contract.core.findings import Finding, Kind, describe_value
from panic_contract.errors import AcceptedDriftError

_KEYS = ("kind", "field", "value", "reason", "expires")
MAX_BYTES = 256 << 10  # a thousand entries or more; PyYAML's pure-Python parser reads it in a few seconds
_SHOWN = 60  # characters of a value from the file quoted in an error line
EXPIRING_DAYS = 7  # every report names the entries that expire within this many days
# the setting that caps how far ahead an entry may expire (settings.SETTINGS["accept_max_days"].origin())
CAP_ORIGIN = "--accept-max-days (or PANIC_API_ACCEPT_MAX_DAYS)"

Status = Literal["accepted", "expired"]


# --- what `value:` means, per kind ---------------------------------------------------------------
# A finding carries what arrived as text (`Finding.actual`, written by findings.inspect); an entry's
# value is compared with the part of it that is the value. Kinds not listed here have no value to
# compare (`missing-field` is always missing, `null-in-non-nullable` always null, ...): `value:` on
# them is refused rather than silently never matching. tests/self/test_accepted_values.py holds each
# kind to what findings.inspect really writes.


@dataclass(frozen=True)
class _ValueRule:
    means: str  # for the error line and the README
    allowed: Callable[[Any], bool]
    wanted: Callable[[Any], str]  # the entry's value as the finding would show it
    matches: Callable[[str, str], bool]  # (finding.actual, wanted)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int) or (isinstance(value, float) and math.isfinite(value))


def _is_int(value: Any) -> bool:
    return type(value) is int


_UNDOCUMENTED = "an undocumented field ("
_VALUE_RULES: dict[str, _ValueRule] = {
    # known statuses compare case-insensitively, so an accepted one does too
    str(Kind.UNKNOWN_STATUS): _ValueRule(
        "the status text, e.g. value: Escalated",
        lambda v: isinstance(v, str),
        describe_value,
        lambda actual, wanted: actual.casefold() == wanted.casefold(),
    ),
    str(Kind.NEW_FIELD): _ValueRule(
        "the field's value as JSON (420 is not '420'); leave value out to accept the field whatever it holds",
        _is_scalar,
        describe_value,
        lambda actual, wanted: actual == f"{_UNDOCUMENTED}{wanted})",
    ),
    str(Kind.TYPE_CHANGED): _ValueRule(
        "the value that arrived, as JSON, e.g. value: '992011'",
        _is_scalar,
        describe_value,
        lambda actual, wanted: actual == wanted or actual.startswith(f"{wanted} ("),
    ),
    str(Kind.FORMAT_VIOLATED): _ValueRule(
        "the text that arrived, e.g. value: 20/04/2024 14:45",
        lambda v: isinstance(v, str),
        describe_value,
        lambda actual, wanted: actual == wanted,
    ),
    str(Kind.ID_MISMATCH): _ValueRule(
        "the id that came back, e.g. value: 992011",
        _is_int,
        describe_value,
        lambda actual, wanted: actual == wanted,
    ),
    str(Kind.UNDOCUMENTED_STATUS_CODE): _ValueRule(
        "the status code, e.g. value: 418",
        lambda v: _is_int(v) and 100 <= v <= 599,
        str,
        lambda actual, wanted: actual == wanted or actual.startswith(f"{wanted} "),
    ),
    str(Kind.SERVER_ERROR): _ValueRule(
        "the status code, e.g. value: 500",
        lambda v: _is_int(v) and 500 <= v <= 599,
        str,
        lambda actual, wanted: actual == wanted,
    ),
    str(Kind.WRONG_CONTENT_TYPE): _ValueRule(
        "the media type, e.g. value: text/html",
        lambda v: isinstance(v, str) and bool(v.strip()),
        lambda v: str(v).strip(),
        lambda actual, wanted: actual.casefold() == wanted.casefold(),
    ),
}
VALUE_KINDS = frozenset(_VALUE_RULES)


# --- what `field:` is, per kind ------------------------------------------------------------------
# A finding's field is what findings.inspect writes: a JSON path from the root (`$.status`, `$`,
# `$.responders[0]`), none for the kinds about a whole response, and the check's name for a
# schemathesis check. An entry whose field has another shape could never match: it would be reported
# stale ("delete it") while the drift it meant to accept still fails the run, so it is refused here.
# tests/self/test_accepted_drift_rules.py holds each kind to the field findings.inspect really writes.
FIELDLESS_KINDS = frozenset(
    str(kind)
    for kind in (
        Kind.UNDOCUMENTED_STATUS_CODE,
        Kind.SERVER_ERROR,
        Kind.WRONG_CONTENT_TYPE,
        Kind.MALFORMED_BODY,
        Kind.AUTH_NOT_ENFORCED,
    )
)
CHECK_KIND = str(Kind.SCHEMATHESIS_CHECK)
_JSON_PATH = re.compile(r"\$(?:[.\[].*)?", re.DOTALL)  # `$`, `$.name`, `$[0]`: the root, then anything
_CHECK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # as schemathesis names a check: unsupported_method

# A reason not yet written: `TODO` (what `panic-contract accept` writes), one whose first word is a
# placeholder in any casing (`todo: ask them`, `FIXME`, `(TBD)`, `XXX`), or one with no letter or digit
# at all (`-`, `...`, `?`). One that only mentions a placeholder later (`ticket 4411; TODO remove`) is written.
PLACEHOLDERS = frozenset({"todo", "fixme", "tbd", "xxx"})


def unwritten(reason: str) -> bool:
    """Whether `reason` is still a placeholder rather than why the drift is accepted."""
    words = "".join(char if char.isalnum() else " " for char in reason).split()
    return not words or words[0].casefold() in PLACEHOLDERS


@dataclass(frozen=True)
class Entry:
    kind: str
    field: str | None
    reason: str
    expires: date
    line: int
    value: Any = None
    has_value: bool = False

    def matches(self, finding: Finding) -> bool:
        if str(finding.kind) != self.kind or finding.field != self.field:
            return False
        if not self.has_value:
            return True
        rule = _VALUE_RULES[self.kind]
        return rule.matches(finding.actual, rule.wanted(self.value))

    def expires_in(self, today: date) -> int:
        """Days from `today` to the last day the entry accepts: 0 on that day, negative once it expired."""
        return (self.expires - today).days

    def label(self) -> str:
        value = f" = {describe_value(self.value)}" if self.has_value else ""
        return f"{self.kind} {self.field or '-'}{value}"

    def describe(self) -> str:
        return self._described

    @functools.cached_property
    def _described(self) -> str:  # the ledger asks for it per finding it folds: built once
        return f"{self.label()} (line {self.line}, until {self.expires.isoformat()}: {self.reason})"


@dataclass(frozen=True)
class Acceptance:
    """The entries of one file, judged against one day."""

    entries: tuple[Entry, ...]
    today: date
    _by_subject: dict[tuple[str, str | None], tuple[Entry, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for entry in self.entries:
            key = (entry.kind, entry.field)
            self._by_subject[key] = (*self._by_subject.get(key, ()), entry)

    def classify(self, finding: Finding) -> tuple[Status, Entry] | None:
        """The first entry, in file order, that covers `finding`: accepted while it lasts, expired after.

        Called by the ledger as it folds each finding in (the audit's hot path on a drifting capture):
        a finding whose kind and field no entry names costs one dict lookup.
        """
        for entry in self._by_subject.get((str(finding.kind), finding.field), ()):
            if entry.matches(finding):
                return ("expired" if entry.expires < self.today else "accepted"), entry
        return None

    def stale(self, used_lines: Iterable[int]) -> list[Entry]:
        used = set(used_lines)
        return [entry for entry in self.entries if entry.line not in used]

    def expiring_soon(self, days: int = EXPIRING_DAYS) -> list[Entry]:
        """Entries, used or not, that still accept today but stop within `days` days: each report names them."""
        return [entry for entry in self.entries if 0 <= entry.expires_in(self.today) <= days]

    def entry_at(self, line: int) -> Entry | None:
        """The entry that starts on `line` (a ledger entry's `accepted_line`)."""
        return next((entry for entry in self.entries if entry.line == line), None)


def today_utc() -> date:
    return datetime.now(UTC).date()


# --- reading the file ----------------------------------------------------------------------------


def load(path: Path, today: date | None = None, max_days: int | None = None) -> Acceptance:
    """Read and check the file; AcceptedDriftError (one line naming the file and line) for anything else.

    `max_days` (`--accept-max-days`): an entry may expire at most that many days after `today`.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # a bounded read: the path may be a FIFO or /dev/zero
    except OSError as exc:
        raise AcceptedDriftError(f"{path}: cannot read the accepted-drift file: {exc.strerror or exc}") from None
    return loads(raw, str(path), today, max_days)


def loads(raw: bytes, where: str, today: date | None = None, max_days: int | None = None) -> Acceptance:
    """The entries in `raw`, the bytes of the file named `where`; AcceptedDriftError for anything malformed."""
    if len(raw) > MAX_BYTES:
        raise AcceptedDriftError(
            f"{where}: larger than {MAX_BYTES // 1024} KiB, more than any list of accepted drift needs: "
            "is this the file you meant?"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise AcceptedDriftError(f"{where} line {line}: not UTF-8 text; save the file as UTF-8") from None
    today = today or today_utc()
    cap = _Cap(max_days, today) if max_days is not None else None
    return Acceptance(tuple(_entries(text, where, cap)), today)


@dataclass(frozen=True)
class _Cap:
    """`--accept-max-days`: an entry may expire at most `days` days after `today`."""

    days: int
    today: date

    @property
    def latest(self) -> date:
        return self.today + timedelta(days=self.days)


_PARSER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


def _entries(text: str, where: str, cap: _Cap | None = None) -> Iterator[Entry]:
    events = _events(text, where)
    next(events)  # StreamStartEvent
    event = next(events)
    if isinstance(event, yaml.StreamEndEvent):
        return  # an empty file, or comments only
    event = next(events)  # past DocumentStartEvent
    if isinstance(event, yaml.ScalarEvent) and event.value in {"", "~", "null", "Null", "NULL"} and event.implicit[0]:
        event = None  # an explicit empty document: no entries
    elif not isinstance(event, yaml.SequenceStartEvent):
        raise AcceptedDriftError(f"{_at(where, event)}: expected a list of entries (- kind: ...)")
    else:
        _no_anchor(event, where)
        while not isinstance(event := next(events), yaml.SequenceEndEvent):
            yield _entry(event, events, where, cap)
    next(events)  # DocumentEndEvent
    event = next(events)
    if not isinstance(event, yaml.StreamEndEvent):
        raise AcceptedDriftError(f"{_at(where, event)}: one list of entries, not several YAML documents (---)")


def _events(text: str, where: str) -> Iterator[Any]:
    """The file's YAML events, one at a time; a YAML error as the one line naming where it is."""
    loader = _PARSER(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent):
                raise AcceptedDriftError(
                    f"{_at(where, event)}: YAML aliases (*{_shown(event.anchor)}) are not allowed here; "
                    "write the value out"
                )
            yield event
    except yaml.YAMLError as exc:
        raise AcceptedDriftError(f"{where}{_line_of(exc, text)}: not valid YAML: {_problem(exc)}") from None
    finally:
        loader.dispose()


def _entry(event: Any, events: Iterator[Any], where: str, cap: _Cap | None) -> Entry:
    at = _at(where, event)
    if not isinstance(event, yaml.MappingStartEvent):
        raise AcceptedDriftError(f"{at}: an entry is a mapping with kind, field, reason and expires")
    _no_anchor(event, where)
    data: dict[str, Any] = {}
    lines: dict[str, str] = {}  # where each key's value is: an error about it names the line to edit
    while not isinstance(key := next(events), yaml.MappingEndEvent):
        name = _key(key, where)
        if name in data:
            raise AcceptedDriftError(
                f"{_at(where, key)}: {name} is given twice in this entry; keep one (a second one would silently win)"
            )
        value = next(events)
        lines[name] = _at(where, value)
        data[name] = _scalar(name, value, where)
    entry = _checked(data, at, _line(event), lines)
    if cap is not None and entry.expires > cap.latest:
        raise AcceptedDriftError(
            f"{lines['expires']}: entry {_shown(entry.label())} expires {entry.expires.isoformat()}, "
            f"{entry.expires_in(cap.today)} days from today, beyond the {cap.days}-day cap set by {CAP_ORIGIN}: "
            f"set expires: {cap.latest.isoformat()} or earlier"
        )
    return entry


def _key(event: Any, where: str) -> str:
    allowed = ", ".join(_KEYS)
    if not isinstance(event, yaml.ScalarEvent):
        raise AcceptedDriftError(f"{_at(where, event)}: a key is one of {allowed}")
    _no_anchor(event, where)
    if event.value not in _KEYS:
        raise AcceptedDriftError(f"{_at(where, event)}: unknown key {_shown(event.value)!r}; allowed: {allowed}")
    return str(event.value)


_WHAT = {
    "kind": "text naming a finding kind",
    "field": "a JSON path like $.status",
    "value": "a single value (text, a number, true, false or null)",
    "reason": "text saying why",
    "expires": "a date, e.g. 2026-12-31",
}
_RESOLVER: Any = yaml.SafeLoader("")  # resolves and constructs one scalar at a time: never a whole document


def _scalar(name: str, event: Any, where: str) -> Any:
    """The value of one key: a scalar, built as PyYAML's safe loader builds it."""
    at = _at(where, event)
    if not isinstance(event, yaml.ScalarEvent):
        raise AcceptedDriftError(f"{at}: {name} must be {_WHAT[name]}, not a list or mapping")
    _no_anchor(event, where)
    tag = event.tag if event.tag not in (None, "!") else _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    node = yaml.ScalarNode(tag, event.value, style=event.style)
    try:
        return _RESOLVER.construct_object(node)
    except yaml.YAMLError as exc:
        raise AcceptedDriftError(f"{at}: {name} cannot be read: {_problem(exc)}") from None
    except (ValueError, OverflowError) as exc:  # 2026-02-30, an int of 5000 digits
        text = f"{_shown(event.value)} is not a date" if name == "expires" else f"{_shown(event.value)} cannot be read"
        raise AcceptedDriftError(f"{at}: {name}: {text} ({' '.join(str(exc).split())[:80]})") from None


def _checked(data: Mapping[str, Any], at: str, line: int, lines: Mapping[str, str]) -> Entry:
    kinds = [str(k) for k in Kind]
    kind = data.get("kind")
    if not isinstance(kind, str):
        problem = "is required" if kind is None else f"must be text, not {_shown(kind)!r}"
        raise AcceptedDriftError(f"{at}: kind {problem}: name a finding kind; allowed: {', '.join(kinds)}")
    if kind not in kinds:
        raise AcceptedDriftError(f"{at}: kind {_shown(kind)!r} is not a finding kind; allowed: {', '.join(kinds)}")
    field_ = data.get("field")
    _check_field(kind, field_, lines.get("field", at))
    reason = data.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise AcceptedDriftError(f"{at}: reason is required: say why this drift is accepted (a ticket, a date)")
    if unwritten(reason):
        raise AcceptedDriftError(
            f"{lines['reason']}: reason is {_shown(reason)!r}, not yet written (panic-contract accept writes TODO): "
            "say why this drift is accepted, e.g. reason: reported to the provider as ticket 4411"
        )
    expires = data.get("expires")
    if isinstance(expires, datetime):
        expires = expires.date()
    if not isinstance(expires, date):
        raise AcceptedDriftError(f"{at}: expires must be a date, e.g. expires: 2026-12-31")
    if "value" in data:
        rule = _VALUE_RULES.get(kind)
        if rule is None:
            raise AcceptedDriftError(
                f"{at}: a {kind} finding has no value to accept; drop value: (the entry then covers "
                f"{kind} {field_ or '-'} whatever arrived)"
            )
        if not rule.allowed(data["value"]):
            raise AcceptedDriftError(f"{at}: value of a {kind} entry is {rule.means}")
        if rule.wanted is describe_value and describe_value(data["value"]).endswith("..."):
            # a finding keeps the first 60 characters of what arrived: a longer value could not be told apart
            raise AcceptedDriftError(
                f"{at}: value is longer than the {_SHOWN} characters a finding keeps of what arrived; "
                "drop value: to accept the field whatever it holds"
            )
    return Entry(kind, field_, " ".join(reason.split()), expires, line, data.get("value"), "value" in data)


def _check_field(kind: str, field_: Any, at: str) -> None:
    """`field:` as a finding of `kind` names it (see FIELDLESS_KINDS); else the one line saying what to write."""
    if kind in FIELDLESS_KINDS:
        if field_ is not None:
            narrow = ", or narrow it with value:" if kind in VALUE_KINDS else ""
            raise AcceptedDriftError(
                f"{at}: kind {kind} has no field; drop field: (the entry then covers every {kind} finding{narrow})"
            )
        return
    if kind == CHECK_KIND:
        if not isinstance(field_, str) or not _CHECK_NAME.fullmatch(field_):
            given = f"is required for kind {kind}" if field_ is None else f"{_shown(field_)!r} is not a check name"
            raise AcceptedDriftError(
                f"{at}: field {given}: name the check as schemathesis does, e.g. field: unsupported_method"
            )
        return
    if not isinstance(field_, str) or not _JSON_PATH.fullmatch(field_):
        given = f"is required for kind {kind}" if field_ is None else f"{_shown(field_)!r} is not a JSON path"
        raise AcceptedDriftError(
            f"{at}: field {given}: write the path from the root $, e.g. field: {_path_for(field_)}"
        )


def _path_for(field_: Any) -> str:
    """The JSON path a person most likely meant by `field_` (`status` -> `$.status`), for the error line."""
    text = field_.strip() if isinstance(field_, str) else ""
    if not text or text == "$":
        return "$.status"
    text = text.removeprefix("$")
    return _shown("$" + (text if text.startswith(("[", ".")) else "." + text))


def _no_anchor(event: Any, where: str) -> None:
    if getattr(event, "anchor", None) is not None:
        raise AcceptedDriftError(
            f"{_at(where, event)}: YAML anchors (&{_shown(event.anchor)}) are not allowed here; write each value out"
        )


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1


def _at(where: str, event: Any) -> str:
    return f"{where} line {_line(event)}"


def _line_of(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return f" line {mark.line + 1}"
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML does not allow
    return f" line {text.count(chr(10), 0, position) + 1}" if isinstance(position, int) else ""


def _problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or type(exc).__name__
    return " ".join(str(problem).split())[:120]  # one line, whatever the parser put in it


def _shown(text: Any) -> str:
    """A value from the file, shortened for an error line (one line, never the whole of a huge scalar)."""
    shown = " ".join(str(text).split())
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."
