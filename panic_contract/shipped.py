"""Where the folders the package ships are (the spec, the fixtures, the contract suite), wherever it is installed.

The repo's folders are the single source: `spec/`, `contracts/` and `tests/contract/`. A built wheel carries
them as package data and modules (`panic_contract/spec`, `panic_contract/contracts`, the package
`panic_contract.suite`); a checkout or an editable install has no such folder inside the package and reads
the repo's own. A leaf: it imports nothing of the package, so the pytest entry point can ask where the suite is
without importing the rest.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # panic_contract/
# The contract suite as an installed package: `pytest --pyargs panic_contract.suite`.
SUITE_PACKAGE = "panic_contract.suite"
SUITE_SOURCE = "tests/contract"


def shipped_folder(name: str, source: str | None = None) -> Path:
    """The packaged folder `panic_contract/<name>`; else, in a checkout, the repo's `<source>` (default `<name>`)."""
    packaged = resources.files("panic_contract") / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parent / (source or name)


def suite_folder() -> Path:
    """The folder of the contract suite's test modules: `panic_contract/suite`, or the checkout's `tests/contract`."""
    return shipped_folder("suite", SUITE_SOURCE)
