"""`panic-contract check`: the contract suite from any folder, as `pytest` runs it in this repository.

It runs pytest in this process on the suite the package carries (`shipped.suite_folder`: `panic_contract/suite`
installed, `tests/contract` in a checkout), with the suite's own pytest configuration (`check.ini`, the same as
this repository's pyproject.toml gives `pytest`) and the plugin named, so the tests, the options (the settings
table, with their variables), the reports and the exit codes are the suite's. What the current folder holds
is not read: not its pytest configuration, not its conftest.py, not pytest's cache folder; other installed
pytest plugins are not loaded, and neither are pytest's own variables `PYTEST_ADDOPTS` and `PYTEST_PLUGINS`
(pytest's options go after `--`). Path options take their value with `=`, as they are handed to pytest.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from panic_contract import settings
from panic_contract.commands.cli import option_error
from panic_contract.errors import OptionError
from panic_contract.shipped import suite_folder

PROG = "panic-contract check"
PLUGIN = "panic_contract.pytest.plugin"
CONFIG = Path(__file__).with_name("check.ini")
# Every setting of the suite; `--server` is the audit's alone.
CHECK_SETTINGS = tuple(name for name in settings.SETTINGS if name != "server")
# pytest's own variables: a shell's or a CI job's pytest set-up, which would change the gate's run.
PYTEST_VARIABLES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from panic_contract.mock import DRIFTS

    parser.usage = f"{PROG} [OPTIONS] [-- PYTEST_ARGS]"
    parser.description = (
        f"{parser.description}: the tests, options, reports and exit codes of pytest in the panic-contract "
        "repository, against the embedded mock unless a live target is named (--target staging, or --base-url)."
    )
    parser.epilog = (
        "Each option also reads its environment variable (shown in brackets). The token comes only from the "
        "environment: PANIC_API_TOKEN, or PANIC_API_CLIENT_ID and PANIC_API_CLIENT_SECRET. pytest's own options "
        "go after --, e.g. panic-contract check -- -n 2 -x. Exit codes: 0 ok, 1 drift (or a test failed), 4 usage, "
        "10 outage, 11 token rejected, 12 inconclusive, 130 interrupted."
    )
    settings.add_arguments(parser, CHECK_SETTINGS)
    parser.add_argument(
        "--mock-drift",
        action="append",
        default=[],
        choices=[str(d) for d in DRIFTS],
        metavar="KIND",
        help=f"switch a drift or fault on in the embedded mock (repeatable): {', '.join(DRIFTS)}",
    )
    parser.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="handed to pytest as they are")


def run(args: argparse.Namespace) -> int:
    try:
        # The values are the plugin's to use; read here too, a bad one is this command's one-line error.
        settings.from_namespace(args, CHECK_SETTINGS, os.environ)
    except OptionError as exc:
        return option_error(PROG, str(exc))
    import pytest

    with _without(os.environ, PYTEST_VARIABLES):
        return int(pytest.main(pytest_argv(args)))


def pytest_argv(args: argparse.Namespace, suite: Path | None = None) -> list[str]:
    """The pytest command line of a check: the suite, its configuration, the plugin, the options given."""
    folder = suite or suite_folder()
    argv = [
        str(folder),
        f"--config-file={CONFIG}",
        f"--rootdir={folder}",
        f"--confcutdir={folder}",  # conftest.py files: the suite's own (it has none), none of a folder above it
        "-p",
        "no:cacheprovider",  # nothing written into the suite's folder (read-only where installed) or elsewhere
    ]
    if importlib.util.find_spec("xdist") is not None:  # pytest-xdist is optional: `-- -n 2` needs it
        argv += ["-p", "xdist.plugin"]
    argv += ["-p", PLUGIN, *given_options(args), *args.pytest_args]
    return argv


def given_options(args: argparse.Namespace) -> Iterator[str]:
    """The options given on this command line, as the plugin's flags; always `--flag=value`, so that a path
    is never taken for a test path (pytest-dev/pytest#8846). What was not given, the plugin reads from its
    variable, or takes its default."""
    for name in CHECK_SETTINGS:
        setting = settings.SETTINGS[name]
        given = getattr(args, name, None)
        if given is None:
            continue
        yield setting.flag if setting.is_switch else f"{setting.flag}={given}"
    for kind in args.mock_drift:
        yield f"--mock-drift={kind}"


@contextmanager
def _without(environ: MutableMapping[str, str], names: Sequence[str]) -> Iterator[None]:
    kept = {name: environ.pop(name) for name in names if name in environ}
    try:
        yield
    finally:
        environ.update(kept)
