"""What the traffic of a run exercised of the contract: response codes, each field's presence and nulls, status values.

`--coverage` turns it on. Every response the ledger counts is counted here too, once, by `add` (the audit's
readers, given the body they already read) or `add_exchange` (the suite's probes). Counts of one run's processes
(pytest-xdist workers, the audit's parts) travel as `as_dict()` inside the ledger's and merge into one. What the
contract documents and the traffic never showed ("401 never seen", "predefinedLocationId never null in 1,000
responses") is said in every report: a green run that never saw a nullable field null has not checked it.

Counting is cheap by design (the audit judges ~300k exchanges a second): per response one dict update for its
code and, for a callout, a comparison of its keys with the documented ones (in C), a look for nulls and one at
its status value; a callout the judge found valid (`add_valid`) needs only its nullable fields looked at.
Anything new (a field name, a status value) goes through a slow path that keeps the counts bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from panic_contract.core.contract import Contract
from panic_contract.core.findings import VALIDATED, Exchange, Inspection, read_body
from panic_contract.redaction import redact

CALLOUT_STATUS = 200  # the response whose body is a callout: the one whose fields are counted
STATUS_FIELD = "status"
# Bounds: a capture of any size, however odd its bodies, keeps the counts small.
MAX_UNDOCUMENTED_FIELDS = 50  # field names beyond the documented ones, counted by name; the rest together
MAX_STATUS_VALUES = 50  # distinct status values counted by value; the rest together
MAX_TEXT = 100  # a longer field name or status value is counted with the rest, not by name
MORE_FIELDS = "(other undocumented fields)"
MORE_VALUES = "(other status values)"


@dataclass(frozen=True)
class Documented:
    """What the contract says that coverage is measured against: its codes, the callout's fields, status values."""

    method: str
    codes: tuple[int, ...]
    fields: tuple[str, ...]  # the callout's properties, by name
    required: frozenset[str]
    nullable: frozenset[str]
    known_statuses: tuple[str, ...]

    @classmethod
    def of(cls, contract: Contract) -> Documented:
        schema = contract.responses[CALLOUT_STATUS].schema if CALLOUT_STATUS in contract.responses else {}
        properties = schema.get("properties", {})
        return cls(
            method=contract.method,
            codes=contract.documented_statuses,
            fields=tuple(sorted(properties)),
            required=frozenset(schema.get("required", ())),
            nullable=frozenset(contract.nullable_fields),
            known_statuses=contract.known_statuses,
        )


@dataclass
class Coverage:
    """Counters of what the traffic showed; `add` per response, `merge` another process's `as_dict()`."""

    documented: Documented
    codes: dict[int, int] = field(default_factory=dict)  # every response of the operation, by status code
    bodies: int = 0  # callout responses (200) whose body was a JSON object: what the field counts are out of
    whole: int = 0  # bodies with every documented field and no other: counted once, not field by field
    present: dict[str, int] = field(default_factory=dict)  # the other bodies, by the fields they had
    nulls: dict[str, int] = field(default_factory=dict)  # bodies in which the field was null
    status_values: dict[str, int] = field(default_factory=dict)  # each status string, exactly as it came
    _names: set[str] = field(default_factory=set, repr=False)  # the field names counted by name so far
    _documented_names: frozenset[str] = field(default=frozenset(), repr=False)
    _nullable: tuple[str, ...] = field(default=(), repr=False)
    _all_required: bool = field(default=False, repr=False)  # every documented field is required: `add_valid`

    @classmethod
    def of(cls, contract: Contract) -> Coverage:
        doc = Documented.of(contract)
        names = frozenset(doc.fields)
        return cls(
            doc,
            _names=set(names),
            _documented_names=names,
            _nullable=tuple(sorted(doc.nullable)),
            _all_required=doc.required >= names,
        )

    def _present(self, name: str) -> int:
        """How many callout bodies had the field, null or not."""
        whole = self.whole if name in self._documented_names else 0
        return whole + self.present.get(name, 0)

    def add(self, status: int, body: Any) -> None:
        """Count one response of the operation: its status code, and for a callout its body (parsed JSON;
        anything but an object, such as an unreadable or unsaved body, counts its code only)."""
        codes = self.codes
        codes[status] = codes.get(status, 0) + 1
        if status != CALLOUT_STATUS or type(body) is not dict:
            return
        self.bodies += 1
        if body.keys() == self._documented_names:  # the common body: every documented field, no other (in C)
            self.whole += 1
        else:
            self._count_names(body)
        if None in body.values():
            nulls, names = self.nulls, self._names
            for name, value in body.items():
                if value is None and name in names:
                    nulls[name] = nulls.get(name, 0) + 1
        self._count_status_value(body.get(STATUS_FIELD))

    def add_judged(self, status: int, body: Any, inspection: Inspection) -> None:
        """Count one response the judge has seen (`findings.inspect_fields`): the audit readers' one call."""
        if inspection is VALIDATED:
            self.add_valid(body)
        else:
            self.add(status, body)

    def add_valid(self, body: dict[str, Any]) -> None:
        """`add` of a callout the judge found valid (`findings.VALIDATED`): the audit's common case, and its
        fast path. Valid means every required field and no undocumented one, so where every documented field
        is required its fields need no count, and only the nullable ones can be null."""
        if not self._all_required:
            self.add(CALLOUT_STATUS, body)
            return
        codes = self.codes
        codes[CALLOUT_STATUS] = codes.get(CALLOUT_STATUS, 0) + 1
        self.bodies += 1
        self.whole += 1
        for name in self._nullable:
            if body[name] is None:
                self.nulls[name] = self.nulls.get(name, 0) + 1
        self._count_status_value(body[STATUS_FIELD] if STATUS_FIELD in self._documented_names else None)

    def add_exchange(self, exchange: Exchange) -> None:
        """Count one exchange the suite sent (another method's is not the operation's, and is not counted)."""
        if exchange.method != self.documented.method:
            return
        parsed = read_body(exchange.body) if exchange.status == CALLOUT_STATUS and exchange.oversized is None else None
        self.add(exchange.status, parsed)

    def _count_names(self, body: Mapping[str, Any]) -> None:
        """A body whose fields are not the documented ones: each counted by name while there is room, else
        with the rest (a capture of any size keeps the counts small)."""
        present, names = self.present, self._names
        more = False  # the rest together: a body counts there once, however many of them it has
        for name in body:
            if name not in names:
                undocumented = len(names) - len(self.documented.fields)
                if name == MORE_FIELDS or len(name) > MAX_TEXT or undocumented >= MAX_UNDOCUMENTED_FIELDS:
                    if not more:
                        present[MORE_FIELDS] = present.get(MORE_FIELDS, 0) + 1
                        more = True
                    continue
                names.add(name)
            present[name] = present.get(name, 0) + 1

    def _count_status_value(self, value: Any) -> None:
        """One body's status value, if it is text: by name while there is room, else with the rest."""
        if type(value) is not str:
            return
        values = self.status_values
        if value in values:
            values[value] += 1
            return
        if len(value) > MAX_TEXT or len(values) >= MAX_STATUS_VALUES:
            value = MORE_VALUES
        values[value] = values.get(value, 0) + 1

    # --- across processes

    def as_dict(self) -> dict[str, Any]:
        """The counts as plain data (execnet and the audit's pool send no dataclasses), server text masked:
        a worker's snapshot lands in a file."""
        return {
            "codes": {str(code): count for code, count in self.codes.items()},
            "bodies": self.bodies,
            "present": _masked_keys({name: self._present(name) for name in [*self.documented.fields, *self.present]}),
            "nulls": _masked_keys(self.nulls),
            "status_values": _masked_keys(self.status_values),
        }

    def merge(self, data: Mapping[str, Any]) -> None:
        """Fold in another process's `as_dict()`."""
        for code, count in data.get("codes", {}).items():
            self.codes[int(code)] = self.codes.get(int(code), 0) + count
        self.bodies += data.get("bodies", 0)
        for name, count in data.get("present", {}).items():
            self._count_names({name: None})  # counts one, under the name or with the rest
            counted = name if name in self._names else MORE_FIELDS
            self.present[counted] += count - 1
        for name, count in data.get("nulls", {}).items():
            if name in self._names:  # as `add` does: a field counted with the rest has no null count
                self.nulls[name] = self.nulls.get(name, 0) + count
        for value, count in data.get("status_values", {}).items():
            self._count_status_value(value)  # counts one, under the value or with the rest, as for the fields
            self.status_values[value if value in self.status_values else MORE_VALUES] += count - 1

    # --- what it says

    @property
    def responses(self) -> int:
        return sum(self.codes.values())

    def field_counts(self) -> list[dict[str, Any]]:
        """Each documented field (by name), then each undocumented one seen: how often present,
        absent, null and not null, out of `bodies`."""
        doc = self.documented
        extra = sorted(name for name in self.present if name not in doc.fields and name != MORE_FIELDS)
        extra += [MORE_FIELDS] if MORE_FIELDS in self.present else []
        rows: list[dict[str, Any]] = []
        for name in [*doc.fields, *extra]:
            # the rest together: bodies with any of them (merged parts may count a body twice: never past all)
            present, nulls = min(self._present(name), self.bodies), self.nulls.get(name, 0)
            rows.append(
                {
                    "field": name,
                    "documented": name in doc.fields,
                    "required": name in doc.required,
                    "nullable": name in doc.nullable,
                    "present": present,
                    "absent": self.bodies - present,
                    "null": nulls,
                    "non_null": present - nulls,
                }
            )
        return rows

    def status_value_counts(self) -> list[dict[str, Any]]:
        """The status values seen, by value as the contract compares them (any casing): known first, in the
        spec's order, then the others by count; each with its casings and their counts."""
        folded: dict[str, dict[str, int]] = {}
        for value, count in self.status_values.items():
            key = value if value == MORE_VALUES else value.casefold()
            folded.setdefault(key, {})[value] = count
        known = {value.casefold(): value for value in self.documented.known_statuses}
        rows: list[dict[str, Any]] = []
        for key, casings in folded.items():
            ordered = dict(sorted(casings.items(), key=lambda item: (-item[1], item[0])))
            rows.append(
                {
                    "value": known.get(key, next(iter(ordered))),
                    "known": key in known,
                    "count": sum(casings.values()),
                    "casings": ordered,
                }
            )
        order = {key: number for number, key in enumerate(known)}
        rows.sort(key=lambda row: (not row["known"], order.get(str(row["value"]).casefold(), 0), -row["count"]))
        return rows

    def never_seen(self) -> list[str]:
        """What the contract documents that the traffic never showed, one phrase each."""
        doc, bodies = self.documented, self.bodies
        out = [f"{code} never seen" for code in doc.codes if not self.codes.get(code)]
        if bodies:
            of = f"in {bodies:,} callout response{'s' if bodies != 1 else ''}"
            for row in self.field_counts():
                if not row["documented"]:
                    continue
                name = row["field"]
                if not row["present"]:
                    out.append(f"{name} never present {of}")
                    continue
                if name in doc.nullable and not row["null"]:
                    out.append(f"{name} never null {of}")
                if name in doc.nullable and not row["non_null"]:
                    out.append(f"{name} never non-null {of}")
                if name not in doc.required and not row["absent"]:
                    out.append(f"{name} never absent {of}")
        seen = {str(row["value"]).casefold() for row in self.status_value_counts()}
        out += [f"status value {value} never seen" for value in doc.known_statuses if value.casefold() not in seen]
        return out

    def unchecked_nullability(self) -> list[str]:
        """The nullable fields the traffic showed but never null: whether they may be null was not checked."""
        return [
            row["field"]
            for row in self.field_counts()
            if row["documented"] and row["nullable"] and row["present"] and not row["null"]
        ]

    def report(self) -> dict[str, Any]:
        """The JSON report's `coverage` section."""
        doc = self.documented
        codes = [*doc.codes, *sorted(code for code in self.codes if code not in doc.codes)]
        return {
            "responses": self.responses,
            "codes": [
                {"code": code, "documented": code in doc.codes, "seen": self.codes.get(code, 0)} for code in codes
            ],
            "callout_bodies": self.bodies,
            "fields": self.field_counts(),
            "status_values": self.status_value_counts(),
            "never_seen": self.never_seen(),
            "nullability_unchecked": self.unchecked_nullability(),
        }

    def terminal_lines(self, *, green: bool) -> list[str]:
        """The coverage section of a run's final lines (masked and escaped where they are printed)."""
        report = self.report()
        codes = ", ".join(
            f"{row['code']} x{row['seen']:,}" + ("" if row["documented"] else " (undocumented)")
            for row in report["codes"]
        )
        lines = [f"coverage: {self.responses:,} responses: {codes or 'none'}"]
        lines.append(f"coverage: {self.bodies:,} callout bodies; per field: present, absent, null, non-null")
        lines += [
            f"coverage:   {row['field']}: {row['present']:,}, {row['absent']:,}, {row['null']:,}, {row['non_null']:,}"
            + ("" if row["documented"] else " (undocumented)")
            for row in report["fields"]
            if row["documented"] or row["present"]
        ]
        if report["status_values"]:
            lines.append("coverage: status values: " + "; ".join(_value_text(row) for row in report["status_values"]))
        never = report["never_seen"]
        shown = f"not shown by this traffic: {'; '.join(never)}" if never else "everything documented was shown"
        lines.append(f"coverage: {shown}")
        unchecked = report["nullability_unchecked"]
        if green and unchecked:
            lines.append(
                f"coverage: this run passed without checking nullability: {', '.join(unchecked)} never null "
                "in the traffic, so whether a client copes with null was not tested"
            )
        return lines

    def markdown_lines(self, *, green: bool, cell: Any, code: Any) -> list[str]:
        """The Markdown summary's coverage section; `cell` and `code` escape server text for it (`outputs`)."""
        report = self.report()
        lines = ["", f"Coverage: {self.responses:,} responses, {self.bodies:,} callout bodies.", ""]
        lines += ["| status code | documented | seen |", "|---|---|---|"]
        lines += [
            f"| {row['code']} | {'yes' if row['documented'] else 'no'} | {row['seen']:,} |" for row in report["codes"]
        ]
        lines += ["", "| field | present | absent | null | non-null | nullable |", "|---|---|---|---|---|---|"]
        lines += [
            f"| {code(row['field'])} | {row['present']:,} | {row['absent']:,} | {row['null']:,} | "
            f"{row['non_null']:,} | {'yes' if row['nullable'] else 'no' if row['documented'] else 'undocumented'} |"
            for row in report["fields"]
            if row["documented"] or row["present"]
        ]
        if report["status_values"]:
            lines += ["", "| status value | known | count | casings |", "|---|---|---|---|"]
            lines += [
                f"| {code(str(row['value']))} | {'yes' if row['known'] else 'no'} | {row['count']:,} | "
                + ", ".join(f"{code(casing)} x{count:,}" for casing, count in row["casings"].items())
                + " |"
                for row in report["status_values"]
            ]
        if report["never_seen"]:
            lines += ["", "Documented, never seen in this traffic:", ""]
            lines += [f"- {cell(item)}" for item in report["never_seen"]]
        if green and report["nullability_unchecked"]:
            lines += [
                "",
                cell(
                    "This run passed without checking nullability: "
                    f"{', '.join(report['nullability_unchecked'])} never null in the traffic."
                ),
            ]
        return lines


def _value_text(row: Mapping[str, Any]) -> str:
    casings = row["casings"]
    text = f"{row['value']} x{row['count']:,}" + ("" if row["known"] else " (unknown)")
    if len(casings) > 1 or next(iter(casings)) != row["value"]:
        text += " (" + ", ".join(f"{casing} x{count:,}" for casing, count in casings.items()) + ")"
    return text


def _masked_keys(counts: Mapping[str, int]) -> dict[str, int]:
    """`counts` with each key masked; keys a secret made equal add up."""
    out: dict[str, int] = {}
    for key, count in counts.items():
        masked = redact(key)
        out[masked] = out.get(masked, 0) + count
    return out
