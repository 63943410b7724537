"""Render a ledger and its verdict: JSON for machines, Markdown for a pull request, text for a terminal, GitHub.

Reports carry requests as method and path only, and reproducers with the token masked: no
credential reaches any of them. Text from the server is escaped where it lands, by the sink's one
function in `outputs`: every Markdown cell and line, every terminal line.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from panic_contract.core.accepted import EXPIRING_DAYS, Entry
from panic_contract.core.ledger import Ledger, LedgerEntry
from panic_contract.core.verdict import Decision, verdict_line
from panic_contract.outputs import (
    file_bytes,
    markdown_code,
    markdown_code_block,
    markdown_text,
    terminal_line,
    write_atomically,
)
from panic_contract.redaction import MASK, redact


@dataclass(frozen=True)
class RunInfo:
    target: str
    base_url: str
    spec: str
    started_at: datetime
    duration_s: float


def reproducer(base_url: str, request: str) -> str:
    """A curl line for a finding's first request, token masked."""
    method, _, path = request.partition(" ")
    url = path if "://" in path else base_url.rstrip("/") + path  # the audit's requests name their own host
    flag = "" if method == "GET" else f"-X {method} "
    return f"curl {flag}-H 'Authorization: Bearer {MASK}' {shlex.quote(url)}"


def as_json(ledger: Ledger, decision: Decision, run: RunInfo) -> dict[str, Any]:
    findings = []
    for entry in ledger.sorted_entries():
        item = _with_expiry(ledger, entry)
        item["reproducer"] = reproducer(run.base_url, entry.first.request)
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
        "findings": findings,
        "accepted": [_with_expiry(ledger, entry) for entry in ledger.accepted_entries()],
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


def as_markdown(ledger: Ledger, decision: Decision, run: RunInfo) -> str:
    lines = [
        f"## API drift: **{decision.verdict}** (exit {decision.exit_code})",
        "",
        markdown_text(decision.reason),
        "",
        f"Target {markdown_code(run.target)} at {markdown_code(run.base_url)}, spec {markdown_code(run.spec)}, "
        f"{ledger.requests} requests in {run.duration_s:.1f}s.",
    ]
    entries = ledger.sorted_entries()
    if entries:
        lines += [
            "",
            "| kind | severity | field | expected | actual | count | first request |",
            "|---|---|---|---|---|---|---|",
        ]
        for entry in entries:
            f = entry.first
            actual, expected = markdown_text(", ".join(entry.actuals)), markdown_text(f.expected)
            cells = [f.kind, f.severity, _field(f.field), expected, actual, str(entry.count), markdown_code(f.request)]
            lines.append(_md_row(cells))
    accepted = ledger.accepted_entries()
    if accepted:
        lines += ["", "Accepted drift (does not fail the run):", "", "| kind | field | actual | count | accepted by |"]
        lines.append("|---|---|---|---|---|")
        for entry in accepted:
            f = entry.first
            cells = [", ".join(entry.actuals), str(entry.count), entry.accepted_by or ""]
            lines.append(_md_row([f.kind, _field(f.field), *map(markdown_text, cells)]))
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
    if entries:
        lines += [
            "",
            "Reproduce the first finding:",
            "",
            markdown_code_block(reproducer(run.base_url, entries[0].first.request)),
        ]
    return "\n".join(lines) + "\n"


def terminal_lines(ledger: Ledger, decision: Decision, base_url: str) -> list[str]:
    """The "API drift" section: findings grouped by kind and field, then the verdict last; one line each."""
    lines: list[str] = []
    for entry in ledger.sorted_entries():
        lines.append(_entry_line(entry))
        if entry.acceptance == "expired":
            lines.append(f"    accepted drift expired: {entry.accepted_by}")
        lines.append(f"    reproduce: {reproducer(base_url, entry.first.request)}")
    if not lines:
        lines.append("no findings")
    for entry in ledger.accepted_entries():
        lines.append(
            f"accepted {entry.first.kind} {entry.first.field or '-'}: {entry.first.message()} (x{entry.count})"
        )
        lines.append(f"    accepted by: {entry.accepted_by}")
    lines += [f"stale accepted drift (matched nothing; delete it): {entry.describe()}" for entry in stale(ledger)]
    lines += [_expiring_line(*item) for item in expiring_soon(ledger)]
    lines.append(verdict_line(decision))
    return [terminal_line(line) for line in lines]


def _entry_line(entry: LedgerEntry) -> str:
    f = entry.first
    return f"{f.severity:<8} {f.kind} {f.field or '-'}: {f.message()} (x{entry.count})"


def write_reports(
    ledger: Ledger, decision: Decision, run: RunInfo, json_path: str | Path | None, markdown_path: str | Path | None
) -> list[str]:
    """Write the reports asked for; one line per report that could not be written (the others still are)."""
    errors = []
    renderings: list[tuple[str | Path | None, Callable[[], str], str]] = [
        (json_path, lambda: json.dumps(as_json(ledger, decision, run), indent=2) + "\n", "JSON report"),
        (markdown_path, lambda: as_markdown(ledger, decision, run), "Markdown summary"),
    ]
    for path, render, what in renderings:
        if path is None or path == "":
            continue
        try:
            write_atomically(Path(path), redact(render()))  # masked again whole: the last line of defence
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            errors.append(f"cannot write the {what} to {path}: {reason} (pick a writable path)")
    return errors


# --- GitHub Actions: the job summary and one error annotation per breaking finding -------------------


def _escape(text: str, *, prop: bool = False) -> str:
    """Workflow-command escaping (the runner's own rules): %, CR and LF, and in properties also : and ,."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_annotations(ledger: Ledger) -> list[str]:
    """`::error title=...::message` for each breaking finding: GitHub shows them on the run's page."""
    lines = []
    for entry in ledger.sorted_entries():
        f = entry.first
        if f.severity == "breaking":
            title = _escape(f"API drift: {f.kind} {f.field or '-'}", prop=True)
            lines.append(f"::error title={title}::{_escape(redact(f.message()))} (x{entry.count})")
    return lines


def append_step_summary(path: str, markdown: str) -> str | None:
    """Append the Markdown summary to GITHUB_STEP_SUMMARY; one line if that cannot be done."""
    try:
        with Path(path).open("ab") as handle:
            handle.write(file_bytes(redact(markdown) + "\n"))
    except OSError as exc:
        return f"cannot append the Markdown summary to GITHUB_STEP_SUMMARY ({path}): {exc.strerror}"
    return None
