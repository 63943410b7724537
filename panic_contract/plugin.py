"""The pytest plugin: options, the target, the run's ledger, and the verdict and reports at the end.

The root conftest.py loads this module. Precedence of every setting, everywhere:
command line, then environment variable, then ini/pyproject setting, then default.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, settings

from panic_contract import reports
from panic_contract.contract import (
    SPEC_PATH,
    STAGING_URL,
    Contract,
    SpecError,
    callout_ids,
    load_contract,
    server_root,
)
from panic_contract.findings import Credentials, Exchange, Inspection, Ledger, Signal, inspect
from panic_contract.fixture_files import CONTRACTS_DIR, FixtureError
from panic_contract.verdict import EXIT_CODES, Decision, Verdict, decide

TOKEN_ENV = "PANIC_API_TOKEN"  # noqa: S105 - a variable name, not a secret
WRONG_TOKEN = "deliberately-wrong-token"  # noqa: S105 - sent to prove a 401 for a bad token
LEDGER_KEY = "panic_api_ledger"

# Hypothesis profiles, chosen by name with --hypothesis-profile. Without one: `live` for a live target,
# `ci` where CI is set, `dev` otherwise. Deadlines are off: network latency is not a property of the API.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, print_blob=True)
settings.register_profile(
    "live", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@dataclass(frozen=True)
class Setting:
    """One option: its flag, its environment variable, its ini key and its default."""

    flag: str
    env: str | None
    default: str | None
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        return "panic_" + self.flag.lstrip("-").replace("-", "_")

    @property
    def ini(self) -> str:
        return "panic_api_" + self.flag.lstrip("-").replace("-", "_")


SETTINGS = {
    s.flag: s
    for s in (
        Setting(
            "--target",
            "PANIC_API_TARGET",
            "mock",
            "what to check: the embedded mock or provider staging",
            ("mock", "staging"),
        ),
        Setting(
            "--base-url",
            "PANIC_API_BASE_URL",
            None,
            "root URL (scheme://host[:port]) of any server of this API; setting it means a live target",
        ),
        Setting(
            "--callout-ids", "PANIC_API_CALLOUT_IDS", None, "comma-separated ids known to exist on the live target"
        ),
        Setting(
            "--strict-drift", "PANIC_API_STRICT_DRIFT", "0", "fail on additive findings (new fields) too", ("0", "1")
        ),
        Setting(
            "--contracts-dir", "PANIC_API_CONTRACTS_DIR", None, "folder of recorded fixtures (default: contracts/)"
        ),
        Setting("--drift-report", "PANIC_API_DRIFT_REPORT", None, "write the JSON drift report to this path"),
        Setting("--drift-report-md", "PANIC_API_DRIFT_REPORT_MD", None, "write a Markdown drift summary to this path"),
        Setting("--rate-limit", "PANIC_API_RATE_LIMIT", "2", "live targets: requests per second (0 = no limit)"),
        Setting("--request-budget", "PANIC_API_REQUEST_BUDGET", "400", "live targets: stop after this many requests"),
        Setting("--request-timeout", "PANIC_API_REQUEST_TIMEOUT", "10", "seconds to wait for one response"),
        Setting(
            "--retries", "PANIC_API_RETRIES", "2", "retries of a transport error, 429 or 502/503/504, with backoff"
        ),
    )
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("panic-api", "Panic API contract suite")
    for s in SETTINGS.values():
        env = f" [env {s.env}]" if s.env else ""
        if s.flag == "--strict-drift":
            group.addoption(s.flag, dest=s.dest, action="store_const", const="1", default=None, help=s.help + env)
        else:
            group.addoption(s.flag, dest=s.dest, default=None, choices=s.choices, help=s.help + env)
        parser.addini(s.ini, s.help, default=None)
    from panic_contract.mock import Drift

    group.addoption(
        "--mock-drift",
        dest="panic_mock_drift",
        action="append",
        default=[],
        choices=[str(d) for d in Drift],
        help="switch a drift or fault on in the embedded mock, to see what the suite reports (repeatable)",
    )


def _setting(config: pytest.Config, flag: str) -> str | None:
    s = SETTINGS[flag]
    value = config.getoption(s.dest)
    if value is None and s.env:
        value = os.environ.get(s.env) or None
    if value is None:
        value = config.getini(s.ini)
    value = value if value not in (None, "") else s.default
    if value is not None and s.choices and value not in s.choices:
        raise pytest.UsageError(f"{s.flag} (or {s.env}) is {value!r}; allowed: {', '.join(s.choices)}")
    return value


def _number(config: pytest.Config, flag: str, kind: Callable[[str], float]) -> float:
    raw = _setting(config, flag)
    try:
        value = kind(raw or "")
    except ValueError:
        value = -1
    if value < 0:
        env = SETTINGS[flag].env
        raise pytest.UsageError(f"{flag} (or {env}) is {raw!r}; it must be a number >= 0")
    return value


@dataclass
class Target:
    name: Literal["mock", "staging", "custom"]
    base_url: str
    token: str = field(repr=False)
    callout_ids: tuple[int, ...]
    drift: tuple[str, ...] = ()

    @property
    def live(self) -> bool:
        return self.name != "mock"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc if self.live else "the embedded mock"


def _parse_ids(raw: str | None) -> tuple[int, ...]:
    try:
        return callout_ids(raw or "")
    except ValueError as exc:
        raise pytest.UsageError(
            f"--callout-ids (or PANIC_API_CALLOUT_IDS) is {raw!r}; {exc}: give comma-separated integers, "
            "e.g. 992011,992012"
        ) from None


def _base_url(raw: str) -> str:
    try:
        return server_root(raw)
    except ValueError:
        raise pytest.UsageError(
            f"--base-url (or PANIC_API_BASE_URL) is {raw!r}; give the server root as scheme://host[:port], "
            "e.g. http://127.0.0.1:8000"
        ) from None


def contracts_dir(config: pytest.Config) -> Path:
    raw = _setting(config, "--contracts-dir")
    directory = Path(raw) if raw else CONTRACTS_DIR
    if not directory.is_dir():
        raise pytest.UsageError(
            f"--contracts-dir (or PANIC_API_CONTRACTS_DIR) is {str(directory)!r}; no such folder of fixtures"
        )
    return directory


def resolve_target(config: pytest.Config, fixtures: Path) -> Target:
    from panic_contract.mock import MOCK_TOKEN, known_callout_ids

    name = _setting(config, "--target")
    base_url = _setting(config, "--base-url")
    ids = _parse_ids(_setting(config, "--callout-ids"))
    drift = tuple(config.getoption("panic_mock_drift"))
    if base_url is None and name == "mock":
        try:
            known = tuple(known_callout_ids(fixtures))
        except FixtureError as exc:
            raise pytest.UsageError(str(exc)) from None
        return Target("mock", "http://127.0.0.1:8000", MOCK_TOKEN, ids or known, drift)
    if drift:
        raise pytest.UsageError(
            "--mock-drift switches the embedded mock; it cannot change a live target "
            "(drop --mock-drift, or --base-url/--target staging)"
        )
    url = _base_url(base_url) if base_url else STAGING_URL
    token = _live_token(url)
    return Target("custom" if base_url else "staging", url, token, ids)


def _live_token(base_url: str) -> str:
    from panic_contract.client import (
        AuthRejected,
        CredentialError,
        OutageError,
        TokenExchangeError,
        resolve_token,
    )

    try:
        return resolve_token(base_url)
    except AuthRejected as exc:
        _exit_with(Verdict.AUTH, exc)
    # TokenExchangeError before CredentialError, its base: a failing token endpoint is the provider's outage
    except (TokenExchangeError, OutageError) as exc:
        _exit_with(Verdict.OUTAGE, exc)
    except CredentialError as exc:
        raise pytest.UsageError(f"live target {base_url}: {exc}") from None


def _exit_with(verdict: Verdict, exc: Exception) -> NoReturn:
    """Stop before any test, with the verdict's line and exit code (no target was reached to test)."""
    code = EXIT_CODES[verdict]
    pytest.exit(f"verdict: {verdict} (exit {code}): {exc}", returncode=code)


class MaskedHeader(str):
    """A header value whose repr hides it: pytest prints call arguments in tracebacks."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'Bearer ***'"


class TargetUnavailableError(Exception):
    """Raised instead of sending more requests once the target is down or refuses our token."""


@dataclass
class SuiteRun:
    """Everything one pytest run knows about its target, and the ledger of what it saw."""

    target: Target
    contract: Contract
    contracts_dir: Path
    strict_drift: bool
    rate_limit: float
    budget: int
    timeout: float
    retries: int
    ledger: Ledger = field(default_factory=Ledger)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    halted: str | None = None
    judged: bool = False  # the session collected suite tests, so it ends with a verdict
    budget_note: str | None = None
    _session: Any = None

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": MaskedHeader(f"Bearer {self.target.token}")}

    def credentials_of(self, authorization: str | None) -> Credentials:
        if not authorization:
            return "missing"
        return "valid" if authorization == f"Bearer {self.target.token}" else "invalid"

    def judge(self, exchange: Exchange) -> Inspection:
        """Record what the contract says of one exchange; raise AssertionError if the run must fail on it."""
        inspection = inspect(exchange, self.contract)
        self.ledger.add(inspection)
        if inspection.signal is not None:
            raise AssertionError(self._signal_message(inspection.signal, exchange))
        failing = [f for f in inspection.findings if f.severity == "breaking" or self.strict_drift]
        if failing:
            raise AssertionError("\n".join(f.message() for f in failing))
        return inspection

    def _signal_message(self, signal: Signal, exchange: Exchange) -> str:
        if signal is Signal.AUTH_REJECTED:
            self.halted = f"{self.target.host} rejected our token (401): refresh {TOKEN_ENV}"
        elif signal is Signal.GATEWAY_ERROR:
            retried = f" after {self.retries} retries" if self.target.live else ""
            self.halted = self.ledger.outage = f"{self.target.host} answered {exchange.status}{retried}: outage"
        else:
            return f"{exchange.request}: still 429 after {self.retries} retries; lower --rate-limit"
        return self.halted

    def session(self) -> Any:
        """A requests session that waits out 429/Retry-After and retries 502/503/504 (urllib3's Retry)."""
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            retry = Retry(
                total=self.retries,
                connect=0,
                read=0,
                status=self.retries,
                backoff_factor=0.5,
                status_forcelist=(429, 502, 503, 504),
                allowed_methods={"GET"},
                respect_retry_after_header=True,
                raise_on_status=False,
            )
            self._session = requests.Session()
            self._session.mount("http://", HTTPAdapter(max_retries=retry))
            self._session.mount("https://", HTTPAdapter(max_retries=retry))
        return self._session

    def send(self, case: Any, **kwargs: Any) -> Any:
        """Send a schemathesis case to the target, failing fast once it is down or over budget."""
        if self.halted:
            raise TargetUnavailableError(self.halted)
        if self.target.live and self.ledger.requests >= self.budget:
            self.budget_note = f"stopped at the request budget of {self.budget} (--request-budget)"
            pytest.skip(self.budget_note)
        import requests

        if self.target.live:
            kwargs.setdefault("session", self.session())
            kwargs.setdefault("timeout", self.timeout)
        try:
            return kwargs.pop("_send")(case, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.halted = self.ledger.outage = f"cannot reach {self.target.host}: {describe_transport_error(exc)}"
            raise TargetUnavailableError(self.halted) from None

    def call_and_validate(self, case: Any) -> None:
        """The property test's one line: schemathesis's checks plus the contract's findings.

        `ignored_auth` is left out here: through pytest it re-probes every case with two extra requests
        (the CLI probes once per run), and `test_callout_needs_a_valid_token` probes once, on an id that
        exists, which is where a missing or wrong token can show. That spares a live target a third of the
        suite's requests.
        """
        from schemathesis.specs.openapi.checks import ignored_auth

        self.send(
            case,
            _send=lambda c, **kw: c.call_and_validate(
                additional_checks=[contract_findings], excluded_checks=[ignored_auth], **kw
            ),
            headers=self.auth_headers,
        )

    def probe(self, case: Any, credentials: Credentials) -> Inspection:
        """Send one case with the given credentials and judge the response."""
        headers = {
            "valid": self.auth_headers,
            "missing": {},
            "invalid": {"Authorization": f"Bearer {WRONG_TOKEN}"},
        }[credentials]
        response = self.send(case, _send=lambda c, **kw: c.call(**kw), headers=headers)
        return self.judge(exchange_of(response, case, credentials))


def describe_transport_error(exc: BaseException) -> str:
    text = str(exc)
    for needle, words in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "DNS lookup failed"),
        ("nodename nor servname", "DNS lookup failed"),
        ("SSL", "TLS handshake failed"),
        ("timed out", "timed out"),
        ("RemoteDisconnected", "connection closed without a response"),
        ("Connection reset", "connection reset"),
    ):
        if needle in text:
            return words
    return type(exc).__name__


def exchange_of(response: Any, case: Any, credentials: Credentials) -> Exchange:
    headers = {name.lower(): values[0] for name, values in response.headers.items() if values}
    return Exchange(
        method=case.method.upper(),
        path=case.formatted_path,
        status=response.status_code,
        headers=headers,
        body=response.content,
        credentials=credentials,
    )


def contract_findings(ctx: Any, response: Any, case: Any) -> bool | None:
    """The contract's own check: known status values, id equals calloutId, every finding kind."""
    run = active_run()
    authorization = response.request.headers.get("Authorization")
    run.judge(exchange_of(response, case, run.credentials_of(authorization)))
    return None


_RUN: SuiteRun | None = None


def active_run() -> SuiteRun:
    if _RUN is None:
        raise RuntimeError("the panic-api plugin is not active: run the suite with pytest from the project root")
    return _RUN


@functools.cache
def suite_schema() -> Any:
    """The schemathesis schema of the spec, pointed at the selected target (called at import of the suite).

    Two known traps shape this: `schemathesis.pytest.from_fixture` breaks on pytest 9.2, so the schema is
    built at import from the run `pytest_configure` set up; and `case.call_and_validate(app=...)` crashes in
    schemathesis 4.32, so the in-process mock is set on the schema instead. No upstream issue was found
    for either; revisit both when upgrading.
    """
    import schemathesis
    from hypothesis import strategies as st

    run = active_run()
    schema = schemathesis.openapi.from_path(str(run.contract.spec_path))
    if run.target.live:
        rate = f"{run.rate_limit:g}/s" if run.rate_limit else None
        schema.config.update(
            base_url=run.target.base_url, rate_limit=rate, request_timeout=run.timeout, request_retries=run.retries
        )
    else:
        from panic_contract.mock import create_app

        schema.app = create_app(drift=run.target.drift, contracts_dir=run.contracts_dir)
        schema.config.update(base_url="http://127.0.0.1")
    ids = run.target.callout_ids

    @schema.hook
    def flatmap_case(context: Any, case: Any) -> Any:
        # Random ids almost never exist on a real server: positive cases also try the ids known to exist.
        if not ids or case.meta is None or case.meta.generation.mode.is_negative:
            return st.just(case)
        return st.sampled_from((None, *ids)).map(lambda chosen: _with_id(case, chosen))

    return schema


def _with_id(case: Any, chosen: int | None) -> Any:
    if chosen is not None:
        case.path_parameters = {**(case.path_parameters or {}), active_run().contract.path_parameter: chosen}
    return case


@pytest.fixture(scope="session")
def panic_run() -> SuiteRun:
    """The run's target, ledger and senders."""
    return active_run()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _RUN is None:
        return []
    t = _RUN.target
    where = "in-process (serve it with: panic-contract mock --port 8000)" if not t.live else t.base_url
    drift = f", mock drift: {', '.join(t.drift)}" if t.drift else ""
    return [
        f"panic-api target: {t.name}, base URL: {where}{drift}",
        f"panic-api spec: {_RUN.contract.spec_path}; callout ids: {', '.join(map(str, t.callout_ids)) or 'none'}",
    ]


def pytest_configure(config: pytest.Config) -> None:
    global _RUN  # noqa: PLW0603 - one run per process; the suite module reads it at import
    if config.option.help:
        return
    fixtures = contracts_dir(config)
    target = resolve_target(config, fixtures)
    if config.getoption("hypothesis_profile", None) is None:
        settings.load_profile("live" if target.live else "ci" if os.environ.get("CI") else "dev")
    _RUN = SuiteRun(
        target=target,
        contract=_contract(),
        contracts_dir=fixtures,
        strict_drift=_setting(config, "--strict-drift") == "1",
        rate_limit=_number(config, "--rate-limit", float),
        budget=int(_number(config, "--request-budget", int)),
        timeout=_number(config, "--request-timeout", float),
        retries=int(_number(config, "--retries", int)),
    )
    config.stash[_DECISION] = None


def _contract() -> Contract:
    try:
        return load_contract(SPEC_PATH)
    except SpecError as exc:
        raise pytest.UsageError(f"{exc} (fix spec/ or restore it from git)") from None


_DECISION = pytest.StashKey[Decision | None]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = active_run()
    # A verdict belongs to runs of the contract suite, not to the project's own tests.
    run.judged = any("panic_run" in getattr(item, "fixturenames", ()) for item in items)
    if run.target.live:
        return
    skip = pytest.mark.skip(reason="needs a live target: pass --target staging or --base-url with PANIC_API_TOKEN")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: fold each worker's ledger into the controller's, so there is one report."""
    data = getattr(node, "workeroutput", {}).get(LEDGER_KEY)
    if data is not None and _RUN is not None:
        _RUN.ledger.merge(data)
        _RUN.judged = _RUN.judged or data.get("judged", False)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = _RUN
    if run is None:
        return
    if _is_worker(session.config):
        session.config.workeroutput[LEDGER_KEY] = {**run.ledger.as_dict(), "judged": run.judged}  # type: ignore[attr-defined]
        return
    if not run.judged or exitstatus in (
        pytest.ExitCode.USAGE_ERROR,
        pytest.ExitCode.INTERNAL_ERROR,
        pytest.ExitCode.INTERRUPTED,
    ):
        return
    decision = decide(
        run.ledger,
        strict_drift=run.strict_drift,
        require_validated_body=True,
        tests_failed=session.testsfailed > 0,
        host=run.target.host,
    )
    if run.budget_note and decision.verdict is Verdict.OK:
        decision = Decision(decision.verdict, f"{decision.reason}; {run.budget_note}")
    session.config.stash[_DECISION] = decision
    session.exitstatus = decision.exit_code
    info = _run_info(run)
    reports.write_reports(
        run.ledger, decision, info, _path(session.config, "--drift-report"), _path(session.config, "--drift-report-md")
    )


def _path(config: pytest.Config, flag: str) -> Path | None:
    value = _setting(config, flag)
    return Path(value) if value else None


def _run_info(run: SuiteRun) -> reports.RunInfo:
    return reports.RunInfo(
        target=run.target.name,
        base_url=run.target.base_url,
        spec=str(run.contract.spec_path.name),
        started_at=run.started_at,
        duration_s=time.monotonic() - run.started,
    )


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    decision = config.stash.get(_DECISION, None)
    if decision is None or _RUN is None:
        return
    terminalreporter.section("API drift")
    for line in reports.terminal_lines(_RUN.ledger, decision, _RUN.target.base_url):
        terminalreporter.write_line(line)
