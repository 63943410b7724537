"""What a run hands the history store and what it reads back: plain rows, and where the store is.

Nothing here needs a database library, so naming a store (`--history`) costs no import of SQLAlchemy; the
store itself (`store.py`) is imported only when a run is kept or read. A store is named by a path (SQLite),
`sqlite:///PATH` or `postgresql://USER:PASSWORD@HOST/DB`; its password is registered with `redaction` the moment
it is read and never shown (`Location.shown` masks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from panic_contract import redaction

DEFAULT_FOLDER = ".panic-contract"
DEFAULT_FILE = "history.sqlite"
WINDOW = 10  # the last runs a finding's flapping is judged over


class StoreError(Exception):
    """A store that cannot be used; the message is one line, with no password in it."""


@dataclass(frozen=True)
class Location:
    """A store: its URL for SQLAlchemy (psycopg 3 for PostgreSQL), and how it is shown (password masked)."""

    url: str
    shown: str
    sqlite_path: Path | None = None


def location(given: str, base: Path | None = None) -> Location:
    """A store from `--history`: a plain path (relative to `base`) is an SQLite file. ValueError says what is
    allowed, without echoing a password."""
    if "://" not in given:
        path = Path(given).expanduser()
        return _sqlite(path if path.is_absolute() or base is None else base / path)
    parts = urlsplit(given)
    scheme = parts.scheme.lower().split("+")[0]
    if scheme == "sqlite":
        database = given.split("://", 1)[1].removeprefix("/")  # sqlite:///relative, sqlite:////absolute
        if not database or database == ":memory:":
            raise ValueError(f"sqlite:/// needs a file; {_ALLOWED}")
        return _sqlite(Path(unquote(database)))
    if scheme not in {"postgresql", "postgres"} or not parts.hostname:
        raise ValueError(_ALLOWED)
    parts.port  # noqa: B018 - a port that is not a number raises ValueError here, not at the first connection
    if parts.password:
        redaction.register(unquote(parts.password))
    rest = given.split("://", 1)[1]
    masked = rest
    if parts.password is not None:
        userinfo, at, after = rest.rpartition("@")
        user = userinfo.split(":", 1)[0]
        masked = f"{user}:***{at}{after}"
    return Location(f"postgresql+psycopg://{rest}", f"postgresql://{masked}")


_ALLOWED = "give a file path (SQLite), sqlite:///PATH or postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"


def _sqlite(path: Path) -> Location:
    return Location(f"sqlite+pysqlite:///{quote(str(path), safe='/')}", str(path), path)


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
    window_verdicts: tuple[str, ...] = ()  # the verdict of each run of `window`, in its order

    @property
    def previous_at(self) -> float | None:
        return self.window[0][0] if self.window else None

    def checked_since(self, moment: float) -> int:
        """Earlier runs that validated bodies, started at `moment` or after."""
        return self.checked_counts.get(moment, 0)
