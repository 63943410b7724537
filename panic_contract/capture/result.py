"""What a pass over captures takes and gives: its read options, its result, and the ways it stops early.

Shared by the readers (`jsonl`, `har`, `reading`), the split over workers (`splitting`) and the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from panic_contract.core.accepted import Acceptance
from panic_contract.core.contract import Contract
from panic_contract.core.coverage import Coverage
from panic_contract.core.ledger import Ledger
from panic_contract.errors import UsageError
from panic_contract.redaction import register

DEFAULT_MAX_BODY_SIZE = 4 << 20  # settings' --max-body-size default
READ_BUFFER = 1 << 20  # large binary reads: line iteration and ijson both go faster with them
PROGRESS_MASK = (1 << 14) - 1  # redraw every 16384 entries: a bitwise test costs nothing per line
# A capture's own credentials are registered as secrets (masked in every output), at most this many distinct
# values: a capture full of session cookies must not make every later redaction slow. Beyond it a value is
# still masked in its own exchange, where an echo of it shows.
MAX_CAPTURE_SECRETS = 64
MAX_HOSTS_NAMED = 20  # other hosts counted by name; the rest together
MORE_HOSTS = "other hosts"

Format = Literal["har", "jsonl"]
Progress = Callable[[int, int], None]  # (bytes read so far, entries so far)


class AuditInputError(UsageError):
    """The capture cannot be read; the message is one line naming the position and the fix."""


class AuditInterruptedError(Exception):
    """Ctrl-C or SIGTERM stopped the audit; `partial` holds what was judged until then."""

    def __init__(self, partial: AuditResult, how: str) -> None:
        super().__init__(how)
        self.partial, self.how = partial, how


@dataclass(frozen=True)
class ReadOptions:
    """How captures are read: the largest record, and the servers (besides the documented ones) judged."""

    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    servers: tuple[str, ...] = ()  # roots, scheme://host[:port]
    # every ledger (this process's, each worker's) classifies findings against it as it folds them in
    acceptance: Acceptance | None = None
    part_bytes: int | None = None  # the smallest part a file is cut into (None: MIN_PART_BYTES)
    reads: tuple[str, ...] | None = None  # the fields the integration reads (--reads): how each ledger weighs drift
    coverage: bool = False  # --coverage: every ledger counts what the exchanges exercised too

    def ledger(self, contract: Contract) -> Ledger:
        """A ledger for one pass (this process's, or a worker's part), as these options ask for."""
        return Ledger(self.acceptance, self.reads, coverage=Coverage.of(contract) if self.coverage else None)


@dataclass
class AuditResult:
    """What one pass over a capture found: the ledger, and how many entries it did not judge."""

    format: Format
    ledger: Ledger = field(default_factory=Ledger)
    entries: int = 0  # every exchange in the file
    skipped: int = 0  # exchanges of other operations
    unanswered: int = 0  # HAR entries the browser never got a response for (status 0)
    formats: list[Format] = field(default_factory=list)  # of each file, when several are audited together
    base_url: str | None = None  # scheme://host[:port] of the first audited exchange, when the capture says
    other_hosts: dict[str, int] = field(default_factory=dict)  # exchanges of the operation with other hosts
    unsaved: int = 0  # exchanges whose body the capture did not keep: judged without it
    no_credential: int = 0  # exchanges that showed no Authorization header: auth not judged
    secrets: set[str] = field(default_factory=set)  # the capture's credentials, registered (at most a few)

    @property
    def audited(self) -> int:
        return self.ledger.requests

    def summary(self) -> str:
        text = f"{self.audited:,} of {self.entries:,} exchanges audited, {self.skipped:,} of other operations skipped"
        if self.other_hosts:
            named = sorted(self.other_hosts.items(), key=lambda item: (item[0] == MORE_HOSTS, -item[1], item[0]))
            hosts = ", ".join(f"{host}: {count:,}" for host, count in named[:3])
            hosts += ", ..." if len(named) > 3 else ""
            total = sum(self.other_hosts.values())
            text += f", {total:,} on other hosts skipped ({hosts}; judge a host with --server URL)"
        if self.unanswered:
            text += f", {self.unanswered:,} without a response (status 0) skipped"
        if self.unsaved:
            one = self.unsaved == 1
            text += f"; {self.unsaved:,} exchange{'' if one else 's'} without a saved body: "
            text += "its body was not judged" if one else "their bodies were not judged"
        if self.no_credential:
            one = self.no_credential == 1
            text += f"; auth not judged: {self.no_credential:,} exchange{'' if one else 's'} carried no credential"
        return text

    def note_host(self, host: str, times: int = 1) -> None:
        """Count exchanges of the operation with a host that is not this API's (by name, for the first few)."""
        if host not in self.other_hosts and len(self.other_hosts) >= MAX_HOSTS_NAMED:
            host = MORE_HOSTS
        self.other_hosts[host] = self.other_hosts.get(host, 0) + times

    def keep_secrets(self, values: Iterable[str]) -> None:
        """Register the capture's own credentials, so every output masks them; at most MAX_CAPTURE_SECRETS."""
        for value in values:
            if value not in self.secrets and len(self.secrets) < MAX_CAPTURE_SECRETS:
                self.secrets.add(value)
                register(value)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, see `Terminated`) while one file was read: `partial` is what it judged so far."""

    def __init__(self, how: str, partial: AuditResult | None) -> None:
        super().__init__(how)
        self.how, self.partial = how, partial


class Terminated(KeyboardInterrupt):
    """Raised in the main process by its SIGTERM handler (see `splitting`): stopped like Ctrl-C, and said so."""


def how_stopped(stop: KeyboardInterrupt) -> str:
    """What stopped the audit, as its verdict names it: Ctrl-C or SIGTERM."""
    return stop.how if isinstance(stop, Interrupted) else "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"
