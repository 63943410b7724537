"""How a run ends, for the pytest plugin and `panic-contract audit` alike.

The reports are written, the final lines put in order (the verdict last), and the exit code picked.

An unwritable report fails a clean run (exit 4, with one line naming the path), but never masks what the
target did (10, 11, 12), drift (1) or an interruption (130): the verdict's own exit code stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from panic_contract.core import reports
from panic_contract.core.ledger import Ledger
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict


@dataclass(frozen=True)
class Ending:
    decision: Decision
    lines: tuple[str, ...]  # the caller's first lines, the findings, accepted and stale drift, the caller's notes
    errors: tuple[str, ...]  # one line per report that could not be written
    verdict_line: str
    exit_code: int

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
    head: Sequence[str] = (),
    notes: Sequence[str] = (),
    step_summary: str | None = None,
    sarif_path: str | Path | None = None,
) -> Ending:
    """Write the reports asked for (and append the Markdown to `step_summary`, GitHub's job summary, if
    given); the lines to print and the exit code. `head` goes before the findings, `notes` after them."""
    errors = reports.write_reports(ledger, decision, info, json_path, markdown_path, sarif_path=sarif_path)
    if step_summary:
        errors += filter(None, [reports.append_step_summary(step_summary, reports.as_markdown(ledger, decision, info))])
    *findings, verdict_line = reports.terminal_lines(ledger, decision, info)
    exit_code = EXIT_CODES[Verdict.USAGE] if errors and decision.exit_code == 0 else decision.exit_code
    return Ending(decision, (*head, *findings, *notes), tuple(errors), verdict_line, exit_code)
