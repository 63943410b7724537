"""One self-contained HTML page of a run (or of the stored history alone), rendered from the JSON report's dict.

The page reads the same dict as every other report (`reports.as_json`), so what it shows is what the JSON
says; fields other reports add (a finding's `fingerprint`, `history_status`, `first_seen`, `runs_seen`,
`flapping`; the report's `fixed`, `history`, `coverage`, `diagnoses`) are shown when they are there. A
timeline per finding needs the stored runs, which the caller passes as `HistoryRun`s.

Self-contained and safe by construction: the styles and the small script (filters, sorting) are inline and
allowed by their hashes in the page's Content-Security-Policy (`default-src 'none'`), so the page loads
nothing and runs no other script; every value goes through `outputs.terminal_line` (masked, one printable
line) and Jinja2's autoescape, so no text from a server becomes markup. Paths inside the package's own
folder are shown relative to it: the page names no local path but those the user gave.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

from markupsafe import Markup

from panic_contract.core import reports
from panic_contract.outputs import terminal_line
from panic_contract.redaction import redact
from panic_contract.shipped import PACKAGE_DIR

if TYPE_CHECKING:
    import jinja2


class HistoryRun(TypedDict):
    """One stored run, as the timeline reads it: when it started (ISO 8601), its verdict, and the
    fingerprints of the findings it saw. A list of them, oldest first, is what a history store hands over."""

    started_at: str
    verdict: str
    seen_fingerprints: Sequence[str]


VERDICT_WORDS: Final[Mapping[str, str]] = {
    "ok": "the API matches its contract",
    "drift": "the API no longer matches its contract",
    "failed": "a test failed for a reason other than drift",
    "outage": "the target could not be reached or kept failing: not a contract problem",
    "auth": "the target refused our credentials",
    "inconclusive": "too little was checked to say whether the API matches its contract",
    "usage": "the run could not start as asked",
    "interrupted": "the run was stopped before it finished",
}
SEVERITY_ORDER: Final = ("breaking", "warning", "additive")
HISTORY_STATUSES: Final = ("new", "returned", "persisting")
# A run's mark in a timeline: this many pixels wide at most and at least, 400 pixels wide in all at most.
MARK_PX_MAX, MARK_PX_MIN, TIMELINE_PX = 12, 3, 400
_FOLDER: Final = str(PACKAGE_DIR.parent) + os.sep  # the checkout, or site-packages: not a path the user gave


def _resource(name: str) -> str:
    return (resources.files("panic_contract.core") / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _shown(value: Any) -> Any:
    """Every value the template prints: a string masked, stripped of the package's folder and made one printable
    line (Jinja2 then escapes it); markup the template built itself as it is; None as nothing."""
    if value is None:
        return ""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return terminal_line(value.replace(_FOLDER, ""))


def _environment() -> jinja2.Environment:
    import jinja2  # imported for a page only: a run without one starts faster

    return jinja2.Environment(
        autoescape=True,
        finalize=_shown,
        undefined=jinja2.StrictUndefined,  # a name the template gets wrong fails the tests, not the page
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(report: Mapping[str, Any], history_runs: Sequence[HistoryRun] = ()) -> str:
    """The page of one run: `report` is the JSON report's dict; `history_runs` the stored runs, oldest first
    (the run itself among them when the store has recorded it), which draw each finding's timeline."""
    return _page(_run_view(report, history_runs))


def render_history(
    history_runs: Sequence[HistoryRun], findings: Sequence[Mapping[str, Any]], *, store: str | None = None
) -> str:
    """The page of the stored history alone: every run's verdict and each finding's timeline. `findings` are
    the store's findings as a report lists them (kind, severity, field, `fingerprint`, `first_seen`, ...)."""
    last = history_runs[-1] if history_runs else None
    verdict = last["verdict"] if last else "inconclusive"
    view = {
        "title": "API drift history",
        "verdict": verdict,
        "verdict_class": _verdict_class(verdict),
        "verdict_words": f"the last stored run's verdict: {VERDICT_WORDS.get(verdict, verdict)}",
        "exit_code": None,
        "reason": f"{len(history_runs)} stored run(s), {len(findings)} finding(s)" + (f", in {store}" if store else ""),
        "facts": [("history store", store)] if store else [],
        "history_only": True,
    }
    return _page({**view, **_findings_view(findings, history_runs, requests=0)})


def write(path: str | Path | None, report: Mapping[str, Any], history_runs: Sequence[HistoryRun] = ()) -> list[str]:
    """Write the run's page to `path` (none: nothing); one line if it cannot be written."""
    return reports.write_report(path, lambda: render(report, history_runs), "HTML report")


def _page(view: Mapping[str, Any]) -> str:
    # The timelines' scale, the one rule that differs from page to page: a run's mark, and how many runs.
    scale = f":root{{--runs:{len(view.get('runs') or ())};--mark:{view.get('mark_px', 0)}px}}\n"
    css, script = scale + _resource("report.css"), _resource("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )
    template = _environment().from_string(_resource("report.html.j2"))
    page = template.render(**view, css=Markup(css), script=Markup(script), csp=csp)  # noqa: S704 - our own files
    return redact(page)  # masked again whole, as every report is


def _when(value: Any) -> Any:
    """An ISO 8601 time as a person reads it (`2026-11-30 06:17 UTC`); anything else as it is."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _verdict_class(verdict: str) -> str:
    return f"v-{verdict}" if verdict in VERDICT_WORDS else "v-other"


def _run_view(report: Mapping[str, Any], history_runs: Sequence[HistoryRun]) -> dict[str, Any]:
    verdict = str(report.get("verdict", ""))
    requests = int(report.get("requests") or 0)
    history = report.get("history")
    facts: list[tuple[str, Any]] = [
        ("target", report.get("target")),
        ("base URL" if report.get("target") != "audit" else "source", report.get("base_url")),
        ("spec", report.get("spec")),
        ("started", _when(report.get("started_at"))),
        ("took", f"{report.get('duration_s', 0)} s"),
        ("requests", f"{requests:,} judged"),
        ("validated bodies", f"{int(report.get('validated_bodies') or 0):,} held to the contract"),
    ]
    if isinstance(history, Mapping):
        facts.append(("history", _history_fact(history)))
    return {
        "title": "API drift report",
        "verdict": verdict,
        "verdict_class": _verdict_class(verdict),
        "verdict_words": VERDICT_WORDS.get(verdict, ""),
        "exit_code": report.get("exit_code"),
        "reason": report.get("reason"),
        "facts": facts,
        "history_only": False,
        "next_steps": list(report.get("next_steps") or ()),
        "accepted": [_finding_row(f, requests) for f in report.get("accepted") or ()],
        "stale": list(report.get("stale_acceptances") or ()),
        "expiring": list(report.get("expiring_soon") or ()),
        "fixed": [_finding_row(f, requests) for f in report.get("fixed") or ()],
        "coverage": report.get("coverage"),
        "signals": dict(report.get("signals") or {}),
        "requests": requests,
        "validated_bodies": int(report.get("validated_bodies") or 0),
        "diagnoses": list(report.get("diagnoses") or ()),
        **_findings_view(list(report.get("findings") or ()), history_runs, requests),
    }


def _history_fact(history: Mapping[str, Any]) -> str:
    runs, store, previous = history.get("runs"), history.get("store"), history.get("previous_run")
    text = f"{runs} stored run(s)" if runs is not None else "stored runs"
    text += f" in {store}" if store else ""
    if isinstance(previous, Mapping):
        previous = " ".join(str(_when(previous[key])) for key in ("started_at", "verdict") if previous.get(key))
    else:
        previous = _when(previous)
    return text + (f"; previous run {previous}" if previous else "")


def _findings_view(
    findings: Sequence[Mapping[str, Any]], history_runs: Sequence[HistoryRun], requests: int
) -> dict[str, Any]:
    seen_in = [frozenset(run.get("seen_fingerprints") or ()) for run in history_runs]
    rows = [_finding_row(f, requests) | {"timeline": _timeline(f, seen_in)} for f in findings]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["severity"], row["kind"]), []).append(row)
    ordered = sorted(groups.items(), key=lambda item: (_severity_rank(item[0][0]), item[0]))
    severities = sorted({row["severity"] for row in rows}, key=lambda s: (_severity_rank(s), s))
    statuses = [s for s in HISTORY_STATUSES if any(row["status"] == s for row in rows)]
    with_history = bool(statuses) or any(row["first_seen"] for row in rows)
    return {
        "groups": [_group(sev, kind, members) for (sev, kind), members in ordered],
        "columns": 6 + with_history + bool(history_runs),
        "count": len(rows),
        "severities": severities,
        "kinds": sorted({row["kind"] for row in rows}),
        "statuses": statuses,
        "any_flapping": any(row["flapping"] for row in rows),
        "with_history": with_history,
        "summary": _summary(rows),
        "runs": _runs_strip(history_runs),
        "mark_px": _mark_px(len(history_runs)),
    }


def _group(severity: str, kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A severity and kind's findings; the next step they all share is said once, above them."""
    steps = {(row["step"], tuple(row["commands"])) for row in rows}
    step, commands = next(iter(steps))
    shared = step if len(steps) == 1 and len(rows) > 1 and not commands else None
    if shared:
        rows = [row | {"step": None} for row in rows]
    return {"severity": severity, "kind": kind, "rows": rows, "step": shared}


def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _finding_row(finding: Mapping[str, Any], requests: int) -> dict[str, Any]:
    count = int(finding.get("count") or 0)
    actuals = finding.get("actual_values") or ([finding["actual"]] if finding.get("actual") else [])
    step = finding.get("next_step") or {}
    return {
        "kind": str(finding.get("kind", "")),
        "severity": str(finding.get("severity", "")),
        "field": finding.get("field") or "-",
        "expected": finding.get("expected"),
        "actual": ", ".join(map(str, actuals)),
        "count": count,
        "rate": f"{100 * count / requests:.0f}%" if requests else "",
        "rate_value": round(count / requests, 6) if requests else 0,
        "request": finding.get("request"),
        "reproducer": finding.get("reproducer"),
        "step": step.get("step"),
        "commands": list(step.get("commands") or ()),
        "acceptance": finding.get("acceptance"),
        "accepted_by": finding.get("accepted_by"),
        "expires_in_days": finding.get("expires_in_days"),
        "status": str(finding.get("history_status") or ""),
        "first_seen": _when(finding.get("first_seen")),
        "last_seen": _when(finding.get("last_seen")),
        "runs_seen": finding.get("runs_seen"),
        "flapping": bool(finding.get("flapping")),
    }


def _mark_px(runs: int) -> int:
    return max(MARK_PX_MIN, min(MARK_PX_MAX, TIMELINE_PX // runs)) if runs else 0


def _timeline(finding: Mapping[str, Any], seen_in: Sequence[frozenset[str]]) -> dict[str, Any] | None:
    """One mark per stored run, seen or not: a grey tick per run, and the runs that saw the finding drawn over
    it in colour. Drawn as two lines whose dashes are the runs (one unit a run): a finding's timeline costs
    a few dozen bytes whatever the number of runs, where an element per mark would cost kilobytes."""
    fingerprint = finding.get("fingerprint")
    if not seen_in or not fingerprint:
        return None
    seen = [fingerprint in run for run in seen_in]
    dashes: list[int] = []  # alternating lengths of seen and unseen runs, from a seen run (0 if the first is not)
    state, length = True, 0
    for mark in seen:
        if mark != state:
            dashes.append(length)
            state, length = mark, 0
        length += 1
    dashes.append(length)
    if len(dashes) % 2:
        dashes.append(0)  # an even list: the pattern never restarts with its roles swapped
    total = sum(seen)
    return {
        "runs": len(seen),
        "seen": total,
        "dasharray": " ".join(map(str, dashes)) if total else None,
    }


def _runs_strip(history_runs: Sequence[HistoryRun]) -> list[dict[str, Any]]:
    return [
        {
            "x": index,
            "verdict": str(run.get("verdict", "")),
            "class": f"r-{run.get('verdict')}" if run.get("verdict") in VERDICT_WORDS else "r-other",
            "started_at": _when(run.get("started_at")),
        }
        for index, run in enumerate(history_runs)
    ]


def _summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """One sentence: how many findings, of which severity, and (with history) how many are new."""
    if not rows:
        return "No finding."
    by_severity: dict[str, int] = {}
    for row in rows:
        by_severity[row["severity"]] = by_severity.get(row["severity"], 0) + 1
    parts = [f"{n} {s}" for s, n in sorted(by_severity.items(), key=lambda item: _severity_rank(item[0]))]
    text = f"{len(rows)} finding{'s' if len(rows) != 1 else ''} ({', '.join(parts)})"
    statuses = [(s, sum(row["status"] == s for row in rows)) for s in HISTORY_STATUSES]
    known = [f"{n} {s}" for s, n in statuses if n]
    flapping = sum(row["flapping"] for row in rows)
    if known:
        text += ": " + ", ".join(known) + (f", {flapping} flapping" if flapping else "")
    seen_first = sorted(str(row["first_seen"]) for row in rows if row["first_seen"])  # ISO 8601 sorts as time
    if seen_first:
        text += f"; the oldest first seen {seen_first[0]}"
    return text + "."
