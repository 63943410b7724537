"""The package's layers (pyproject.toml, `[tool.importlinter]`) hold, and an import against them breaks them.

lint-imports is run as CI runs it, in a process of its own, on this checkout; then on copies of the package
with one import planted against the layers, type-only imports included, to prove the check can fail.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` in `root`, which holds pyproject.toml and the package it reads."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [str(LINT_IMPORTS), "--no-cache", "--no-logo"]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_every_module_imports_only_from_the_layers_below_its_own() -> None:
    result = lint_imports(REPO)
    assert (0, "Contracts: 4 kept, 0 broken.") == (result.returncode, result.stdout.strip().splitlines()[-1]), (
        result.stdout + result.stderr
    )


def planted(tmp_path: Path, module: str, text: str) -> Path:
    """A copy of pyproject.toml and the package, with `text` added at the end of `module`."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO / "panic_contract", tmp_path / "panic_contract", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "panic_contract" / module
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")
    return tmp_path


TYPE_ONLY = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import {}"


@pytest.mark.parametrize(
    ("chain", "refused", "planted_as"),
    [
        ("sending.quota -> core.findings", "sending -> core", "import {}"),  # the transport knows HTTP only
        ("sending.sender -> core.findings", "sending -> core", TYPE_ONLY),  # a type-only import is one all the same
        ("redaction -> outputs", "redaction -> outputs", "import {}"),  # a leaf imports nothing of the package
        ("errors -> faults", "errors -> faults", "import {}"),  # siblings of a layer are independent
        ("commands.cli -> pytest.run", "commands -> pytest", "import {}"),
        # inside the core: the reports render; writing a file is the outputs' job, not the fixtures'
        ("core.reports -> core.fixtures", "core.reports -> core.fixtures", "import {}"),
        ("core.findings -> core.ledger", "core.findings -> core.ledger", "import {}"),
        # inside the plugin: what a test sends knows the run by the protocol it declares, not the run's module
        ("pytest.probes -> pytest.run", "pytest.probes -> pytest.run", TYPE_ONLY),
    ],
    ids=[
        "sending-core",
        "type-checking",
        "leaf",
        "siblings",
        "commands-pytest",
        "reports-fixtures",
        "findings-ledger",
        "probes-run",
    ],
)
def test_an_import_against_the_layers_breaks_the_contract(
    tmp_path: Path, chain: str, refused: str, planted_as: str
) -> None:
    source, target = (f"panic_contract.{name}" for name in chain.split(" -> "))
    module = source.removeprefix("panic_contract.").replace(".", "/") + ".py"
    result = lint_imports(planted(tmp_path, module, planted_as.format(target)))
    words = " ".join(result.stdout.split())  # lint-imports wraps its lines at 80 columns
    importer, imported = (f"panic_contract.{name}" for name in refused.split(" -> "))
    assert 1 == result.returncode, result.stdout + result.stderr
    assert "Contracts: 3 kept, 1 broken." in words
    assert f"{importer} is not allowed to import {imported}:" in words
    assert f"- {source} -> {target} (l." in words


def test_a_module_given_no_layer_breaks_the_contract(tmp_path: Path) -> None:
    """`exhaustive`: a new module of the package has to be placed in a layer (and so in README.md's map)."""
    root = planted(tmp_path, "errors.py", "")
    (root / "panic_contract" / "helpers.py").write_text('"""Somewhere to put things."""\n', encoding="utf-8")
    result = lint_imports(root)
    assert 1 == result.returncode, result.stdout + result.stderr
    assert "panic_contract.helpers" in result.stdout


# --- the README's map is the contract's, and names every module with its one job ---------------------------


def contract_layers() -> list[set[str]]:
    """The top-level layers of the `layers` contract, top first, each as the names of its modules."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"]
    return [{name.strip().strip("()") for name in layer.split("|")} for layer in contract["layers"]]


def readme_map() -> dict[str, int]:
    """Path -> layer number, from README.md's "How it fits together" (the bottom layer is 1)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## How it fits together", 1)[1].split("\n## ", 1)[0]
    return {
        path: int(number)
        for number, cell in re.findall(r"^\| (\d+) \| (.+?) \|", section, re.MULTILINE)
        for path in re.findall(r"`(panic_contract/[^`]+)`", cell)
    }


def test_the_readme_map_shows_each_module_in_the_contract_s_layer() -> None:
    layers = contract_layers()
    number_of = {name: len(layers) - index for index, layer in enumerate(layers) for name in layer}
    shown = readme_map()
    assert {path: number_of[path.split("/")[1].removesuffix(".py")] for path in shown} == shown


def test_every_module_is_on_the_map_and_says_its_one_job_first() -> None:
    shown = readme_map()
    modules = sorted(
        str(path.relative_to(REPO)) for path in (REPO / "panic_contract").rglob("*.py") if path.name != "__init__.py"
    )
    assert [] == [module for module in modules if not any(module.startswith(path) for path in shown)]
    for module in modules:
        doc = ast.get_docstring(ast.parse((REPO / module).read_text(encoding="utf-8")))
        assert doc, f"{module} has no docstring saying its one job"
        assert doc.splitlines()[0].endswith("."), f"{module}: the first line says its one job, as one sentence"


# --- the public surface -----------------------------------------------------------------------------------


def test_the_package_names_its_public_surface_and_imports_it_only_when_asked() -> None:
    code = (
        "import sys, panic_contract as p;"
        "loaded = sorted(m for m in sys.modules if m.startswith('panic_contract.'));"
        "names = {n: getattr(p, n).__module__ if hasattr(getattr(p, n), '__module__') else '-' for n in p.__all__};"
        "print(loaded, sorted(names), 'starlette' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    import panic_contract

    expected = sorted(panic_contract.__all__)
    assert f"[] {expected} True" == result.stdout.strip()  # nothing loaded up front; each name on first use
    with pytest.raises(AttributeError, match="has no attribute 'Ledger'"):
        panic_contract.Ledger  # noqa: B018 - private: not part of the surface
