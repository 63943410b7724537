"""The benchmark's history part: a year of hourly runs in a store, then what `history` and a run's end cost.

A store (SQLite, and PostgreSQL when its server binaries are here) is filled with `RUNS` runs an hour apart,
each with `FINDINGS` findings (bulk inserts, then the per-line summary built as a migration builds it). Then,
median of `reps`: `panic-contract history` (table and JSON, in this process, and the whole command as a user
starts it, imports included), and what keeping one more run adds to a run's end (`past.keep`: read the
history, compare, append) for a ledger of `FINDINGS` findings.
"""

from __future__ import annotations

import contextlib
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS, FINDINGS = 9_000, 20


def _ledger() -> Any:
    from panic_contract.core.findings import Finding, Inspection, Kind
    from panic_contract.core.ledger import Ledger

    ledger = Ledger()
    found = tuple(
        Finding(Kind.TYPE_CHANGED, f"$.field{i}", "integer", 'string "x"', "GET /panic-api/v2/callouts/992011")
        for i in range(FINDINGS)
    )
    for _ in range(50):
        ledger.add(Inspection(findings=found, validated_body=True))
    return ledger


def fill(url: str) -> str:
    """A store at `url` with a year of hourly runs of one target, each with the ledger's findings."""
    from sqlalchemy import insert, select

    from panic_contract.core.past import _finding_rows
    from panic_contract.history import schema
    from panic_contract.history.records import location
    from panic_contract.history.store import Store

    where = location(url)
    rows = list(_finding_rows(_ledger()))
    start = datetime.now(UTC).timestamp() - RUNS * 3600 - 3600
    with Store(where) as store, store.engine.begin() as connection:
        runs = [
            {
                "command": "suite", "target": "api.example.com", "target_name": "custom",
                "started_at": start + i * 3600, "ended_at": start + i * 3600 + 60, "spec_digest": "d",
                "tool_version": "0.1.0", "verdict": "drift", "exit_code": 1, "reason": "r", "requests": 400,
                "validated_bodies": 50,
            }
            for i in range(RUNS)
        ]  # fmt: skip
        connection.execute(insert(schema.runs), runs)
        ids = connection.execute(select(schema.runs.c.id).order_by(schema.runs.c.started_at)).scalars().all()
        for run, run_id in zip(runs, ids, strict=True):
            run["id"] = run_id
        findings = [
            {"run_id": run["id"], "command": "suite", "target": "api.example.com", "started_at": run["started_at"],
             **{name: getattr(row, name) for name in row.__dataclass_fields__}}
            for run in runs
            for row in rows
        ]  # fmt: skip
        for at in range(0, len(findings), 20_000):
            connection.execute(insert(schema.findings), findings[at : at + 20_000])
        schema.rebuild_lines(connection)
    return url


def _median(action: Callable[[], object], reps: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process's, and its children's) of `action`."""
    walls, cpus = [], []
    for _ in range(reps):
        started, cpu = time.perf_counter(), _cpu()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _ms(measured: tuple[float, float]) -> str:
    wall, cpu = measured
    return f"{wall * 1e3:,.1f} ms ({cpu * 1e3:,.1f} CPU)"


def _history(url: str, *extra: str) -> None:
    from panic_contract.commands import cli

    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["history", "--history", url, *extra]) == 0


def _keep_one(url: str, ledger: Any) -> None:
    from panic_contract.core.contract import SPEC_PATH
    from panic_contract.core.past import Keeping, RunFacts, keep
    from panic_contract.core.verdict import Decision, Verdict
    from panic_contract.history.records import location

    facts = RunFacts("custom", "https://api.example.com", SPEC_PATH, datetime.now(UTC))
    past = keep(Keeping(location(url), "suite"), ledger, Decision(Verdict.DRIFT, "r"), facts)
    assert past.note is None, past.note
    assert all(a.status == "persisting" for a in past.annotations.values())


@contextlib.contextmanager
def stores(scratch: Path) -> Iterator[list[tuple[str, str]]]:
    found = [("SQLite", str(scratch / "history.sqlite"))]
    sys.path.insert(0, str(REPO))
    from tests.self import postgres

    if postgres.binaries() is None:
        yield found
        return
    folder = Path(tempfile.mkdtemp(prefix="panic-bench-postgres-"))
    try:
        found.append(("PostgreSQL", postgres.start(folder)))
        yield found
    finally:
        postgres.stop(folder)


def bench_history(table: list[list[str]], reps: int = 5) -> None:
    with tempfile.TemporaryDirectory(prefix="panic-bench-history-") as scratch, stores(Path(scratch)) as kinds:
        ledger = _ledger()
        for name, url in kinds:
            _bench_store(f"{name}, {RUNS:,} runs x {FINDINGS} findings", url, ledger, table, reps)


def _bench_store(label: str, url: str, ledger: Any, table: list[list[str]], reps: int) -> None:
    started = time.perf_counter()
    fill(url)
    table.append([f"{label}: filled", f"{time.perf_counter() - started:.1f} s", "", "bulk insert"])
    table.append([f"{label}: history (table)", _ms(_median(lambda: _history(url), reps)), f"median of {reps}",
                  "in-process"])  # fmt: skip
    table.append([f"{label}: history --format json", _ms(_median(lambda: _history(url, "--format", "json"), reps)),
                  f"median of {reps}", "in-process"])  # fmt: skip
    script = str(Path(sys.executable).parent / "panic-contract")
    command = [script, "history", "--history", url]
    table.append([f"{label}: panic-contract history",
                  _ms(_median(lambda: subprocess.run(command, check=True, capture_output=True), reps)),
                  f"median of {reps}", "a process, imports and all"])  # fmt: skip
    table.append(["  beside it: panic-contract --version",
                  _ms(_median(lambda: subprocess.run([script, "--version"], check=True, capture_output=True), reps)),
                  f"median of {reps}", "the command's start-up alone"])  # fmt: skip
    table.append([f"{label}: a run's end (past.keep)", _ms(_median(lambda: _keep_one(url, ledger), reps * 4)),
                  f"median of {reps * 4}", "read, compare, append"])  # fmt: skip
