"""The package works wherever it is installed: the wheel carries the spec and the fixtures.

The wheel is built from a copy of the checkout and installed into a folder of its own; the
commands then run from a temporary folder, with that folder on PYTHONPATH ahead of the editable
install, so nothing is read from the checkout. Offline: no build isolation, no index (the `test`
extra brings a setuptools that can build it).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from panic_contract.commands import cli
from panic_contract.mock import MOCK_TOKEN
from tests.self.samples import DOCUMENTED_CALLOUT

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SOURCES = ("pyproject.toml", "README.md", "panic_contract", "spec", "contracts")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    site: Path  # the wheel installed here (pip --target), and nothing else
    workdir: Path  # an empty folder outside the checkout to run from
    env: dict[str, str]

    def run(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.site / "bin" / "panic-contract"), *argv],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _pip(*argv: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", *argv, "--no-deps", "--no-index", "--quiet", "--disable-pip-version-check"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"pip {argv[0]} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    _pip("wheel", "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(source), cwd=root)
    (wheel,) = (root / "dist").glob("panic_contract-*.whl")
    site = root / "site"
    _pip("install", "--target", str(site), str(wheel), cwd=root)
    workdir = root / "elsewhere"
    workdir.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PANIC_API_", "PYTHON"))}
    env["PYTHONPATH"] = str(site)  # ahead of the editable install, which only appends a finder
    return Installed(wheel, site, workdir, env)


@pytest.mark.e2e
def test_the_wheel_carries_the_spec_and_every_fixture(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert "panic_contract/spec/panic-api.openapi.yaml" in names
    fixtures = {f"panic_contract/contracts/{path.name}" for path in (REPO / "contracts").glob("*.json")}
    assert fixtures
    assert set() == fixtures - names


@pytest.mark.e2e
def test_the_installed_package_reads_its_own_copy_of_the_spec_and_fixtures(installed: Installed) -> None:
    code = (
        "import json, panic_contract.core.contract as c, panic_contract.core.fixtures as f;"
        "print(json.dumps([c.__file__, str(c.SPEC_PATH), str(f.CONTRACTS_DIR), f.CONTRACTS_IN_CHECKOUT]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=installed.workdir,
        env=installed.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    module, spec, contracts, in_checkout = json.loads(done.stdout)
    site = str(installed.site)
    assert module.startswith(site)
    assert spec == f"{site}/panic_contract/spec/panic-api.openapi.yaml"
    assert contracts == f"{site}/panic_contract/contracts"
    assert in_checkout is False


@pytest.mark.e2e
def test_audit_runs_from_the_installed_wheel_outside_the_checkout(installed: Installed) -> None:
    record = {
        "request": {"method": "GET", "path": "/panic-api/v2/callouts/992011"},
        "response": {"status": 200, "headers": {"content-type": "application/json"}, "body": DOCUMENTED_CALLOUT},
    }
    (installed.workdir / "capture.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    done = installed.run("audit", "capture.jsonl")
    assert 0 == done.returncode, done.stdout + done.stderr
    assert "verdict: ok (exit 0)" in done.stdout
    assert "" == done.stderr


@pytest.mark.e2e
def test_mock_runs_from_the_installed_wheel_outside_the_checkout(installed: Installed) -> None:
    with subprocess.Popen(
        [str(installed.site / "bin" / "panic-contract"), "mock", "--port", "0"],
        cwd=installed.workdir,
        env=installed.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            matched = re.search(r"serving (http://127\.0\.0\.1:\d+)", first)
            assert matched, first
            answer = httpx.get(
                f"{matched[1]}/panic-api/v2/callouts/992011", headers={"Authorization": f"Bearer {MOCK_TOKEN}"}
            )
            assert 200 == answer.status_code
            assert DOCUMENTED_CALLOUT == answer.json()
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


# --- declared dependencies ------------------------------------------------------------------------


def _imported_top_level_modules(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "panic_contract"}


def _requirement_name(requirement: str) -> str:
    name = re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_package_the_code_imports_is_declared() -> None:
    declared = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    distributions = metadata.packages_distributions()
    imported = _imported_top_level_modules(REPO / "panic_contract")
    assert imported  # the scan found the third-party imports at all
    providers = {module: {_requirement_name(n) for n in distributions.get(module, [module])} for module in imported}
    undeclared = {module: sorted(names) for module, names in providers.items() if not declared & names}
    assert {} == undeclared


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "prog", "says"),
    [
        ([], "panic-contract", "the following arguments are required: COMMAND"),
        (["lint"], "panic-contract", "invalid choice: 'lint'"),
        (["audit"], "panic-contract audit", "the following arguments are required: FILE"),
        (["mock", "--port", "70000"], "panic-contract mock", "'70000' is not a port"),
        (["mock", "--drift", "sideways"], "panic-contract mock", "invalid choice: 'sideways'"),
        (["record", "--target", "production"], "panic-contract record", "invalid choice: 'production'"),
        (["record", "--update=sentinel-value"], "panic-contract record", "--update: takes no value, and one was given"),
        (["record", "--updte"], "panic-contract record", "--updte; did you mean --update?"),
        (
            ["recrd"],
            "panic-contract",
            "invalid choice: 'recrd' (choose from 'mock', 'record', 'audit', 'accept', 'history')",
        ),
    ],
)
def test_every_usage_error_of_every_command_is_one_line_and_exit_4(
    argv: list[str], prog: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command line argparse refuses is an error of the command named, not a verdict: nothing ran."""
    assert 4 == cli.main(argv)
    out, err = capsys.readouterr()
    assert "" == out
    assert 1 == err.count("\n"), err
    assert err.startswith(f"{prog}: error: ")
    assert "verdict" not in err
    assert "sentinel-value" not in err
    assert says in err
    assert err.endswith((f"; see {prog} --help\n", f" (see {prog} --help)\n"))  # what is wrong; how to fix it


def test_unrecognized_arguments_are_named_without_their_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert 4 == cli.main(["record", "--token", "sentinel-value-1", "--key=sentinel-value-2"])
    assert [
        "panic-contract record: error: unrecognized arguments: --token, --key=... and 1 other argument(s), not shown; "
        "see panic-contract record --help"
    ] == capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("command", [[], ["mock"], ["record"], ["audit"], ["accept"]])
def test_help_exits_0_and_shows_no_raw_backticks(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main([*command, "--help"])
    assert 0 == stopped.value.code
    out = capsys.readouterr().out
    assert out.startswith("usage: panic-contract")
    assert "`" not in out


def test_record_help_names_the_credential_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["record", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for variable in ("PANIC_API_TOKEN", "PANIC_API_CLIENT_ID", "PANIC_API_CLIENT_SECRET"):
        assert variable in out


@pytest.mark.e2e
def test_the_console_script_exits_4_on_a_usage_error(installed: Installed) -> None:
    done = installed.run("mock", "--port", "-1")
    assert 4 == done.returncode
    assert "panic-contract mock: error: argument --port: '-1' is not a port" in done.stderr
