"""Where runs are kept: one code path (SQLAlchemy Core) for an SQLite file and a shared PostgreSQL database.

A store is named by a `records.Location`; its password is never shown nor written. Every failure of a store
(locked, corrupt, unwritable, unreachable, a newer schema) is a `StoreError` whose message is one line; the
caller prints it and the run's verdict stands.

Writers at once lose nothing: a run is appended in one transaction, SQLite in WAL mode with a busy timeout,
PostgreSQL with its own row locks; the per-line summary is an upsert that adds, never overwrites.
Everything from a server is bound as a parameter, never put into SQL.
"""

from __future__ import annotations

import bisect
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, delete, event, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from panic_contract import redaction
from panic_contract.history import schema
from panic_contract.history.records import (
    DEFAULT_FOLDER,
    WINDOW,
    FindingRow,
    Location,
    Recollection,
    RunRow,
    Seen,
    StoreError,
)
from panic_contract.history.schema import finding_lines, findings, runs

BUSY_TIMEOUT_S = 10.0  # how long a writer waits for another's transaction (SQLite), or to connect (PostgreSQL)
# More first sightings than this in one line: the runs' start times are read once and counted here instead.
MAX_COUNT_QUERIES = 16
SCHEMA_LOCK = 0x70616E6963  # PostgreSQL: the advisory lock that one run at a time makes or migrates the schema under


class Store:
    """An open store (its schema made or migrated); use it in a `with` block, which closes its connections."""

    def __init__(self, where: Location) -> None:
        self.where = where
        self.engine = _engine(where)

    def __enter__(self) -> Store:
        try:
            self._ready()
        except BaseException:
            self.engine.dispose()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.engine.dispose()

    @contextmanager
    def _transaction(self, doing: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; `write`: one that takes the write lock at its start (SQLite's BEGIN IMMEDIATE, which
        waits out the busy timeout, where a read that turns into a write would fail at once)."""
        try:
            with self.engine.connect() as connection, connection.execution_options(panic_write=write).begin():
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"history store {self.where.shown}: cannot {doing}: {_reason(exc)}") from None

    def _ready(self) -> None:
        """The schema made, or migrated, by one run at a time (two first runs at once: one makes it)."""
        path = self.where.sqlite_path
        if path is not None:
            _make_folder(path)
        with self._transaction("read its schema", write=True) as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            found = schema.version_of(connection)
            if found is None:
                schema.create(connection)
            elif found < schema.SCHEMA_VERSION:
                schema.migrate(connection, found)
        if found is not None and found > schema.SCHEMA_VERSION:
            raise StoreError(
                f"history store {self.where.shown} has schema {found}, newer than this panic-contract reads "
                f"({schema.SCHEMA_VERSION}): upgrade panic-contract, or pass --history elsewhere"
            )

    def recall(self, command: str, target: str, before: float) -> Recollection:
        """What the store knows of the line (`command`, `target`) from runs started before `before`.

        A handful of indexed reads, whatever the length of the history: the line's summary, its last WINDOW
        checked runs, and one count per distinct first sighting.
        """
        line = (runs.c.command == command) & (runs.c.target == target) & (runs.c.started_at < before)
        checked = line & (runs.c.validated_bodies > 0)
        with self._transaction("read the runs before this one") as connection:
            counted = select(func.count(), func.max(runs.c.started_at)).where(line)
            count, previous_run = connection.execute(counted).one()
            newest = connection.execute(
                select(runs.c.id, runs.c.started_at, runs.c.verdict)
                .where(checked)
                .order_by(runs.c.started_at.desc())
                .limit(WINDOW)
            ).all()
            by_run: dict[int, set[str]] = {row.id: set() for row in newest}
            previous: list[FindingRow] = []
            if newest:
                rows = connection.execute(select(findings).where(findings.c.run_id.in_(list(by_run)))).mappings()
                for row in rows:
                    by_run[row["run_id"]].add(row["fingerprint"])
                    if row["run_id"] == newest[0].id:
                        previous.append(_finding_row(row))
            summary = select(finding_lines).where(
                (finding_lines.c.command == command) & (finding_lines.c.target == target)
            )
            seen = {
                r["fingerprint"]: Seen(r["first_seen"], r["last_seen"], r["runs_seen"])
                for r in connection.execute(summary).mappings()
            }
            counts = _counts_since(connection, checked, sorted({s.first_seen for s in seen.values()}))
        return Recollection(
            runs=int(count),
            previous_run=previous_run,
            window=tuple((row.started_at, frozenset(by_run[row.id])) for row in newest),
            previous=tuple(previous),
            seen=seen,
            checked_counts=counts,
            window_verdicts=tuple(str(row.verdict) for row in newest),
        )

    def append(self, run: RunRow, found: Sequence[FindingRow]) -> None:
        """Keep `run` and its findings, in one transaction; the line's summary adds them."""
        with self._transaction("append this run", write=True) as connection:
            run_id = connection.execute(runs.insert().values(**_row(run)).returning(runs.c.id)).scalar_one()
            if not found:
                return
            line = {"command": run.command, "target": run.target, "started_at": run.started_at}
            connection.execute(findings.insert(), [{"run_id": run_id, **line, **_row(f)} for f in found])
            upsert = _insert_of(self.engine.dialect.name)(finding_lines)
            upsert = upsert.on_conflict_do_update(
                index_elements=["command", "target", "fingerprint"],
                set_={
                    "first_seen": func.min(finding_lines.c.first_seen, upsert.excluded.first_seen)
                    if self.engine.dialect.name == "sqlite"
                    else func.least(finding_lines.c.first_seen, upsert.excluded.first_seen),
                    "last_seen": func.max(finding_lines.c.last_seen, upsert.excluded.last_seen)
                    if self.engine.dialect.name == "sqlite"
                    else func.greatest(finding_lines.c.last_seen, upsert.excluded.last_seen),
                    "runs_seen": finding_lines.c.runs_seen + 1,
                },
            )
            fingerprints = sorted({f.fingerprint for f in found})  # sorted: two writers lock rows in one order
            values = [
                {
                    "command": run.command,
                    "target": run.target,
                    "fingerprint": fp,
                    "first_seen": run.started_at,
                    "last_seen": run.started_at,
                    "runs_seen": 1,
                }
                for fp in fingerprints
            ]
            connection.execute(upsert, values)

    # --- `panic-contract history` ---------------------------------------------------------------------

    def runs(self, since: float | None = None, target: str | None = None) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.started_at, runs.c.id)
        query = _filtered(query, runs, since, target)
        with self._transaction("read its runs") as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def timeline(
        self, since: float | None = None, target: str | None = None, *, newest: int = 365
    ) -> list[dict[str, Any]]:
        """The newest `newest` runs (oldest first) with the fingerprints each showed: what a timeline draws."""
        chosen = _filtered(select(runs.c.id, runs.c.started_at, runs.c.verdict), runs, since, target)
        chosen = chosen.order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(newest)
        with self._transaction("read its runs") as connection:
            rows = list(connection.execute(chosen))
            seen: dict[int, set[str]] = {row.id: set() for row in rows}
            if seen:
                query = select(findings.c.run_id, findings.c.fingerprint).where(findings.c.run_id.in_(list(seen)))
                for run_id, fp in connection.execute(query):
                    seen[run_id].add(fp)
        return [
            {"started_at": row.started_at, "verdict": str(row.verdict), "seen_fingerprints": sorted(seen[row.id])}
            for row in reversed(rows)
        ]

    def finding_history(self, since: float | None = None, target: str | None = None) -> list[dict[str, Any]]:
        """One row per line and fingerprint: first and last seen, runs seen, runs checked since first seen, and
        whether the newest run of its line that validated bodies still showed it (`open`).

        The whole history reads the per-line summary; `since` counts the findings kept since then.
        """
        if since is None:
            grouped = select(finding_lines)
            if target is not None:
                grouped = grouped.where(finding_lines.c.target == target)
        else:
            grouped = _filtered(
                select(
                    findings.c.command,
                    findings.c.target,
                    findings.c.fingerprint,
                    func.min(findings.c.started_at).label("first_seen"),
                    func.max(findings.c.started_at).label("last_seen"),
                    func.count(func.distinct(findings.c.run_id)).label("runs_seen"),
                ).group_by(findings.c.command, findings.c.target, findings.c.fingerprint),
                findings,
                since,
                target,
            )
        checked = _filtered(
            select(runs.c.command, runs.c.target, runs.c.started_at).where(runs.c.validated_bodies > 0),
            runs,
            since,
            target,
        ).order_by(runs.c.started_at)
        # each fingerprint as it was last seen: its finding of that moment (an index lookup each)
        described = (
            select(findings.c.kind, findings.c.field, findings.c.expected, findings.c.severity, findings.c.message)
            .where(
                (findings.c.command == bindparam("command"))
                & (findings.c.target == bindparam("target"))
                & (findings.c.fingerprint == bindparam("fingerprint"))
                & (findings.c.started_at == bindparam("last_seen"))
            )
            .limit(1)
        )
        with self._transaction("read its findings") as connection:
            groups = [dict(row) for row in connection.execute(grouped).mappings()]
            times: dict[tuple[str, str], list[float]] = {}
            for row in connection.execute(checked):
                times.setdefault((row.command, row.target), []).append(row.started_at)
            for group in groups:
                key = {name: group[name] for name in ("command", "target", "fingerprint", "last_seen")}
                group.update(connection.execute(described, key).mappings().one())
        for group in groups:
            line_times = times.get((group["command"], group["target"]), [])
            checked_since = len(line_times) - bisect.bisect_left(line_times, group["first_seen"])
            group["runs_checked"] = max(checked_since, group["runs_seen"])
            group["open"] = bool(line_times) and group["last_seen"] >= line_times[-1]
        return groups

    def summary(self, since: float | None = None, target: str | None = None) -> tuple[int, float | None, float | None]:
        """How many runs, the first and the last start."""
        query = _filtered(
            select(func.count(), func.min(runs.c.started_at), func.max(runs.c.started_at)), runs, since, target
        )
        with self._transaction("read its runs") as connection:
            count, first, last = connection.execute(query).one()
        return int(count), first, last

    def prune(self, keep: int | None = None, older_than: float | None = None) -> int:
        """Delete runs started before `older_than`, and all but the newest `keep` runs of each line; how many."""
        with self._transaction("prune", write=True) as connection:
            doomed: set[int] = set()
            if older_than is not None:
                doomed |= set(connection.execute(select(runs.c.id).where(runs.c.started_at < older_than)).scalars())
            if keep is not None:
                ranked = select(
                    runs.c.id,
                    func.row_number()
                    .over(partition_by=(runs.c.command, runs.c.target), order_by=runs.c.started_at.desc())
                    .label("rank"),
                ).subquery()
                doomed |= set(connection.execute(select(ranked.c.id).where(ranked.c.rank > keep)).scalars())
            ids = sorted(doomed)
            for start in range(0, len(ids), 500):  # bound the parameters of one statement
                chunk = ids[start : start + 500]
                connection.execute(delete(findings).where(findings.c.run_id.in_(chunk)))
                connection.execute(delete(runs).where(runs.c.id.in_(chunk)))
            if ids:
                schema.rebuild_lines(connection)
            return len(ids)


def _counts_since(connection: Connection, checked: Any, moments: list[float]) -> dict[float, int]:
    """For each moment, how many of the runs `checked` selects started then or after."""
    if not moments:
        return {}
    if len(moments) > MAX_COUNT_QUERIES:
        times = list(connection.execute(select(runs.c.started_at).where(checked).order_by(runs.c.started_at)).scalars())
        return {moment: len(times) - bisect.bisect_left(times, moment) for moment in moments}
    query = select(func.count()).where(checked & (runs.c.started_at >= bindparam("moment")))
    return {moment: int(connection.execute(query, {"moment": moment}).scalar_one()) for moment in moments}


def _filtered(query: Any, table: Any, since: float | None, target: str | None) -> Any:
    if since is not None:
        query = query.where(table.c.started_at >= since)
    if target is not None:
        query = query.where(table.c.target == target)
    return query


def _row(item: RunRow | FindingRow) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__dataclass_fields__}


def _finding_row(row: Any) -> FindingRow:  # a RowMapping
    return FindingRow(**{name: row[name] for name in FindingRow.__dataclass_fields__})


def _engine(where: Location) -> Engine:
    if where.sqlite_path is not None:
        # One connection for the store's few transactions (kept by the pool, closed by `dispose`): a connection
        # costs more than the reads a run's end makes, on PostgreSQL above all (TCP, authentication).
        url = URL.create("sqlite+pysqlite", database=str(where.sqlite_path))
        engine = create_engine(url, pool_size=1, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            # WAL: readers never block the one writer; the busy timeout makes a second writer wait its turn.
            # SQLAlchemy begins the transactions, not pysqlite (which begins none before DDL: two first runs
            # would each make the tables): https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#pysqlite-serializable
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            _into_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            write = connection.get_execution_options().get("panic_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return create_engine(
        make_url(where.url), pool_size=1, connect_args={"connect_timeout": max(1, int(BUSY_TIMEOUT_S))}
    )


def _into_wal(cursor: Any) -> None:
    """WAL mode, kept in the file once set. Setting it takes a lock that SQLite's busy timeout does not wait
    for: two first runs at once, one of them retries for as long as the busy timeout."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
        else:
            return


def _make_folder(path: Path) -> None:
    """The SQLite file's folder, made if missing; the default one carries a `.gitignore` of its own."""
    folder = path.parent
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            if folder.name == DEFAULT_FOLDER:
                (folder / ".gitignore").write_text("# panic-contract's run history: not for the repository\n*\n")
    except OSError as exc:
        raise StoreError(
            f"history store {path}: cannot make its folder {folder}: {exc.strerror or type(exc).__name__}"
        ) from None


def _reason(exc: SQLAlchemyError) -> str:
    """The database's own first line, masked: a server's message may quote what it was sent."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return redaction.redact(first)[:300]


def _insert_of(dialect: str) -> Any:
    """The dialect's INSERT ... ON CONFLICT, imported when a run is kept: a SQLite store need not pay for
    importing PostgreSQL's dialect (a sixth of the audit's start-up)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert
