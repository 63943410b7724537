"""How a run ends, for the pytest plugin and `panic-contract audit` alike.

The reports are written, the final lines put in order (the verdict last), and the exit code picked.

An unwritable report fails a clean run (exit 4, with one line naming the path), but never masks what the
target did (10, 11, 12), drift (1) or an interruption (130): the verdict's own exit code stands.

The run is compared with its history and kept there (`past.keep`) before the reports are written, so each
report says which findings are new. A history store that cannot be used is one line among the notes and
changes nothing else: not the verdict, not the exit code (a clean run stays 0), not the reports.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from panic_contract.core import html_report, reports
from panic_contract.core import past as history
from panic_contract.core.ledger import Ledger
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict
from panic_contract.history.records import Recollection


@dataclass(frozen=True)
class Ending:
    decision: Decision
    lines: tuple[str, ...]  # the caller's first lines, the findings, accepted and stale drift, the caller's notes
    errors: tuple[str, ...]  # one line per report that could not be written
    verdict_line: str
    exit_code: int
    past: history.Past = history.OFF  # the run against its history (statuses, fixed, the store's one line)

    def ordered(self) -> list[str]:
        """Every final line, in the order they are printed: the verdict last."""
        return [*self.lines, *self.errors, self.verdict_line]


def end_run(
    ledger: Ledger,
    decision: Decision,
    info: reports.RunInfo,
    json_path: str | Path | None,
    markdown_path: str | Path | None,
    *,
    html_path: str | Path | None = None,
    history_runs: Sequence[html_report.HistoryRun] = (),
    head: Sequence[str] = (),
    notes: Sequence[str] = (),
    step_summary: str | None = None,
    keeping: history.Keeping | None = None,
    recollection: Recollection | None = None,
    sarif_path: str | Path | None = None,
) -> Ending:
    """Keep the run in its history (`keeping`; `recollection`: that history as read when the run started), write
    the reports asked for (and append the Markdown to `step_summary`, GitHub's job summary, if given); the lines
    to print and the exit code. `head` goes before the findings, `notes` after them. The HTML page (`html_path`)
    is drawn from the JSON report's dict, with a timeline per finding over `history_runs` (default: the runs
    the history recalls, and this one)."""
    past = history.OFF
    if keeping is not None:
        facts = history.RunFacts(info.target, info.base_url, info.spec_path, info.started_at)
        past = history.keep(keeping, ledger, decision, facts, recollection)
    report = functools.cache(lambda: reports.as_json(ledger, decision, info, past))  # the JSON and the HTML's
    errors = reports.write_reports(
        ledger, decision, info, json_path, markdown_path, past=past, sarif_path=sarif_path, report=report
    )
    if html_path:
        runs = history_runs or [
            html_report.HistoryRun(started_at=run["started_at"], verdict=run["verdict"],
                                   seen_fingerprints=run["seen_fingerprints"])
            for run in past.timeline
        ]  # fmt: skip
        errors += html_report.write(html_path, report(), runs)
    if step_summary:
        summary = reports.as_markdown(ledger, decision, info, past)
        errors += filter(None, [reports.append_step_summary(step_summary, summary)])
    *findings, verdict_line = reports.terminal_lines(ledger, decision, info, past)
    exit_code = EXIT_CODES[Verdict.USAGE] if errors and decision.exit_code == 0 else decision.exit_code
    kept = [past.note] if past.note else []  # never an error: a store's trouble leaves the exit code alone
    return Ending(decision, (*head, *findings, *notes, *kept), tuple(errors), verdict_line, exit_code, past)
