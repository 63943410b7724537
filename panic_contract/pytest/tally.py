"""The current test's findings: a suite test records every finding it meets, and fails once, at its end.

The plugin begins a tally before each suite test and asks it for `failing_lines` after; one finding
never hides the next, and a finding seen ten times is one line with its count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from panic_contract.core.findings import Finding
from panic_contract.core.ledger import LedgerEntry, LedgerKey
from panic_contract.outputs import terminal_line


@dataclass
class TestTally:
    """The findings of the test that is running, by the ledger entry each went to."""

    __test__ = False  # not a test class, whatever its name
    _seen: dict[LedgerKey, tuple[Finding, int, LedgerEntry]] = field(default_factory=dict)

    def begin(self) -> None:
        self._seen = {}

    def note(self, findings: Sequence[Finding], entries: Sequence[LedgerEntry]) -> None:
        for finding, entry in zip(findings, entries, strict=True):
            first, count, _ = self._seen.get(entry.key, (finding, 0, entry))
            self._seen[entry.key] = (first, count + 1, entry)

    def failing_lines(self, *, strict_drift: bool, tag: Callable[[LedgerEntry], str | None] | None = None) -> list[str]:
        """The test's distinct failing findings, one line each with its count; the tally starts afresh.

        Whether a finding fails is the ledger's classification of it (`LedgerEntry.counts`), the one the
        verdict reads: a test never fails on accepted drift, nor passes over drift the verdict counts.
        """
        lines = []
        for finding, count, entry in self._seen.values():
            if not entry.counts(strict_drift):
                continue
            expired = f" (accepted drift expired: {entry.accepted_by})" if entry.acceptance == "expired" else ""
            history = f" [history: {said}]" if tag is not None and (said := tag(entry)) else ""
            lines.append(f"{finding.message()} (x{count}){expired}{history}")
        self._seen = {}
        return [terminal_line(line) for line in lines]  # one line each: a field name cannot start another
