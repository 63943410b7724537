"""A real PostgreSQL server for the history tests: started in a temporary folder, on a free loopback port.

`.ci/run` starts one for the whole run (`python -m tests.self.postgres start DIR` prints its URL, which it
exports as PANIC_TEST_POSTGRES_URL; `stop DIR` stops it); outside CI, where none was started, the fixture
starts its own from the server binaries (initdb, pg_ctl: on PATH, in /usr/local/bin or
/usr/lib/postgresql/N/bin), or skips, saying why. Under CI=true it never skips: it fails instead.

initdb refuses to run as root, so as root the server runs as `nobody`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

URL_VARIABLE = "PANIC_TEST_POSTGRES_URL"
USER = "panic"
SERVER_USER = "nobody"  # as root: initdb and postgres refuse to run as root


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    return next((c for c in candidates if (c / "initdb").is_file() and (c / "pg_ctl").is_file()), None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *argv] if os.geteuid() == 0 else argv


def start(folder: Path) -> str:
    """initdb into `folder`, start the server there; its URL (user `panic`, a password, database `postgres`)."""
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl)")
    folder.mkdir(parents=True, exist_ok=True)
    password = "pw-" + secrets.token_hex(8)
    (folder / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER)
        shutil.chown(folder / "pwfile", SERVER_USER)
    data, port = folder / "data", _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(folder / "pwfile")]
    initdb += ["--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True, timeout=120)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=50"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "-t", "60"]
    subprocess.run(_as_server_user([*pg_ctl, "start"]), check=True, capture_output=True, timeout=120)
    (folder / "url").write_text(f"postgresql://{USER}:{password}@127.0.0.1:{port}/postgres")
    return (folder / "url").read_text()


def stop(folder: Path) -> None:
    bindir = binaries()
    if bindir is not None and (folder / "data").is_dir():
        argv = [str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_server_user(argv), check=False, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL: the one `.ci/run` started, else one of this process's own."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    if binaries() is None:
        why = "no PostgreSQL server binaries (initdb, pg_ctl) on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin"
        if os.environ.get("CI"):
            pytest.fail(f"{why}, and CI must run the PostgreSQL tests: install postgresql (.ci/run does)")
        pytest.skip(f"{why}: install postgresql to run the history store's PostgreSQL tests")
    # Not under pytest's basetemp: that folder is root's alone (0700), and the server runs as `nobody`.
    folder = Path(tempfile.mkdtemp(prefix="panic-postgres-"))
    try:
        url = start(folder)
    except (subprocess.SubprocessError, OSError) as exc:
        said = getattr(exc, "stderr", b"") or b""
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc}\n{said.decode(errors='replace')}\n{log}")
    try:
        yield url
    finally:
        stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh database of its own on the server, for one test; dropped after it."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":  # .ci/run: start DIR (prints the URL) | stop DIR
    action, where = sys.argv[1], Path(sys.argv[2])
    if action == "start":
        print(start(where))
    else:
        stop(where)
