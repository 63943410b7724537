"""The pytest plugin: it only wires hooks. The work lives in the modules named after it.

- options and precedence: `settings` (command line, environment, ini, default)
- the target and its token: `target`; every request: `sending`
- where a run keeps its state (the config's stash): `keys`; the run's data and lifecycle: `run`
- what a suite test sends: `probes`; schemathesis's checks as findings: `checks`; a test's findings: `tally`
- the schemathesis schema of a run: `schema`; one ledger across workers: `xdist`
- the verdict: `verdict`; the reports, final lines and exit code: `ending` (shared with the audit)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import storage_directory
from hypothesis.database import InMemoryExampleDatabase
from hypothesis.errors import InvalidArgument

from panic_contract.core import reports
from panic_contract.core.accepted import load as load_acceptance
from panic_contract.core.contract import SPEC_PATH, Contract, load_contract
from panic_contract.core.coverage import Coverage
from panic_contract.core.ending import end_run
from panic_contract.core.fixtures import CONTRACTS_DIR, fixture_paths
from panic_contract.core.ledger import Ledger
from panic_contract.core.past import line_target, look_back
from panic_contract.core.verdict import Decision, LiveEvidence, Verdict, decide
from panic_contract.errors import CredentialError, SettingError, SpecError, UsageError
from panic_contract.faults import Halt, Interrupted
from panic_contract.outputs import terminal_line
from panic_contract.pytest import xdist
from panic_contract.pytest.keys import ENDING, RUN, UNDO, run_of
from panic_contract.pytest.probes import budget_problem
from panic_contract.pytest.run import SuiteRun, interrupted_decision, stop_on_signals
from panic_contract.pytest.schema import collecting
from panic_contract.pytest.xdist import WORKER_QUOTA, WORKER_TODAY, handed_token
from panic_contract.redaction import Secret, redact, registered
from panic_contract.sending import TOKEN_VARIABLE
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits
from panic_contract.settings import SETTINGS, check_reads, resolve
from panic_contract.settings import keeping as history_keeping
from panic_contract.shipped import SUITE_PACKAGE, suite_folder
from panic_contract.target import Target, live_target, live_url, mock_target

LIVE_MARKER = "live: needs a live target (--target staging or --base-url); skipped with a stated reason otherwise"

# Hypothesis profiles, chosen by name with --hypothesis-profile. Without one: `live` for a live target,
# `ci` where CI is set, `dev` otherwise. Deadlines are off: network latency is not a property of the API.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True)
# `live`: on a live target a request is what a run costs (the provider's rate limit). The deterministic probes
# (every known id, no token, a wrong token, an unknown id, a non-integer id, another method) are sent first and
# tell every drift kind apart; 5 generated cases on top keep a whole run within twice their count for any
# number of ids given (n ids: n + 5 probes), and a run that a budget cuts short keeps its verdict on the probes.
settings.register_profile(
    "live",
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)


MOCK_DRIFT_FLAG = "--mock-drift"


def pytest_addoption(parser: pytest.Parser) -> None:
    _refuse_flags_taken(parser, [*(s.flag for s in SETTINGS.values()), MOCK_DRIFT_FLAG])
    group = parser.getgroup("panic-api", "Panic API contract suite")
    for s in SETTINGS.values():
        if s.is_switch:
            group.addoption(s.flag, dest=s.dest, action="store_const", const="1", default=None, help=s.help_text())
        else:
            group.addoption(s.flag, dest=s.dest, default=None, metavar=s.metavar, choices=s.choices, help=s.help_text())
        parser.addini(s.ini, s.help, default=None)
    from panic_contract.mock import DRIFTS

    group.addoption(
        MOCK_DRIFT_FLAG,
        dest="panic_mock_drift",
        action="append",
        default=[],
        choices=[str(d) for d in DRIFTS],
        metavar="KIND",
        help=f"switch a drift or fault on in the embedded mock (repeatable): {', '.join(DRIFTS)}",
    )


def _refuse_flags_taken(parser: pytest.Parser, flags: list[str]) -> None:
    """One line, exit 4, where a plugin loaded before this one defines one of its flags (pytest-base-url's
    `--base-url`, which pytest-playwright and pytest-selenium install): else argparse stops the run on the clash
    with a traceback. A flag another plugin defines is not left over (unknown) when parsed."""
    try:
        _, unknown = parser.parse_known_and_unknown_args([f"{flag}=" for flag in flags])
    except pytest.UsageError:  # a flag defined as a switch refuses a value: it is taken too
        unknown = []
    left = {word.removesuffix("=") for word in unknown}
    if left == set(flags):
        return
    taken = [flag for flag in flags if flag not in left] if left else _each_taken(parser, flags)
    raise pytest.UsageError(
        f"{', '.join(taken)}: another pytest plugin of this run defines it too, so the contract suite's option "
        "cannot be added; run the suite with panic-contract check, which loads no other plugin, or leave that "
        "plugin out of this run (-p no:NAME)"
    )


def _each_taken(parser: pytest.Parser, flags: list[str]) -> list[str]:
    taken = []
    for flag in flags:
        try:
            _, unknown = parser.parse_known_and_unknown_args([f"{flag}="])
        except pytest.UsageError:
            unknown = []
        if not unknown:
            taken.append(flag)
    return taken


@pytest.hookimpl(tryfirst=True)  # first: the hypothesis profile in force before any plugin loads one
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", LIVE_MARKER)
    if config.option.help:
        return
    # A run changes the whole process's hypothesis profile (hypothesis has one default); a second run in
    # the same process (pytester's in-process runs) must start from what was there before.
    undo: list[Callable[[], None]] = [partial(settings.load_profile, settings.get_current_profile_name())]
    config.stash[UNDO] = undo
    try:
        _check_profile(config.getoption("hypothesis_profile", None))
        run = _start_run(config)
    except UsageError as exc:
        raise pytest.UsageError(redact(str(exc))) from None
    config.stash[RUN] = run
    undo.append(run.close)
    if not config.pluginmanager.is_registered(xdist):
        config.pluginmanager.register(xdist, "panic_api_xdist")
    if not _is_worker(config):  # workers are the controller's to stop (xdist tears them down)
        undo.append(stop_on_signals(run))
    given = config.getoption("hypothesis_profile", None)
    profile = given or ("live" if run.target.live else "ci" if os.environ.get("CI") else "dev")
    _keep_examples_where_they_can_be_written()
    if given is None:
        settings.load_profile(profile)  # else hypothesis's plugin loads the one given, after this hook


def _check_profile(name: str | None) -> None:
    """--hypothesis-profile names a registered profile (hypothesis's own plugin, after this one, would raise
    an INTERNALERROR with a traceback, exit 3)."""
    if name is None:
        return
    try:
        settings.get_profile(name)
    except InvalidArgument:
        raise SettingError(
            f"--hypothesis-profile is {name!r}; the suite's profiles are dev, ci and live (and hypothesis's "
            "default, or one a conftest.py registers)"
        ) from None


def _keep_examples_where_they_can_be_written() -> None:
    """In a read-only checkout `.hypothesis/` cannot be created: keep examples in memory for the run.

    Left to itself, hypothesis falls back to memory with a HypothesisWarning (by design, for the default
    location only: https://github.com/HypothesisWorks/hypothesis/pull/1196), which the suite's
    `filterwarnings = error` turns into a collection error. The profiles that use the default location are
    given the in-memory database themselves: `dev`, and hypothesis's `default`, which schemathesis reads
    whatever profile is loaded. `ci` and `live` keep no examples (derandomized).
    """
    if _writable(storage_directory("examples", intent_to_write=False).path):
        return
    for profile in ("default", "dev"):
        settings.register_profile(profile, parent=settings.get_profile(profile), database=InMemoryExampleDatabase())


def _writable(path: Path) -> bool:
    """Whether `path` can be used as a folder, or made (hypothesis's own test: the nearest existing folder)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.R_OK | os.W_OK | os.X_OK)


def _setting(config: pytest.Config, name: str) -> Any:
    s = SETTINGS[name]
    return resolve(s, config.getoption(s.dest), os.environ, config.getini(s.ini))


def _given(config: pytest.Config, name: str) -> bool:
    """Whether the setting was given at all (flag, variable or ini), rather than left at its default."""
    s = SETTINGS[name]
    return any(
        value not in (None, "")
        for value in (config.getoption(s.dest), os.environ.get(s.env or ""), config.getini(s.ini))
    )


def _start_run(config: pytest.Config) -> SuiteRun:
    values = {name: _setting(config, name) for name in SETTINGS}
    contracts = Path(values["contracts_dir"]) if values["contracts_dir"] else CONTRACTS_DIR
    if not contracts.is_dir():
        raise SettingError(f"{SETTINGS['contracts_dir'].origin()} is {str(contracts)!r}; no such folder of fixtures")
    contract = _contract(values["spec"])
    check_reads(values["reads"], contract)
    worker: dict[str, Any] = getattr(config, "workerinput", {})
    today = date.fromisoformat(worker[WORKER_TODAY]) if WORKER_TODAY in worker else None
    accepted_drift, max_days = values["accepted_drift"], values["accept_max_days"]
    acceptance = load_acceptance(Path(accepted_drift), today, max_days) if accepted_drift else None
    url = live_url(values["target"], values["base_url"])
    drift = tuple(config.getoption("panic_mock_drift"))
    ids = values["callout_ids"] or ()
    # the rate limit and the request budget spare a live target; the embedded mock needs neither
    limits = Limits(
        timeout=values["request_timeout"],
        retries=values["retries"],
        rate_limit=values["rate_limit"] if url is not None else 0.0,
        budget=values["request_budget"] if url is not None else None,
        max_body=values["max_body_size"],
    )
    if url is not None and drift:
        raise SettingError(
            "--mock-drift switches the embedded mock; it cannot change a live target "
            "(drop --mock-drift, or --base-url/--target staging)"
        )
    owns = WORKER_QUOTA not in worker
    exchange = not os.environ.get(TOKEN_VARIABLE, "").strip()  # else the client credentials are exchanged, once
    if url is not None and owns and (problem := budget_problem(limits.budget, ids, token_exchange=exchange)):
        given = "" if _given(config, "request_budget") else " (the default)"
        raise SettingError(f"{SETTINGS['request_budget'].origin()} is {limits.budget}{given}; {problem}")
    quota_path = Path(tempfile.mkdtemp(prefix="panic-api-")) / "quota.json" if owns else Path(worker[WORKER_QUOTA])
    quota = Quota(quota_path, rate_limit=limits.rate_limit, budget=limits.budget)
    try:
        if url is None:
            target = mock_target(ids, drift, contracts)
        else:
            target = _live_target(
                url, values, ids, contracts=contracts, limits=limits, quota=quota, token=handed_token(worker)
            )
    except BaseException:
        if owns:  # the state file and its lock file
            shutil.rmtree(quota_path.parent, ignore_errors=True)
        raise
    # Beside the rootdir, as pytest keeps .pytest_cache; but `panic-contract check` roots the run at the packaged
    # suite (site-packages, maybe read-only): its history goes to the folder it was started in.
    root = config.invocation_params.dir if config.rootpath == suite_folder() else config.rootpath
    keeping = history_keeping(values, root, "suite")
    run = SuiteRun(
        ledger=Ledger(acceptance, values["reads"], coverage=Coverage.of(contract) if values["coverage"] else None),
        ends_with_verdict=target.live,  # a live run always ends with a verdict, even one that sent nothing
        target=target,
        contract=contract,
        strict_drift=bool(values["strict_drift"]),
        limits=limits,
        quota=quota,
        owns_quota_dir=owns,
        report_paths=(values["drift_report"], values["drift_report_md"]),
        html_report=values["drift_report_html"],
        sarif_path=values["drift_report_sarif"],
        worker_id=worker.get("workerid"),
        keeping=keeping,
    )
    # Read once, at the start, in every process: a test's failure line says whether its finding is new.
    recalled = look_back(keeping, line_target(target.name, target.display_url), run.started_at.timestamp())
    run.recollection = recalled if not isinstance(recalled, str) else None
    return run


def _live_target(
    url: str,
    values: dict[str, Any],
    ids: tuple[int, ...],
    *,
    contracts: Path,
    limits: Limits,
    quota: Quota,
    token: Secret | None,
) -> Target:
    named = not values["base_url"]
    try:
        return live_target(url, named, ids, contracts, os.environ, limits=limits, quota=quota, token=token)
    except CredentialError as exc:
        raise CredentialError(f"live target {url}: {exc}") from None
    except Halt:  # the quota is halted: the run collects nothing and ends with this verdict
        return live_target(url, named, ids, contracts, os.environ, limits=limits, quota=quota, token=Secret(""))


def _contract(spec: str | None) -> Contract:
    if spec:  # a team's own spec (--spec): its errors are theirs to fix
        return load_contract(spec)
    try:
        return load_contract(SPEC_PATH)
    except SpecError as exc:
        raise SpecError(f"{exc} (fix spec/ or restore it from git)") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Undo, last first, what configure did: the signal handlers, the run (its mock, its quota folder), the
    hypothesis profile. Also after a configure that stopped on a usage error."""
    undo: list[Callable[[], None]] = config.stash.get(UNDO, [])
    config.stash[UNDO] = []
    for step in reversed(undo):
        step()


@pytest.fixture(scope="session")
def panic_run(request: pytest.FixtureRequest) -> SuiteRun:
    """The run's target, ledger and sender; a test that asks for it is a suite test, one the verdict counts."""
    run = run_of(request.config)
    if run is None:
        raise RuntimeError("the panic-api plugin is not active: run the suite with pytest from the project root")
    return run


@pytest.fixture(scope="session")
def panic_contract(request: pytest.FixtureRequest) -> Contract:
    """The contract the run holds the API to (`--spec`, else the shipped spec); no request is sent."""
    run = run_of(request.config)
    return _contract(None) if run is None else run.contract


@pytest.fixture(scope="session")
def panic_contracts_dir(request: pytest.FixtureRequest) -> Path:
    """The folder of fixtures the run checks (and the embedded mock serves); no request is sent."""
    run = run_of(request.config)
    return CONTRACTS_DIR if run is None else run.contracts_dir


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = run_of(config)
    if run is None:
        return []
    t = run.target
    where = f"in-process, on a loopback port (by hand: panic-contract mock, at {t.display_url})"
    drift = f", mock drift: {', '.join(t.drift)}" if t.drift else ""
    ids = ", ".join(map(str, t.callout_ids)) or "none"
    return [
        f"panic-api target: {t.name}, base URL: {t.base_url if t.live else where}{drift}",
        f"panic-api spec: {run.contract.spec_path}; callout ids: {ids}",
    ]


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """A suite module imported while this config collects builds its schema from this run (`schema`)."""
    with collecting(collector.config):
        return (yield)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The suite's tests over what this run knows: a suite test (one that asks for `panic_run`) taking
    `callout_id` runs for each id known to exist; a test taking `fixture_file`, for each fixture file."""
    run = run_of(metafunc.config)
    if run is None:
        return
    if {"panic_run", "callout_id"} <= set(metafunc.fixturenames) and not _parametrizes(metafunc, "callout_id"):
        metafunc.parametrize("callout_id", run.target.callout_ids)
    if "fixture_file" in metafunc.fixturenames and not _parametrizes(metafunc, "fixture_file"):
        metafunc.parametrize("fixture_file", fixture_paths(run.contracts_dir), ids=lambda path: path.name)
    if "nullable_field" in metafunc.fixturenames and not _parametrizes(metafunc, "nullable_field"):
        metafunc.parametrize("nullable_field", run.contract.nullable_fields)


def _parametrizes(metafunc: pytest.Metafunc, name: str) -> bool:
    """Whether the test's own `parametrize` marks already give `name` its values."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = run_of(config)
    if run is None:
        return
    # A verdict belongs to runs of the contract suite, not to the project's own tests.
    run.ends_with_verdict = run.target.live or any("panic_run" in getattr(item, "fixturenames", ()) for item in items)
    if run.ends_with_verdict and run.quota.halted() is not None:  # the token exchange failed: nothing to check
        config.hook.pytest_deselected(items=list(items))
        items.clear()
        return
    if run.ends_with_verdict:
        items.sort(key=_sending_order)
    if run.target.live:
        return
    skip = pytest.mark.skip(reason="needs a live target: pass --target staging or --base-url with PANIC_API_TOKEN")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def _sending_order(item: pytest.Item) -> int:
    """The deterministic probes first, the property tests last (a stable sort keeps the rest in place).

    A request budget that runs out, or a rate limit that makes a run long, then still leaves a verdict
    built on every probe; generated cases spend only what is left.
    """
    if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        return 2
    return 0 if "panic_run" in getattr(item, "fixturenames", ()) else 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """A suite test records every finding; it fails once, at its end, with their lines and no traceback."""
    run = run_of(item.config)
    if run is None or "panic_run" not in getattr(item, "fixturenames", ()):
        return (yield)
    run.tally.begin()
    try:
        result = yield
    finally:
        lines = run.tally.failing_lines(strict_drift=run.strict_drift, tag=run.history_tag)
    if lines:
        pytest.fail("\n".join(lines), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Last line of defence: no registered secret survives in a test's failure text or captured output."""
    report = yield
    if registered():
        if report.longrepr is not None:
            text = str(report.longrepr)
            if redact(text) != text:
                report.longrepr = redact(text)
        report.sections = [(name, redact(content)) for name, content in report.sections]
    return report


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = run_of(session.config)
    if run is None or _is_worker(session.config):
        return
    stopped = exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR) or (
        exitstatus == pytest.ExitCode.INTERRUPTED and run.interrupted is None  # pytest.exit(), xdist's -x
    )
    if not run.ends_with_verdict or session.config.option.collectonly or stopped:
        return
    if run.interrupted is not None:
        # stop every worker's sending before xdist tears them down; fold in what they recorded so far
        run.quota.halt(Interrupted(f"interrupted by {run.interrupted}"))
        xdist.fold_snapshots(run)
    halted = run.quota.halted()  # the first fault of the whole run, whichever worker met it
    live = LiveEvidence(run.ledger.requests, frozenset(run.auth_probed)) if run.target.live else None
    run.ledger.requests = run.quota.sent  # the report counts requests sent; the ledger counted responses judged
    decision = decide(
        run.ledger,
        halt=halted,
        strict_drift=run.strict_drift,
        require_validated_body=True,
        tests_failed=session.testsfailed > 0,
        host=run.target.host,
        live=live,
    )
    if decision.verdict is Verdict.INTERRUPTED:
        decision = interrupted_decision(run)
    if decision.verdict is Verdict.INCONCLUSIVE and session.testscollected == 0:  # e.g. `-p` the plugin, no suite
        decision = Decision(
            Verdict.INCONCLUSIVE,
            f"no test was collected, so nothing was sent to {run.target.host}: name the contract suite "
            f"(pytest --pyargs {SUITE_PACKAGE}) or run panic-contract check",
        )
    if run.budget_note and decision.verdict is Verdict.OK:
        decision = Decision(decision.verdict, f"{decision.reason}; {run.budget_note}")
    notes = [note] if (note := run.ids_note()) else []
    if os.environ.get("GITHUB_ACTIONS") == "true":
        notes += reports.github_annotations(run.ledger)
    ending = end_run(
        run.ledger,
        decision,
        _run_info(run),
        *run.report_paths,
        html_path=run.html_report,
        sarif_path=run.sarif_path,
        notes=notes,
        step_summary=os.environ.get("GITHUB_STEP_SUMMARY"),  # in GitHub Actions: the job summary, without a flag
        keeping=run.keeping,
        recollection=run.recollection,
    )
    session.config.stash[ENDING] = ending
    session.exitstatus = ending.exit_code


def _run_info(run: SuiteRun) -> reports.RunInfo:
    return reports.RunInfo(
        target=run.target.name,
        base_url=run.target.display_url,
        spec=str(run.contract.spec_path.name),
        started_at=run.started_at,
        duration_s=time.monotonic() - run.started,
        json_report=run.report_paths[0],
        spec_path=run.contract.spec_path,
        mock_drift=run.target.drift,
    )


# Around pytest's own end of the session (wrapper, tryfirst: outside the terminal reporter's), so the "API
# drift" section comes after pytest's short summary and its final `N failed, M passed` line, and the verdict
# line is the last line a run prints. A `pytest_terminal_summary` hook, even trylast, runs before both.
@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_sessionfinish")
def pytest_sessionfinish_api_drift_last(session: pytest.Session) -> Any:
    result = yield
    ending = session.config.stash.get(ENDING, None)
    terminalreporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if ending is None or terminalreporter is None:
        return result
    terminalreporter.section("API drift")
    for line in ending.ordered():
        terminalreporter.write_line(terminal_line(line))
    return result
