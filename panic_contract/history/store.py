"""Where runs are kept: one code path (SQLAlchemy Core) for an SQLite file and a shared PostgreSQL database.

A store is named by a path (SQLite), `sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST/DB`. Its password is
registered with `redaction` the moment it is read and never shown (`Location.shown` masks it) nor written.
Every failure of a store (locked, corrupt, unwritable, unreachable, a newer schema) is a `StoreError` whose
message is one line; the caller prints it and the run's verdict stands.

Writers at once lose nothing: a run is appended in one transaction, SQLite in WAL mode with a busy timeout,
PostgreSQL with its own row locks; the per-line summary is an upsert that adds, never overwrites.
Everything from a server is bound as a parameter, never put into SQL.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, delete, event, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from panic_contract import redaction
from panic_contract.history import schema
from panic_contract.history.schema import finding_lines, findings, runs

DEFAULT_FOLDER = ".panic-contract"
DEFAULT_FILE = "history.sqlite"
BUSY_TIMEOUT_S = 10.0  # how long a writer waits for another's transaction (SQLite), or to connect (PostgreSQL)
WINDOW = 10  # the last runs a finding's flapping is judged over
SCHEMES = ("sqlite", "postgresql")


class StoreError(Exception):
    """A store that cannot be used; the message is one line, with no password in it."""


@dataclass(frozen=True)
class Location:
    """A store's URL for SQLAlchemy, and how it is shown (password masked)."""

    url: URL
    shown: str

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.url.database) if self.url.get_backend_name() == "sqlite" and self.url.database else None


def location(given: str, base: Path | None = None) -> Location:
    """A store from `--history`: a plain path (relative to `base`) is an SQLite file. ValueError says what is
    allowed, without echoing a password."""
    if "://" not in given:
        path = Path(given).expanduser()
        path = path if path.is_absolute() or base is None else base / path
        return _sqlite(path)
    try:
        url = make_url(given)
    except ArgumentError:
        raise ValueError(_ALLOWED) from None
    if url.password:
        redaction.register(str(url.password))
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError(f"sqlite:/// needs a file; {_ALLOWED}")
        return _sqlite(Path(url.database))
    if backend != "postgresql":
        raise ValueError(_ALLOWED)
    url = url.set(drivername="postgresql+psycopg")  # psycopg 3, whatever driver was named
    shown = url.set(drivername="postgresql").render_as_string(hide_password=True)
    return Location(url, shown)


_ALLOWED = "give a file path (SQLite), sqlite:///PATH or postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"


def _sqlite(path: Path) -> Location:
    return Location(URL.create("sqlite+pysqlite", database=str(path)), str(path))


def default_location(root: Path) -> Location:
    return _sqlite(root / DEFAULT_FOLDER / DEFAULT_FILE)


# --- what a run hands the store, and what it reads back ---------------------------------------------


@dataclass(frozen=True)
class RunRow:
    command: str
    target: str
    target_name: str
    started_at: float
    ended_at: float
    spec_digest: str
    tool_version: str
    verdict: str
    exit_code: int
    reason: str
    requests: int
    validated_bodies: int


@dataclass(frozen=True)
class FindingRow:
    fingerprint: str
    kind: str
    field: str | None
    expected: str
    severity: str
    message: str
    request: str
    count: int
    rate: float | None
    accepted: bool


@dataclass(frozen=True)
class Seen:
    """One fingerprint on one line: when first and last seen, in how many runs."""

    first_seen: float
    last_seen: float
    runs_seen: int


@dataclass(frozen=True)
class Recollection:
    """What a store knows of one line before a run: enough to say of each finding new, persisting or returned."""

    runs: int  # runs of the line before this one
    previous_run: float | None  # when the last of them started
    window: tuple[tuple[float, frozenset[str]], ...]  # the last WINDOW runs that validated bodies: start, findings
    previous: tuple[FindingRow, ...]  # the findings of the newest of those, as they were
    seen: Mapping[str, Seen] = field(default_factory=dict)
    checked_counts: Mapping[float, int] = field(default_factory=dict)  # first_seen -> runs checked since

    @property
    def previous_at(self) -> float | None:
        return self.window[0][0] if self.window else None

    def checked_since(self, moment: float) -> int:
        """Earlier runs that validated bodies, started at `moment` or after."""
        return self.checked_counts.get(moment, 0)


# More first sightings than this in one line: the runs' start times are read once and counted here instead.
MAX_COUNT_QUERIES = 16


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
    def _transaction(self, doing: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"history store {self.where.shown}: cannot {doing}: {_reason(exc)}") from None

    def _ready(self) -> None:
        path = self.where.sqlite_path
        if path is not None:
            _make_folder(path)
        for attempt in range(3):  # two first runs at once: one creates the tables, the other finds them
            try:
                with self._transaction("read its schema") as connection:
                    found = schema.version_of(connection)
                    if found is None:
                        schema.create(connection)
                    elif found < schema.SCHEMA_VERSION:
                        schema.migrate(connection, found)
            except StoreError:
                if attempt == 2 or not self._has_tables_now():
                    raise
                time.sleep(0.05 * (attempt + 1))
            else:
                break
        if found is not None and found > schema.SCHEMA_VERSION:
            raise StoreError(
                f"history store {self.where.shown} has schema {found}, newer than this panic-contract reads "
                f"({schema.SCHEMA_VERSION}): upgrade panic-contract, or pass --history elsewhere"
            )

    def _has_tables_now(self) -> bool:
        try:
            with self.engine.connect() as connection:
                return schema.version_of(connection) is not None
        except SQLAlchemyError:
            return False

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
                select(runs.c.id, runs.c.started_at).where(checked).order_by(runs.c.started_at.desc()).limit(WINDOW)
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
        )

    def append(self, run: RunRow, found: Sequence[FindingRow]) -> None:
        """Keep `run` and its findings, in one transaction; the line's summary adds them."""
        with self._transaction("append this run") as connection:
            run_id = connection.execute(runs.insert().values(**_row(run)).returning(runs.c.id)).scalar_one()
            if not found:
                return
            line = {"command": run.command, "target": run.target, "started_at": run.started_at}
            connection.execute(findings.insert(), [{"run_id": run_id, **line, **_row(f)} for f in found])
            upsert = (pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert)(finding_lines)
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
        with self._transaction("prune") as connection:
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
    if where.url.get_backend_name() == "sqlite":
        # One connection for the store's few transactions (kept by the pool, closed by `dispose`): a connection
        # costs more than the reads a run's end makes, on PostgreSQL above all (TCP, authentication).
        engine = create_engine(where.url, pool_size=1, connect_args={"timeout": BUSY_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            # WAL: readers never block the one writer; the busy timeout makes a second writer wait its turn.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(where.url, pool_size=1, connect_args={"connect_timeout": max(1, int(BUSY_TIMEOUT_S))})


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
