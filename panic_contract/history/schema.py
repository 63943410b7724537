"""The history store's tables (SQLAlchemy Core, one layout for SQLite and PostgreSQL) and their migrations.

Times are seconds since the epoch (UTC) as doubles: one type that orders and compares alike in both
databases (`to_timestamp(started_at)` reads one in PostgreSQL). A run belongs to a line, its command (`suite`,
`record`, `audit`) and its target host: what a run is compared with is the earlier runs of its line.
`finding_lines` keeps, per line and fingerprint, when a finding was first and last seen and in how many runs,
so a run's end reads a few rows, not a year of findings.

Schema versions, in `meta` under `schema_version`:
1. runs and findings;
2. adds `findings.rate` (count over the responses it could have shown on) and `finding_lines`, built from
   the findings already kept.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    text,
)

SCHEMA_VERSION = 2

metadata = MetaData()

meta = Table(
    "panic_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

runs = Table(
    "panic_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", String(16), nullable=False),  # suite, record, audit
    Column("target", String(512), nullable=False),  # the host checked (`mock` for the embedded mock)
    Column("target_name", String(32), nullable=False),  # mock, staging, custom, audit
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=False),
    Column("spec_digest", String(64), nullable=False),
    Column("tool_version", String(64), nullable=False),
    Column("verdict", String(32), nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("validated_bodies", Integer, nullable=False),
    Index("ix_panic_runs_line", "command", "target", "started_at", "validated_bodies"),  # covers the counts
    Index("ix_panic_runs_started", "started_at"),
)

findings = Table(
    "panic_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("panic_runs.id", ondelete="CASCADE"), nullable=False),
    Column("command", String(16), nullable=False),  # the run's line and start, kept here too: indexed reads
    Column("target", String(512), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("field", Text),
    Column("expected", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("rate", Float),  # schema 2
    Column("accepted", Boolean, nullable=False),
    Index("ix_panic_findings_run", "run_id"),
    Index("ix_panic_findings_line", "command", "target", "fingerprint", "started_at"),  # schema 2
)

finding_lines = Table(  # schema 2
    "panic_finding_lines",
    metadata,
    Column("command", String(16), primary_key=True),
    Column("target", String(512), primary_key=True),
    Column("fingerprint", String(32), primary_key=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("runs_seen", Integer, nullable=False),
)

PANIC_TABLES = (meta.name, runs.name, findings.name, finding_lines.name)


def version_of(connection: Connection) -> int | None:
    """The schema version a store holds; None for a database without our tables."""
    if not inspect(connection).has_table(meta.name):
        return None
    found = connection.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return int(found) if found is not None else None


def create(connection: Connection) -> None:
    """Our tables, in a database that has none of them."""
    metadata.create_all(connection)
    connection.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))


def rebuild_lines(connection: Connection, where: object = None) -> None:
    """`finding_lines` again from the findings kept (after a migration, or a prune), for every line or those
    matched by `where` (a clause on findings' command and target)."""
    delete = finding_lines.delete()
    source = select(
        findings.c.command,
        findings.c.target,
        findings.c.fingerprint,
        func.min(findings.c.started_at),
        func.max(findings.c.started_at),
        func.count(func.distinct(findings.c.run_id)),
    ).group_by(findings.c.command, findings.c.target, findings.c.fingerprint)
    if where is not None:
        delete = delete.where(where)  # type: ignore[arg-type]
        source = source.where(where)  # type: ignore[arg-type]
    connection.execute(delete)
    columns = ["command", "target", "fingerprint", "first_seen", "last_seen", "runs_seen"]
    connection.execute(finding_lines.insert().from_select(columns, source))


def _from_1(connection: Connection) -> None:
    connection.execute(text(f"ALTER TABLE {findings.name} ADD COLUMN rate FLOAT"))
    finding_lines.create(connection)
    for table in (runs, findings):
        present = {index["name"] for index in inspect(connection).get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in present:
                index.create(connection)
    rebuild_lines(connection)


MIGRATIONS = {1: _from_1}  # from version N to N + 1


def migrate(connection: Connection, found: int) -> None:
    """Bring a store of an older schema to this one, step by step, keeping every row."""
    for version in range(found, SCHEMA_VERSION):
        MIGRATIONS[version](connection)
    connection.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION)))
