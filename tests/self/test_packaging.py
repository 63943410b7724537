"""The package works wherever it is installed: the wheel carries the spec, the fixtures and the contract suite.

The wheel is built from a copy of the checkout and installed into a fresh virtualenv of its own; the commands,
and plain pytest, then run from a temporary folder outside the checkout, so nothing is read from it. Offline:
no build isolation, no index (the `test` extra brings a setuptools that can build it). The venv finds the
dependencies in this environment's site-packages (a path in a .pth file, so none of this environment's own
.pth files run: the editable install's finder stays out), as pip would have installed them there.
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
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from panic_contract.commands import cli
from panic_contract.mock import MOCK_TOKEN, known_callout_ids
from tests.self.conftest import SENTINEL_TOKEN
from tests.self.samples import DOCUMENTED_CALLOUT

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SOURCES = ("pyproject.toml", "README.md", "panic_contract", "spec", "contracts", "tests/contract")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path  # a fresh virtualenv, with the wheel installed in it
    site: Path  # its site-packages
    workdir: Path  # an empty folder outside the checkout to run from
    env: dict[str, str]

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *argv: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`panic-contract ARGV`, the venv's console script."""
        return self.command(str(self.venv / "bin" / "panic-contract"), *argv, timeout=timeout, cwd=cwd)

    def pytest(self, *argv: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Plain `pytest ARGV` in the venv, as a team runs it."""
        return self.command(str(self.python), "-m", "pytest", *argv, timeout=timeout, cwd=cwd)

    def command(self, *argv: str, timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=cwd or self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _pip(*argv: str, cwd: Path, python: Path | None = None) -> None:
    into = ["--python", str(python)] if python else []  # pip's own: install into that interpreter's environment
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            *into,
            *argv,
            "--no-deps",
            "--no-index",
            "--quiet",
            "--disable-pip-version-check",
        ],
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
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _pip("install", str(wheel), cwd=root, python=venv / "bin" / "python")
    workdir = root / "elsewhere"
    workdir.mkdir()
    # GITHUB_*: run inside GitHub Actions, these runs must not write to the job's own summary
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PANIC_API_", "PYTHON", "PYTEST_", "VIRTUAL_ENV", "GITHUB_"))
    }
    return Installed(wheel, venv, site, workdir, env)


@pytest.mark.e2e
def test_the_wheel_carries_the_spec_and_every_fixture(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert "panic_contract/spec/panic-api.openapi.yaml" in names
    fixtures = {f"panic_contract/contracts/{path.name}" for path in (REPO / "contracts").glob("*.json")}
    assert fixtures
    assert set() == fixtures - names


@pytest.mark.e2e
def test_the_wheel_carries_the_contract_suite_as_a_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = next(wheel.read(n) for n in names if n.endswith(".dist-info/entry_points.txt")).decode()
    modules = {f"panic_contract/suite/{path.name}" for path in (REPO / "tests" / "contract").glob("*.py")}
    assert {"panic_contract/suite/__init__.py", "panic_contract/suite/test_properties.py"} <= modules
    assert set() == modules - names
    assert "panic_contract/commands/check.ini" in names
    assert "[pytest11]\npanic_contract = panic_contract.pytest.entry" in entry_points


@pytest.mark.e2e
def test_the_installed_package_reads_its_own_copy_of_the_spec_and_fixtures(installed: Installed) -> None:
    code = (
        "import json, panic_contract.core.contract as c, panic_contract.core.fixtures as f;"
        "print(json.dumps([c.__file__, str(c.SPEC_PATH), str(f.CONTRACTS_DIR), f.CONTRACTS_IN_CHECKOUT]))"
    )
    done = subprocess.run(
        [str(installed.python), "-c", code],
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
        [str(installed.venv / "bin" / "panic-contract"), "mock", "--port", "0"],
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
            "invalid choice: 'recrd' (choose from 'check', 'mock', 'record', 'audit', 'accept', 'propose', 'history')",
        ),
        (["check", "--target", "production"], "panic-contract check", "invalid choice: 'production'"),
        (["check", "-n", "2"], "panic-contract check", "unrecognized arguments: -n;"),  # pytest's go after --
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


@pytest.mark.parametrize("command", [[], ["check"], ["mock"], ["record"], ["audit"], ["accept"]])
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


# --- the gate from another repository: panic-contract check, and plain pytest ----------------------------------

# A live run against a loopback server, ending as the gate's four verdicts do: (mock drift switch, token) ->
# exit code, and what the report names.
GATE = {
    "ok": ((), MOCK_TOKEN, 0),
    "drift": (("missing-field",), MOCK_TOKEN, 1),
    "outage": (("gateway-502",), MOCK_TOKEN, 10),
    "auth": ((), SENTINEL_TOKEN, 11),  # the server rejects the token
}
# The two ways a team runs it from its own folder: the command, or plain pytest with the plugin autoloaded.
FORMS = {
    "check": lambda installed, argv, cwd: installed.run("check", *argv, timeout=120, cwd=cwd),
    "pytest": lambda installed, argv, cwd: installed.pytest(
        "--pyargs", "panic_contract.suite", "-p", "no:cacheprovider", *argv, cwd=cwd
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("verdict", list(GATE))
def test_the_gate_runs_from_an_empty_folder_outside_the_checkout(
    installed: Installed, live_mock, tmp_path: Path, form: str, verdict: str
) -> None:
    drift, token, code = GATE[verdict]
    report, empty = tmp_path / "drift.json", tmp_path / "empty"
    empty.mkdir()
    ids = ",".join(str(i) for i in known_callout_ids()[:3])
    argv = [f"--base-url={live_mock(*drift)}", f"--callout-ids={ids}", "--rate-limit=0", f"--drift-report={report}"]
    done = FORMS[form](replace_env(installed, PANIC_API_TOKEN=token), argv, empty)
    output = done.stdout + done.stderr
    assert code == done.returncode, output
    assert done.stdout.rstrip().splitlines()[-1].startswith(f"verdict: {verdict} (exit {code}): "), output
    written = json.loads(report.read_text(encoding="utf-8"))
    assert (verdict, code) == (written["verdict"], written["exit_code"])
    if verdict == "drift":
        assert "$.calloutClassificationId" in {f["field"] for f in written["findings"] if f["kind"] == "missing-field"}
    assert SENTINEL_TOKEN not in output + report.read_text(encoding="utf-8")
    # no .pytest_cache, nothing else: only hypothesis's folder, as `pytest` leaves one where it runs, and the
    # history, kept where the gate was started (never in the installed package), with its own .gitignore
    assert {".panic-contract"} == {path.name for path in empty.iterdir()} - {".hypothesis"}
    assert (empty / ".panic-contract" / ".gitignore").is_file()
    assert not (Path(installed.site) / "panic_contract" / "suite" / ".panic-contract").exists()


def replace_env(installed: Installed, **env: str) -> Installed:
    return Installed(installed.wheel, installed.venv, installed.site, installed.workdir, {**installed.env, **env})


# A team's repository: its own pytest configuration (an option its conftest.py defines) and conftest.py, which
# also takes --base-url, as pytest-base-url (pytest-playwright's, pytest-selenium's) does.
TEAM_PYPROJECT = """\
[tool.pytest.ini_options]
addopts = "--team-flag -p no:cacheprovider"
testpaths = ["tests"]
"""
TEAM_CONFTEST = """\
import pathlib

pathlib.Path(__file__).with_name("conftest-was-read").touch()


def pytest_addoption(parser):
    parser.addoption("--team-flag", action="store_true")
    parser.addoption("--base-url")
"""
TEAM_TEST = """\
def test_the_team_s_own_test(request):
    assert request.config.getoption("--team-flag")
    assert "http://team.invalid" == request.config.getoption("--base-url")
"""


@pytest.fixture
def team(tmp_path: Path) -> Path:
    folder = tmp_path / "team"
    (folder / "tests").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(TEAM_PYPROJECT, encoding="utf-8")
    (folder / "conftest.py").write_text(TEAM_CONFTEST, encoding="utf-8")
    (folder / "tests" / "test_team.py").write_text(TEAM_TEST, encoding="utf-8")
    return folder


def _without_timings(output: str) -> list[str]:
    """The lines of a run, less the header's list of plugins and the seconds of its last line."""
    return [re.sub(r" in [0-9.]+s", "", line) for line in output.splitlines() if not line.startswith("plugins:")]


@pytest.mark.e2e
def test_a_team_s_own_test_run_is_unchanged_by_the_installed_plugin(installed: Installed, team: Path) -> None:
    loaded = installed.pytest("--base-url=http://team.invalid", cwd=team)
    blocked = installed.pytest("--base-url=http://team.invalid", "-p", "no:panic_contract", cwd=team)
    assert 0 == loaded.returncode, loaded.stdout + loaded.stderr
    assert "panic-contract-0.1.0" in loaded.stdout  # the entry point was loaded: the comparison says something
    assert _without_timings(blocked.stdout) == _without_timings(loaded.stdout)
    assert ("", "") == (blocked.stderr, loaded.stderr)
    assert "API drift" not in loaded.stdout
    assert "panic-api" not in loaded.stdout


@pytest.mark.e2e
def test_check_from_a_team_s_repository_reads_none_of_its_pytest_setup(installed: Installed, team: Path) -> None:
    done = installed.run("check", cwd=team, timeout=120)
    assert 0 == done.returncode, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("verdict: ok (exit 0): ")
    assert not (team / "conftest-was-read").exists()  # neither its conftest.py nor its addopts (--team-flag)
    header = done.stdout.split("collected ", 1)[0]
    assert f"rootdir: {installed.site}/panic_contract/suite\nconfigfile: ../commands/check.ini\n" in header
