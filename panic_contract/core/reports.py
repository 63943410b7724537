"""Render a ledger and its verdict: JSON for machines, Markdown for a pull request, text for a terminal, GitHub.

Reports carry requests as method and path only, and reproducers that name the token's variable
(`$PANIC_API_TOKEN`), never its value: no credential reaches any of them. Each says what to do next
(`next_steps`). Text from the server is escaped where it lands, by the sink's one function in `outputs`:
every Markdown cell and line, every terminal line.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from panic_contract.core import next_steps, sarif
from panic_contract.core.accepted import EXPIRING_DAYS, Entry
from panic_contract.core.contract import SPEC_PATH, load_contract
from panic_contract.core.diagnoses import Diagnosis, diagnose
from panic_contract.core.findings import fingerprint
from panic_contract.core.ledger import Ledger, LedgerEntry
from panic_contract.core.past import OFF, Past
from panic_contract.core.verdict import Decision, Verdict, verdict_line
from panic_contract.faults import Credentials
from panic_contract.outputs import (
    file_bytes,
    markdown_code,
    markdown_code_block,
    markdown_text,
    terminal_line,
    write_atomically,
)
from panic_contract.redaction import WRONG_TOKEN, redact
from panic_contract.sending import TOKEN_VARIABLE


@dataclass(frozen=True)
class RunInfo:
    target: str  # mock, staging, custom; or audit
    base_url: str
    spec: str
    started_at: datetime
    duration_s: float
    json_report: str | None = None  # the JSON report's path, as given: what `panic-contract accept` reads
    spec_path: Path = SPEC_PATH  # the spec the run held responses to: where a step edits it
    mock_drift: tuple[str, ...] = ()  # the embedded mock's drift switches: how a step serves it again

    @property
    def sent_to(self) -> str | None:
        """Where a request that names no host of its own went: the run's base URL; None for a capture,
        which says nothing of a request it shows without a host."""
        return None if self.target == "audit" else self.base_url

    def where(self) -> next_steps.Where:
        """What this run's next steps name."""
        return next_steps.Where(
            report=self.json_report or None,
            audit=self.target == "audit",
            spec=self.spec_path,
            mock=self.base_url if self.target == "mock" else None,
            mock_drift=self.mock_drift,
        )


BASE_URL_VARIABLE = "PANIC_API_BASE_URL"
# The token's variable, which the shell expands: never its value.
TOKEN_HEADER = f'"Authorization: Bearer ${TOKEN_VARIABLE}"'


def reproducer(base_url: str | None, request: str, credentials: Credentials = "valid") -> str:
    """A curl line that sends a finding's first request again when pasted, with the credentials it carried.

    Our token is `$PANIC_API_TOKEN` (the shell expands it: no output holds it); a request sent without one
    is sent without one, one with a wrong token with the same wrong token. The URL is the request's own
    when it names a host (the audit's), else `base_url`'s, else (a capture that names no host)
    `$PANIC_API_BASE_URL`'s; single-quoted, so the shell passes it as it is.
    """
    method, _, path = request.partition(" ")
    if "://" in path:
        url = _quoted(path)
    elif base_url:
        url = _quoted(base_url.rstrip("/") + path)
    else:
        url = f'"${BASE_URL_VARIABLE}"{_quoted(path)}'
    flag = "" if method == "GET" else f"-X {shlex.quote(method)} "
    header = {"missing": "", "invalid": f"-H 'Authorization: Bearer {WRONG_TOKEN}' "}.get(
        credentials, f"-H {TOKEN_HEADER} "
    )
    return f"curl {flag}{header}{url}"


def _quoted(text: str) -> str:
    """`text` in single quotes for a shell, always (shlex.quote leaves a plain word bare)."""
    quoted = shlex.quote(text)
    return quoted if quoted.startswith("'") else f"'{text}'"


def _reproducer_of(run: RunInfo, entry: LedgerEntry) -> str:
    return reproducer(run.sent_to, entry.first.request, entry.first.credentials)


def diagnoses(ledger: Ledger, run: RunInfo) -> list[Diagnosis]:
    """What the run's findings say happened (`core.diagnoses`), held to the fields of the spec the run read."""
    return diagnose(ledger.sorted_entries(), load_contract(run.spec_path).responses[200].properties)


def as_json(ledger: Ledger, decision: Decision, run: RunInfo, past: Past = OFF) -> dict[str, Any]:
    findings = []
    where = run.where()
    for entry in ledger.sorted_entries():
        item = _with_expiry(ledger, entry) | {"fingerprint": fingerprint(entry.first)} | past.finding_json(entry)
        item["reproducer"] = _reproducer_of(run, entry)
        item["next_step"] = next_steps.for_entry(entry, where).as_dict()
        findings.append(item)
    return {
        "verdict": str(decision.verdict),
        "exit_code": decision.exit_code,
        "reason": decision.reason,
        "target": run.target,
        "base_url": run.base_url,
        "spec": run.spec,
        "started_at": run.started_at.isoformat(timespec="seconds"),
        "duration_s": round(run.duration_s, 3),
        "requests": ledger.requests,
        "validated_bodies": ledger.validated_bodies,
        "signals": dict(ledger.signals),
        "diagnoses": [diagnosis.as_dict() for diagnosis in diagnoses(ledger, run)],
        "findings": findings,
        "accepted": [_with_expiry(ledger, entry) | past.finding_json(entry) for entry in ledger.accepted_entries()],
        "fixed": past.fixed_json(),
        "history": past.summary_json(),
        "stale_acceptances": [entry.describe() for entry in stale(ledger)],
        "expiring_soon": [
            {
                "entry": entry.describe(),
                "line": entry.line,
                "kind": entry.kind,
                "field": entry.field,
                "expires": entry.expires.isoformat(),
                "expires_in_days": days,
                "in_use": in_use,
            }
            for entry, days, in_use in expiring_soon(ledger)
        ],
        "next_steps": [
            {"for": name, **step.as_dict()}
            for name, step in next_steps.steps(ledger.sorted_entries(), decision.verdict, where)
        ],
        **({"coverage": ledger.coverage.report()} if ledger.coverage is not None else {}),
    }


def _with_expiry(ledger: Ledger, entry: LedgerEntry) -> dict[str, Any]:
    """A finding as the report lists it; one an accepted-drift entry covers says how many days that entry has left."""
    item = entry.as_dict()
    acceptance = ledger.acceptance
    if acceptance is not None and entry.accepted_line is not None:
        covering = acceptance.entry_at(entry.accepted_line)
        if covering is not None:
            item["expires_in_days"] = covering.expires_in(acceptance.today)
    return item


def expiring_soon(ledger: Ledger) -> list[tuple[Entry, int, bool]]:
    """Accepted-drift entries that stop accepting within EXPIRING_DAYS days: each, its days left, and whether it
    covered a finding in this run. Every report names them (a warning: the run does not fail until one expires)."""
    if ledger.acceptance is None:
        return []
    used = {entry.accepted_line for entry in ledger.accepted_entries()}
    today = ledger.acceptance.today
    return [(entry, entry.expires_in(today), entry.line in used) for entry in ledger.acceptance.expiring_soon()]


def _expiring_line(entry: Entry, days: int, in_use: bool) -> str:
    when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
    use = "" if in_use else ", covering nothing in this run"
    return f"accepted drift expires {when}{use}: {entry.describe()}"


def stale(ledger: Ledger) -> list[Entry]:
    """Accepted-drift entries that covered nothing, in a run that held bodies to the contract."""
    return ledger.stale_acceptances() if ledger.validated_bodies else []


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _field(field: str | None) -> str:
    return markdown_text(field) if field else "-"


def as_markdown(ledger: Ledger, decision: Decision, run: RunInfo, past: Past = OFF) -> str:
    lines = [
        f"## API drift: **{decision.verdict}** (exit {decision.exit_code})",
        "",
        markdown_text(decision.reason),
        "",
        f"Target {markdown_code(run.target)} at {markdown_code(run.base_url)}, spec {markdown_code(run.spec)}, "
        f"{ledger.requests} requests in {run.duration_s:.1f}s.",
    ]
    entries = ledger.sorted_entries()
    found = diagnoses(ledger, run)
    if found:
        lines += ["", "What happened, as the findings below show it:", ""]
        lines += [f"- **{markdown_text(d.pattern)}**: {markdown_text(d.summary)}" for d in found]
    if entries:
        lines += [
            "",
            "| kind | severity | field | expected | actual | count | first request |",
            "|---|---|---|---|---|---|---|",
        ]
        for entry in entries:
            f = entry.first
            actual, expected = markdown_text(", ".join(entry.actuals)), markdown_text(f.expected)
            cells = [
                f.kind,
                entry.severity,
                _field(f.field),
                expected,
                actual,
                str(entry.count),
                markdown_code(f.request),
            ]
            lines.append(_md_row(cells))
    accepted = ledger.accepted_entries()
    if accepted:
        lines += ["", "Accepted drift (does not fail the run):", "", "| kind | field | actual | count | accepted by |"]
        lines.append("|---|---|---|---|---|")
        for entry in accepted:
            f = entry.first
            cells = [", ".join(entry.actuals), str(entry.count), entry.accepted_by or ""]
            lines.append(_md_row([f.kind, _field(f.field), *map(markdown_text, cells)]))
    lines += _history_markdown(entries, past)
    gone = stale(ledger)
    if gone:
        lines += ["", "Stale accepted drift (matched nothing: the provider fixed it, delete the entry):", ""]
        lines += [f"- {markdown_text(entry.describe())}" for entry in gone]
    soon = expiring_soon(ledger)
    if soon:
        lines += [
            "",
            f"Accepted drift expiring within {EXPIRING_DAYS} days (renew it with a new reason and date, or fix the "
            "drift: the run fails once an entry expires):",
            "",
        ]
        lines += [f"- {markdown_text(_expiring_line(*item))}" for item in soon]
    if ledger.coverage is not None:
        green = decision.verdict is Verdict.OK
        lines += ledger.coverage.markdown_lines(green=green, cell=markdown_text, code=markdown_code)
    lines += ["", "Next steps:"]
    for name, step in next_steps.steps(entries, decision.verdict, run.where()):
        lines += ["", f"- {markdown_text(name)}: {markdown_text(step.text)}"]
        for paste in step.paste:  # a block each, inside the item: GitHub gives a code block a copy button
            lines += ["", *(f"  {line}" for line in markdown_code_block(paste).splitlines())]
    if entries:
        lines += ["", "Reproduce the first finding:", "", markdown_code_block(_reproducer_of(run, entries[0]))]
    return "\n".join(lines) + "\n"


def _history_markdown(entries: list[LedgerEntry], past: Past) -> list[str]:
    """Each finding's history (new, persisting, returned, flapping) and the findings fixed since the previous run."""
    tagged = [(entry, annotation) for entry in entries if (annotation := past.of(entry)) is not None]
    if not tagged and not past.fixed:
        return []
    lines = ["", f"History ({past.runs} runs of this target in {markdown_code(past.store or '-')}):", ""]
    for entry, annotation in tagged:
        f = entry.first
        lines.append(f"- {markdown_text(f.kind)} {_field(f.field)}: {markdown_text(annotation.tag())}")
    lines += [f"- {markdown_text(line)}" for line in past.fixed_lines()]
    return lines


def terminal_lines(ledger: Ledger, decision: Decision, run: RunInfo, past: Past = OFF) -> list[str]:
    """The "API drift" section: what happened (the diagnoses), the findings grouped by kind and field, what to do
    next, then the verdict last; one line each."""
    lines: list[str] = [diagnosis.line() for diagnosis in diagnoses(ledger, run)]
    for entry in ledger.sorted_entries():
        lines.append(_entry_line(entry))
        if (annotation := past.of(entry)) is not None:
            lines.append(f"    history: {annotation.tag()}")
        if entry.acceptance == "expired":
            lines.append(f"    accepted drift expired: {entry.accepted_by}")
        lines.append(f"    reproduce: {_reproducer_of(run, entry)}")
    if not ledger.sorted_entries():
        lines.append("no findings")
    lines += past.fixed_lines()
    for entry in ledger.accepted_entries():
        lines.append(
            f"accepted {entry.first.kind} {entry.first.field or '-'}: {entry.first.message()} (x{entry.count})"
        )
        lines.append(f"    accepted by: {entry.accepted_by}")
    lines += [f"stale accepted drift (matched nothing; delete it): {entry.describe()}" for entry in stale(ledger)]
    lines += [_expiring_line(*item) for item in expiring_soon(ledger)]
    if ledger.coverage is not None:
        lines += ledger.coverage.terminal_lines(green=decision.verdict is Verdict.OK)
    for name, step in next_steps.steps(ledger.sorted_entries(), decision.verdict, run.where()):
        lines.append(f"next: {name}: {step.text}")
        lines += [f"    {paste}" for paste in step.paste]
    lines.append(verdict_line(decision))
    return [terminal_line(line) for line in lines]


def _entry_line(entry: LedgerEntry) -> str:
    f = entry.first
    return f"{entry.severity:<8} {f.kind} {f.field or '-'}: {f.message()} (x{entry.count})"


def write_reports(
    ledger: Ledger,
    decision: Decision,
    run: RunInfo,
    json_path: str | Path | None,
    markdown_path: str | Path | None,
    *,
    past: Past = OFF,
    sarif_path: str | Path | None = None,
    report: Callable[[], dict[str, Any]] | None = None,
) -> list[str]:
    """Write the reports asked for; one line per report that could not be written (the others still are).
    `report`: the JSON report's dict of this run when the caller has it (the HTML page is drawn from it too)."""
    errors = []
    report = report or (lambda: as_json(ledger, decision, run, past))
    renderings: list[tuple[str | Path | None, Callable[[], str], str]] = [
        (json_path, lambda: json.dumps(report(), indent=2) + "\n", "JSON report"),
        (markdown_path, lambda: as_markdown(ledger, decision, run, past), "Markdown summary"),
        (sarif_path, lambda: sarif.render(ledger, decision, run.spec_path), "SARIF report"),
    ]
    for path, render, what in renderings:
        errors += write_report(path, render, what)
    return errors


def write_report(path: str | Path | None, render: Callable[[], str], what: str) -> list[str]:
    """Write one report (none: nothing), whole or not at all; one line if it cannot be written."""
    if path is None or path == "":
        return []
    try:
        write_atomically(Path(path), redact(render()))  # masked again whole: the last line of defence
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return [f"cannot write the {what} to {path}: {reason} (pick a writable path)"]
    return []


# --- GitHub Actions: the job summary and one error annotation per breaking finding -------------------


def _escape(text: str, *, prop: bool = False) -> str:
    """Workflow-command escaping (the runner's own rules): %, CR and LF, and in properties also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(ledger: Ledger) -> list[str]:
    """`::error title=...::message` for each breaking finding, `::warning` for each warning (drift on a field the
    integration does not read): GitHub shows them on the run's page."""
    lines = []
    for entry in ledger.sorted_entries():
        f = entry.first
        if entry.severity in {"breaking", "warning"}:
            level = "error" if entry.severity == "breaking" else "warning"
            title = _escape(f"API drift: {f.kind} {f.field or '-'}", prop=True)
            lines.append(f"::{level} title={title}::{_escape(redact(f.message()))} (x{entry.count})")
    return lines


def append_step_summary(path: str, markdown: str) -> str | None:
    """Append the Markdown summary to GITHUB_STEP_SUMMARY; one line if that cannot be done."""
    try:
        with Path(path).open("ab") as handle:
            handle.write(file_bytes(redact(markdown) + "\n"))
    except OSError as exc:
        return f"cannot append the Markdown summary to GITHUB_STEP_SUMMARY ({path}): {exc.strerror}"
    return None
