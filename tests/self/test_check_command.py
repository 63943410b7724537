"""`panic-contract check` is the suite as `pytest` runs it here; the pytest11 entry point is inert until asked.

In this process: the command line (help, usage errors, what reaches pytest), the suite's configuration against
the repository's, a check run on the embedded mock, and the entry point's choice of when to load the plugin.
The installed wheel, in a fresh virtualenv, from an empty folder: tests/self/test_packaging.py.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from panic_contract.commands import check, cli
from panic_contract.pytest import entry
from panic_contract.settings import SETTINGS
from panic_contract.shipped import SUITE_PACKAGE, suite_folder
from tests.self.conftest import REPO, SELF_TEST_PROFILE, SENTINEL_TOKEN, SUITE, lend_unicode_tables

SUITE_MODULES = ("test_fixtures.py", "test_known_callouts.py", "test_probes.py", "test_properties.py")
# Flags of the settings table the suite does not read: --server is the audit's alone.
NOT_THE_SUITE_S = {"--server"}


def check_args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["check", *argv])


# --- the command line ----------------------------------------------------------------------------------


def test_check_is_the_first_command_listed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    commands = re.findall(r"^    (\w+) ", capsys.readouterr().out, flags=re.MULTILINE)
    assert "check" == commands[0]


def test_check_help_shows_every_option_of_the_suite_with_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["check", "--help"])
    assert 0 == stopped.value.code
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: panic-contract check [OPTIONS] [-- PYTEST_ARGS]")
    for setting in SETTINGS.values():
        if setting.flag not in NOT_THE_SUITE_S:
            assert setting.flag in out
            assert f"[env {setting.env}]" in out
    assert "--mock-drift KIND" in out
    assert "--server" not in out
    assert "panic-contract check -- -n 2 -x" in out


def _plugin_flags(pytester: pytest.Pytester) -> set[str]:
    """The long options the pytest plugin adds, from `pytest --help` (its group, "Panic API contract suite")."""
    result = pytester.runpytest_inprocess("--disable-plugin-autoload", "-p", check.PLUGIN, "--help")
    group = result.stdout.str().split("Panic API contract suite:", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^  (--[\w-]+)", group, flags=re.MULTILINE))


def test_check_takes_every_option_the_plugin_takes(pytester: pytest.Pytester) -> None:
    flags = _plugin_flags(pytester)
    assert {"--target", "--base-url", "--mock-drift", "--drift-report"} <= flags  # the help was read
    assert set() == flags - NOT_THE_SUITE_S - set(cli.option_names(_check_parser()))


def _check_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    return commands.choices["check"]


def test_the_options_given_reach_pytest_as_the_plugin_s_flags_and_pytest_s_after_them() -> None:
    args = check_args(
        "--ids",
        "992011,992012",
        "--timeout",
        "5",
        "--strict-drift",
        "--drift-report",
        "out dir/d.json",
        "--mock-drift",
        "new-field",
        "--",
        "-n",
        "2",
        "-x",
        "--hypothesis-profile=ci",
    )
    argv = check.pytest_argv(args)
    assert str(suite_folder()) == argv[0]
    assert ["-p", check.PLUGIN] == argv[argv.index(check.PLUGIN) - 1 : argv.index(check.PLUGIN) + 1]
    tail = argv[argv.index(check.PLUGIN) + 1 :]
    assert [
        "--callout-ids=992011,992012",
        "--strict-drift",
        "--drift-report=out dir/d.json",  # with =: pytest never takes it for a test path
        "--request-timeout=5",
        "--mock-drift=new-field",
        "-n",
        "2",
        "-x",
        "--hypothesis-profile=ci",
    ] == tail


def test_an_option_not_given_is_left_to_its_variable_which_the_plugin_reads() -> None:
    argv = check.pytest_argv(check_args())
    assert not [word for word in argv if word.startswith("--") and word.split("=")[0] in _plugin_setting_flags()]


def _plugin_setting_flags() -> set[str]:
    return {s.flag for s in SETTINGS.values()} | {"--mock-drift"}


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (["--rate-limit", "fast"], {}, "--rate-limit (or PANIC_API_RATE_LIMIT) is 'fast'; it must be 0 (no limit)"),
        ([], {"PANIC_API_REQUEST_BUDGET": "0"}, "--request-budget (or PANIC_API_REQUEST_BUDGET) is '0'; it must be"),
        (["--base-url=ftp://127.0.0.1"], {}, "--base-url (or PANIC_API_BASE_URL) is 'ftp://127.0.0.1'"),
    ],
)
def test_a_setting_that_cannot_be_used_is_one_line_exit_4_before_pytest_starts(
    argv: list[str], env: dict[str, str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert 4 == cli.main(["check", *argv])
    out, err = capsys.readouterr()
    assert "" == out  # no pytest header: nothing started
    (line,) = err.splitlines()  # one line
    assert line.startswith(f"panic-contract check: error: {says}")


# --- the suite's configuration is the repository's ----------------------------------------------------


def test_the_suite_s_configuration_is_what_pytest_reads_in_this_repository() -> None:
    ours = configparser.ConfigParser()
    ours.read(check.CONFIG, encoding="utf-8")
    section = dict(ours["pytest"])
    repository = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    # testpaths: check names the suite; markers: the plugin adds `live`, `e2e` is the project's own tests'
    assert set(repository) - {"testpaths", "markers"} == set(section)
    assert repository["minversion"] == section["minversion"]
    assert str(repository["xfail_strict"]).lower() == section["xfail_strict"]
    assert repository["filterwarnings"] == section["filterwarnings"].split("\n")[1:]
    # check adds -p xdist.plugin itself, when pytest-xdist is installed (it is not a dependency)
    assert repository["addopts"] == [*shlex.split(section["addopts"]), "-p", "xdist.plugin"]


def test_pytest_s_own_variables_do_not_reach_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "--sentinel-option")
    seen: list[str | None] = []
    monkeypatch.setattr(pytest, "main", lambda argv: seen.append(os.environ.get("PYTEST_ADDOPTS")) or 0)
    assert 0 == cli.main(["check"])
    assert [None] == seen
    assert "--sentinel-option" == os.environ["PYTEST_ADDOPTS"]  # and it is back once the run is over


# --- a check run, in this process -----------------------------------------------------------------------


@pytest.fixture
def suite_modules_dropped() -> Iterator[None]:
    """A run imports the suite's modules, and the property test's builds its schema from that run: later runs
    in this process must import them afresh (as pytester's in-process runs do)."""
    yield
    for name in [n for n in sys.modules if n.startswith(("tests.contract", SUITE_PACKAGE))]:
        del sys.modules[name]


@pytest.mark.usefixtures("suite_modules_dropped")
def test_check_collects_the_packaged_suite_and_reads_nothing_of_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "conftest.py").write_text("raise RuntimeError('the folder s conftest.py was read')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n")
    monkeypatch.chdir(tmp_path)
    assert 0 == cli.main(["check", "--", "--collect-only", "-q"])
    out = capsys.readouterr().out
    for module in SUITE_MODULES:
        assert re.search(rf"^\S*{module}::test_", out, flags=re.MULTILINE), module
    assert {"conftest.py", "pytest.ini"} == {path.name for path in tmp_path.iterdir()}  # no cache folder


@pytest.mark.usefixtures("suite_modules_dropped")
def test_check_on_the_drifting_mock_is_the_suite_s_drift_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PANIC_API_")]:
        monkeypatch.delenv(name)
    argv = [
        "check",
        "--mock-drift=missing-field",
        "--drift-report=d.json",
        "--",
        f"--hypothesis-profile={SELF_TEST_PROFILE}",
    ]
    assert 1 == cli.main(argv)
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].startswith("verdict: drift (exit 1): ")
    assert '"field": "$.calloutClassificationId"' in (tmp_path / "d.json").read_text(encoding="utf-8")


@pytest.mark.e2e
def test_pytest_s_arguments_after_the_double_dash_reach_it(tmp_path: Path) -> None:
    """`-- -n 2`: the suite under pytest-xdist's two workers, the plugin named for them too. `-k` (the known
    callouts' tests, several: both workers run some) reaches it as well, and spares the property test."""
    lend_unicode_tables(tmp_path)
    env = {n: v for n, v in os.environ.items() if not n.startswith(("PANIC_API_", "PYTEST_", "GITHUB_"))}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "panic-contract"), "check", "--", "-n", "2", "-x", "-k", "known_callout"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert 0 == done.returncode, done.stdout + done.stderr
    assert "2 workers [" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("verdict: ok (exit 0): ")


# --- the entry point: loaded everywhere, the plugin only when asked ---------------------------------------

# -W: this process imported the entry point before a run named it, too late for pytest to mark it for assert
# rewriting (it has no assert); the warning would be the suite's error (filterwarnings = error).
NOT_REWRITTEN = "ignore::pytest.PytestAssertRewriteWarning"
TEAM_CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--base-url")  # pytest-base-url's flag, which the plugin's must not clash with
    parser.addoption("--target")
"""
TEAM_TEST = """
def test_the_team_s_own(request):
    assert "http://team.invalid" == request.config.getoption("--base-url")
    assert not request.config.pluginmanager.has_plugin("panic_contract.pytest.plugin")
"""


def test_a_run_that_does_not_ask_for_the_suite_is_unchanged_by_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(TEAM_CONFTEST)
    pytester.makepyfile(test_team=TEAM_TEST)
    argv = (
        "--disable-plugin-autoload",
        "-p",
        "no:cacheprovider",
        "-W",
        NOT_REWRITTEN,
        "--base-url=http://team.invalid",
    )
    with_entry = pytester.runpytest_inprocess(*argv, "-p", "panic_contract.pytest.entry")
    without = pytester.runpytest_inprocess(*argv)
    assert (0, 0) == (with_entry.ret, without.ret)
    with_entry.assert_outcomes(passed=1)

    def lines(result: pytest.RunResult) -> list[str]:
        return [re.sub(r" in [0-9.]+s", "", line) for line in result.outlines]

    assert lines(without) == lines(with_entry)
    assert "panic-api" not in with_entry.stdout.str()


def _suite_run(pytester: pytest.Pytester, *argv: str) -> pytest.RunResult:
    """The suite collected in `pytester`'s folder with check's configuration, and the plugin named only as given."""
    lend_unicode_tables(pytester.path)
    return pytester.runpytest_inprocess(
        str(SUITE),
        f"--config-file={check.CONFIG}",
        f"--rootdir={SUITE}",
        "-p",
        "no:cacheprovider",
        "-p",
        "panic_contract.pytest.entry",
        "-W",
        NOT_REWRITTEN,
        f"--hypothesis-profile={SELF_TEST_PROFILE}",
        *argv,
    )


@pytest.mark.usefixtures("suite_modules_dropped")
def test_the_suite_among_the_arguments_loads_the_plugin(pytester: pytest.Pytester) -> None:
    result = _suite_run(pytester, "--mock-drift=missing-field")
    assert 1 == result.ret, result.stdout.str()
    assert "verdict: drift (exit 1): " in result.outlines[-1]


@pytest.mark.usefixtures("suite_modules_dropped")
def test_the_plugin_named_as_well_is_registered_once(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"pytest_plugins = [{check.PLUGIN!r}]")
    result = _suite_run(pytester, "-p", check.PLUGIN)
    assert 0 == result.ret, result.stdout.str() + result.stderr.str()
    assert 1 == result.stdout.str().count("= API drift =")
    assert 1 == sum(line.startswith("panic-api target: ") for line in result.outlines)


def fake_config(invoked: Path, *arguments: str, pyargs: bool = False, plugins: tuple[str, ...] = ()) -> Any:
    namespace = SimpleNamespace(file_or_dir=list(arguments), pyargs=pyargs, plugins=list(plugins))
    return SimpleNamespace(known_args_namespace=namespace, invocation_params=SimpleNamespace(dir=invoked))


parts = st.lists(
    st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True).filter(lambda p: p not in {".", ".."}), max_size=3
)


@given(parts)
def test_any_path_inside_the_suite_s_folder_asks_for_it(inside: list[str]) -> None:
    path = suite_folder().joinpath(*inside)
    assert entry.asks_for_the_suite(fake_config(Path("/"), str(path)))
    assert entry.asks_for_the_suite(fake_config(Path("/"), f"{path}::test_x"))


@given(parts)
def test_no_path_outside_the_suite_s_folder_asks_for_it(outside: list[str]) -> None:
    for folder in (REPO, REPO / "tests", REPO / "tests" / "self", suite_folder().parent / "contractual"):
        path = folder.joinpath(*outside)
        if path.resolve() == SUITE.resolve() or SUITE.resolve() in path.resolve().parents:
            continue
        assert not entry.asks_for_the_suite(fake_config(Path("/"), str(path)))


def test_the_suite_by_its_package_name_or_the_entry_point_by_its_name_asks_for_it(tmp_path: Path) -> None:
    asks = entry.asks_for_the_suite
    assert asks(fake_config(tmp_path, SUITE_PACKAGE, pyargs=True))
    assert asks(fake_config(tmp_path, f"{SUITE_PACKAGE}.test_probes", pyargs=True))
    assert asks(fake_config(tmp_path, plugins=(entry.ENTRY_POINT,)))
    assert not asks(fake_config(tmp_path, SUITE_PACKAGE))  # without --pyargs: a path
    assert not asks(fake_config(tmp_path, "panic_contract.suites", pyargs=True))
    assert not asks(fake_config(tmp_path, plugins=("panic_contract.pytest.entry",)))
    assert not asks(fake_config(tmp_path))


def test_a_flag_another_plugin_defines_is_one_line_and_exit_4_not_a_clash(pytester: pytest.Pytester) -> None:
    """pytest-base-url (pytest-playwright's, pytest-selenium's) defines --base-url: argparse would stop the run on
    the clash with a traceback."""
    pytester.makepyfile(base_url_plugin=TEAM_CONFTEST)
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(
        "--disable-plugin-autoload", "-p", "base_url_plugin", "-p", check.PLUGIN, "-W", NOT_REWRITTEN
    )
    assert pytest.ExitCode.USAGE_ERROR == result.ret
    assert [
        "ERROR: --target, --base-url: another pytest plugin of this run defines it too, so the contract suite's "
        "option cannot be added; run the suite with panic-contract check, which loads no other plugin, or leave "
        "that plugin out of this run (-p no:NAME)"
    ] == [line for line in result.errlines if line.strip()]


def test_the_plugin_named_in_a_folder_without_the_suite_says_where_the_suite_is(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pytest -p panic_contract.pytest.plugin --base-url=...` in a team's folder collects nothing of the suite."""
    monkeypatch.setenv("PANIC_API_TOKEN", SENTINEL_TOKEN)
    argv = ("--disable-plugin-autoload", "-p", "no:cacheprovider", "-W", NOT_REWRITTEN, "-p", check.PLUGIN)
    result = pytester.runpytest_inprocess(*argv, "--base-url=http://127.0.0.1:9")
    assert 12 == result.ret, result.stdout.str()
    assert (
        "verdict: inconclusive (exit 12): no test was collected, so nothing was sent to 127.0.0.1:9: name the "
        f"contract suite (pytest --pyargs {SUITE_PACKAGE}) or run panic-contract check"
    ) == result.outlines[-1]
    assert SENTINEL_TOKEN not in result.stdout.str() + result.stderr.str()


@pytest.mark.usefixtures("suite_modules_dropped")
def test_check_holds_the_api_to_a_team_s_own_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--spec`: a team's copy of the spec that no longer lists a status the API sends is drift against it,
    found by the fixture tests and the probes alike, while the shipped spec passes the same traffic."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PANIC_API_")]:
        monkeypatch.delenv(name)
    shipped = (REPO / "spec" / "panic-api.openapi.yaml").read_text(encoding="utf-8")
    assert "- Responder Cancelled\n" in shipped
    (tmp_path / "ours.yaml").write_text(shipped.replace("- Responder Cancelled\n", "", 1), encoding="utf-8")
    argv = ["check", "--spec=ours.yaml", "--drift-report=d.json", "--", f"--hypothesis-profile={SELF_TEST_PROFILE}"]
    assert 1 == cli.main(argv)
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1].startswith("verdict: drift (exit 1): ")
    report = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert {("unknown-status", "$.status")} == {(f["kind"], f["field"]) for f in report["findings"]}
    assert report["spec"] == "ours.yaml"
    assert "test_fixture_honours_the_contract[" in out  # the fixtures are held to the team's spec too


def test_a_spec_that_cannot_be_read_is_one_line_and_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert 4 == cli.main(["check", "--spec=missing.yaml"])
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if "missing.yaml" in line]
    assert 1 == len(lines), captured
    assert "Traceback" not in captured.out + captured.err
