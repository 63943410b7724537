"""The `pytest11` entry point: wherever the package is installed, it loads the plugin when a run asks for the suite.

Plain `pytest` loads this module in every run of every repository where panic-contract is installed, so it
does nothing else: no option, no header line, no verdict, no exit code of its own, and a team's own test run is
what it was. The plugin (`plugin`: the options, the run, the verdict) is loaded when the run asks for the
contract suite, by one of:

- the suite among the run's arguments: `pytest --pyargs panic_contract.suite ...`, or a path inside the
  suite's folder (`shipped.suite_folder`);
- `-p panic_contract`, this entry point by name.

Naming the plugin itself (`-p panic_contract.pytest.plugin`, or `pytest_plugins` in a conftest.py, as this
repository's does) loads it as before. pytest registers a plugin once under its name, and the plugin is only
ever registered under its module's name, so nothing is registered twice whichever ways name it.

The options are not registered unasked because their flags are not namespaced: `--base-url` is also
pytest-base-url's (which pytest-playwright and pytest-selenium install), and argparse refuses a flag twice.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

from panic_contract.shipped import SUITE_PACKAGE, suite_folder

PLUGIN = "panic_contract.pytest.plugin"
ENTRY_POINT = "panic_contract"  # its name in pyproject.toml: `-p panic_contract`, `-p no:panic_contract`


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> Generator[None, None, None]:
    """After the initial conftest.py files (which may name the plugin) and before the command line is parsed
    in full, so the plugin's options are known when it is."""
    result = yield
    manager = early_config.pluginmanager
    if not manager.has_plugin(PLUGIN) and asks_for_the_suite(early_config):
        manager.import_plugin(PLUGIN)
    return result


def asks_for_the_suite(config: pytest.Config) -> bool:
    """Whether the run's command line names the suite (or this entry point): see the module's docstring."""
    given = config.known_args_namespace
    if ENTRY_POINT in (name.strip() for name in given.plugins or ()):
        return True
    suite = suite_folder().resolve()
    for argument in given.file_or_dir or ():
        where = str(argument).split("::", 1)[0]
        if given.pyargs and (where == SUITE_PACKAGE or where.startswith(SUITE_PACKAGE + ".")):
            return True
        try:
            path = (Path(config.invocation_params.dir) / where).resolve()
        except (OSError, RuntimeError):  # a path that cannot be resolved (a loop of links) is not the suite
            continue
        if path == suite or suite in path.parents:
            return True
    return False
