"""The one table of settings (flag, variable, ini key, default, parser) for pytest and every subcommand.

Precedence, everywhere: command line, then environment variable, then the `panic_api_*` ini
setting (pytest only), then the default. Each setting parses its own value; a value that does
not parse is a `SettingError` whose message is the one line a user sees: what was given, what is
allowed, and the flag or variable that fixes it.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panic_contract.core.contract import STAGING_URL, Contract, callout_ids, path_steps, server_root
from panic_contract.core.past import Command, Keeping
from panic_contract.errors import SettingError
from panic_contract.history.records import Location, default_location, location


class HiddenValueError(ValueError):
    """A value that must not be echoed back (it may hold a credential)."""


def _number(text: str, *, integer: bool, low: float, high: float, rule: str) -> float:
    """`text` as a number from `low` to `high`; else ValueError(`rule`), which names the bounds.

    Bounded above too: a finite number can still be too large to sleep or wait on (1e300 seconds is an
    OverflowError deep in the socket layer), and far past any sensible value it is a typo, not a wish.
    """
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValueError(rule) from None
    if not (integer or math.isfinite(value)) or not low <= value <= high:  # an int is finite, and may be huge
        raise ValueError(rule)
    return value


# One attempt at a request, all of it (connect, headers, body): under a millisecond nothing answers, and
# a target that needs more than an hour for a callout of under 1 KiB is down, not slow.
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 0.001, 3600


def seconds(text: str) -> float:
    rule = f"it must be from {MIN_TIMEOUT_S:g} to {MAX_TIMEOUT_S:g} seconds, e.g. 10"
    return _number(text, integer=False, low=MIN_TIMEOUT_S, high=MAX_TIMEOUT_S, rule=rule)


# 0 is no limit. Slower than one request per 100 s, the n + 5 deterministic probes alone take over ten
# minutes and a default run days; faster than 1000/s is no limit in practice (and no target allows it).
MIN_RATE, MAX_RATE = 0.01, 1000


def requests_per_second(text: str) -> float:
    rule = f"it must be 0 (no limit) or from {MIN_RATE:g} to {MAX_RATE:g} requests per second, e.g. 0.5"
    value = _number(text, integer=False, low=0, high=MAX_RATE, rule=rule)
    if 0 < value < MIN_RATE:
        raise ValueError(rule)
    return value


# At the default 2 requests per second a million requests take six days: a larger budget is no budget.
# (Runs on a loopback mock pass 1000000 to mean "no limit": bench/run.py does.)
MAX_BUDGET = 1_000_000


def request_budget(text: str) -> int:
    rule = f"it must be a whole number from 1 to {MAX_BUDGET}, e.g. 400"
    return int(_number(text, integer=True, low=1, high=MAX_BUDGET, rule=rule))


MAX_RETRIES = 10


def retries(text: str) -> int:
    rule = f"it must be a whole number from 0 to {MAX_RETRIES}"
    return int(_number(text, integer=True, low=0, high=MAX_RETRIES, rule=rule))


# A callout is under 1 KiB: 10 KiB is the least that leaves room for any honest answer. The cap is also what
# one response (or one capture record) may cost in memory, so it stops at 1 GiB.
MIN_BODY_MIB, MAX_BODY_MIB = 0.01, 1024
_UNITS = {"b": 1, "kib": 1 << 10, "kb": 1000, "mib": 1 << 20, "mb": 1000**2, "gib": 1 << 30, "gb": 1000**3}
_SIZE = re.compile(r"\s*([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*([a-z]*)\s*", re.ASCII | re.IGNORECASE)


def body_size(text: str) -> int:
    """A size in bytes: a number of MiB (`4`, `0.5`), or a number with its unit (`512KiB`, `16MiB`, `1GB`)."""
    rule = (
        f"it must be from {MIN_BODY_MIB:g} to {MAX_BODY_MIB:g} MiB: a number of MiB (e.g. 4 or 0.5) or a size "
        "with its unit (512KiB, 16MiB)"
    )
    matched = _SIZE.fullmatch(text)
    if matched is None:
        raise ValueError(rule)
    unit = matched[2].casefold()
    factor = _UNITS.get(unit, 0) if unit else 1 << 20
    size = float(matched[1]) * factor
    if not MIN_BODY_MIB * (1 << 20) <= size <= MAX_BODY_MIB * (1 << 20):
        raise ValueError(rule)
    return int(size)


# How far ahead an accepted-drift entry may expire: a day at least; ten years is no cap at all.
MAX_ACCEPT_DAYS = 3650


def days(text: str) -> int:
    rule = f"it must be a whole number of days from 1 to {MAX_ACCEPT_DAYS}, e.g. 90"
    return int(_number(text, integer=True, low=1, high=MAX_ACCEPT_DAYS, rule=rule))


def switch(text: str) -> bool:
    folded = text.strip().casefold()
    if folded in {"1", "true", "yes", "on"}:
        return True
    if folded in {"0", "false", "no", "off"}:
        return False
    raise ValueError("allowed: 1 or 0")


def base_url(text: str) -> str:
    """A server root; never echoed when it carries userinfo, which may be a password."""
    if "@" in text.partition("://")[2].partition("/")[0]:
        raise HiddenValueError(
            "has user:password@ in it (not shown); put credentials in PANIC_API_TOKEN, not in the URL"
        )
    try:
        return server_root(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; give the server root as scheme://host[:port], e.g. http://127.0.0.1:8000") from None


def ids(text: str) -> tuple[int, ...]:
    try:
        return callout_ids(text)
    except ValueError as exc:
        raise ValueError(f"{exc}: give comma-separated callout ids, e.g. 992011,992012") from None


def text(value: str) -> str:
    return value


def size_text(size: int) -> str:
    """`4 MiB`, `512 KiB`, or bytes: how a size setting reads back in a message."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor:,} {unit}"
    return f"{size:,} bytes"


def server_roots(value: str) -> tuple[str, ...]:
    """Comma-separated server roots (the flag may also be repeated), each as --base-url takes one."""
    roots = tuple(dict.fromkeys(base_url(part.strip()) for part in value.split(",") if part.strip()))
    if not roots:
        raise ValueError("give a server root as scheme://host[:port], e.g. http://127.0.0.1:8000")
    return roots


def field_paths(value: str) -> tuple[str, ...]:
    """JSON paths from the root, separated by spaces (or commas): `$.id $.status`."""
    paths = tuple(dict.fromkeys(part for part in re.split(r"[\s,]+", value) if part))
    for path in paths:
        if path_steps(path) is None:
            raise ValueError(f"{path[:40]!r} is not a JSON path: write each field from the root $, e.g. $.id $.status")
    if not paths:
        raise ValueError("give the fields the integration reads as JSON paths, e.g. $.id $.status")
    return paths


def check_reads(reads: tuple[str, ...] | None, contract: Contract) -> None:
    """Every path `--reads` names is a field the spec documents; else a SettingError naming the first that is not."""
    for path in reads or ():
        if not contract.documents(path):
            documented = " ".join(f"$.{name}" for name in contract.responses[200].schema.get("properties", {}))
            raise SettingError(
                f"{SETTINGS['reads'].origin()} names {path!r}, which {contract.spec_path.name} does not document in "
                f"a callout; name fields it has: {documented}"
            )


def history_store(text: str) -> Location:
    """A history store: a file path (SQLite), sqlite:///PATH or postgresql://...; never echoed (a password)."""
    try:
        return location(text)
    except ValueError as exc:
        raise HiddenValueError(f"is not a history store (not shown): {exc}") from None


@dataclass(frozen=True)
class Setting:
    """One option: its flag, environment variable, ini key, default and parser."""

    flag: str
    env: str | None
    default: str | None
    help: str
    parse: Callable[[str], Any] = text
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    repeatable: bool = False  # the flag may be given several times; its values are joined with commas

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def dest(self) -> str:
        return "panic_" + self.name

    @property
    def ini(self) -> str:
        return "panic_api_" + self.name

    @property
    def is_switch(self) -> bool:
        return self.parse is switch

    def origin(self) -> str:
        return f"{self.flag} (or {self.env})" if self.env else self.flag

    def value(self, raw: str | None) -> Any:
        """Parse `raw` (already chosen by precedence), or the default when it is None or empty."""
        chosen = raw if raw not in (None, "") else self.default
        if chosen is None:
            return None
        if self.choices and chosen not in self.choices:
            raise SettingError(f"{self.origin()} is {chosen!r}; allowed: {', '.join(self.choices)}")
        try:
            return self.parse(chosen)
        except HiddenValueError as exc:
            raise SettingError(f"{self.origin()} {exc}") from None
        except ValueError as exc:
            raise SettingError(f"{self.origin()} is {chosen!r}; {exc}") from None

    def help_text(self) -> str:
        default = f"; default {self.default}" if self.default not in (None, "") else ""
        env = f" [env {self.env}]" if self.env else ""
        return f"{self.help}{default}{env}"


SETTINGS: Mapping[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "--target",
            "PANIC_API_TARGET",
            "mock",
            "what to check: the embedded mock, or provider staging (" + STAGING_URL + ")",
            choices=("mock", "staging"),
        ),
        Setting(
            "--base-url",
            "PANIC_API_BASE_URL",
            None,
            "root URL (scheme://host[:port]) of any server of this API; setting it means a live target",
            base_url,
            "URL",
        ),
        Setting(
            "--callout-ids",
            "PANIC_API_CALLOUT_IDS",
            None,
            "comma-separated ids known to exist on the live target",
            ids,
            "IDS",
            aliases=("--ids",),
        ),
        Setting("--strict-drift", "PANIC_API_STRICT_DRIFT", "0", "fail on additive findings (new fields) too", switch),
        Setting(
            "--spec",
            "PANIC_API_SPEC",
            None,
            "the OpenAPI spec the API is held to, and that propose edits "
            "(default: the shipped spec/panic-api.openapi.yaml)",
            metavar="PATH",
        ),
        Setting(
            "--contracts-dir",
            "PANIC_API_CONTRACTS_DIR",
            None,
            "folder of recorded fixtures (default: the project's contracts/)",
            metavar="DIR",
        ),
        Setting(
            "--accepted-drift",
            "PANIC_API_ACCEPTED_DRIFT",
            None,
            "YAML file of accepted drift (kind, field, reason, expires): matching findings do not fail",
            metavar="FILE",
        ),
        Setting(
            "--accept-max-days",
            "PANIC_API_ACCEPT_MAX_DAYS",
            None,
            "an accepted-drift entry may expire at most this many days from today (unset: no cap)",
            days,
            "DAYS",
        ),
        Setting("--drift-report", "PANIC_API_DRIFT_REPORT", None, "write the JSON drift report here", metavar="PATH"),
        Setting(
            "--drift-report-md",
            "PANIC_API_DRIFT_REPORT_MD",
            None,
            "write a Markdown drift summary here",
            metavar="PATH",
        ),
        Setting(
            "--drift-report-html",
            "PANIC_API_DRIFT_REPORT_HTML",
            None,
            "write the run as one self-contained HTML page here (no network, readable with scripts off)",
            metavar="PATH",
        ),
        Setting(
            "--drift-report-sarif",
            "PANIC_API_DRIFT_REPORT_SARIF",
            None,
            "write the findings here as SARIF 2.1.0, each at its line of the spec (for GitHub code scanning)",
            metavar="PATH",
        ),
        Setting(
            "--coverage",
            "PANIC_API_COVERAGE",
            "0",
            "report what the traffic exercised: status codes, each field present, absent, null, the status "
            "values, and what the contract documents that was never seen",
            switch,
        ),
        Setting(
            "--rate-limit",
            "PANIC_API_RATE_LIMIT",
            "2",
            "live targets: requests per second, fractions allowed (0: no limit)",
            requests_per_second,
            "RPS",
        ),
        Setting(
            "--request-budget",
            "PANIC_API_REQUEST_BUDGET",
            "400",
            "live targets: send at most this many requests in the whole run",
            request_budget,
            "N",
        ),
        Setting(
            "--request-timeout",
            "PANIC_API_REQUEST_TIMEOUT",
            "10",
            "seconds one response may take, all of it (connect, status line, headers, body); each retry anew",
            seconds,
            "SECONDS",
            aliases=("--timeout",),
        ),
        Setting(
            "--max-body-size",
            "PANIC_API_MAX_BODY_SIZE",
            "4",
            "the largest response body, decoded, in MiB or with a unit (512KiB); a larger one is dropped there, a "
            "malformed-body finding (audit: the largest JSON Lines line or HAR body read)",
            body_size,
            "MIB",
        ),
        Setting(
            "--retries",
            "PANIC_API_RETRIES",
            "2",
            "retries of a transport error, a 429 or a 502/503/504, with backoff",
            retries,
            "N",
        ),
        Setting(
            "--reads",
            "PANIC_API_READS",
            None,
            "the fields the integration reads, as JSON paths separated by spaces ($.id $.status): drift only on "
            "other fields is a warning, which fails the run only under --strict-drift (unset: every field is read)",
            field_paths,
            "PATHS",
        ),
        Setting(
            "--server",
            "PANIC_API_SERVERS",
            None,
            "panic-contract audit: also judge exchanges with this server (scheme://host[:port]; repeatable, or "
            "comma-separated); the spec's and the provider's documented hosts are always judged",
            server_roots,
            "URL",
            repeatable=True,
        ),
        Setting(
            "--history",
            "PANIC_API_HISTORY",
            None,
            "keep every run and its findings in this store: a file (SQLite), sqlite:///PATH, or "
            "postgresql://USER:PASSWORD@HOST[:PORT]/DB shared by CI jobs (default: .panic-contract/history.sqlite "
            "beside the rootdir; a command: in the current folder)",
            history_store,
            "PATH_OR_URL",
        ),
        Setting("--no-history", "PANIC_API_NO_HISTORY", "0", "keep no history of this run", switch),
    )
}


HISTORY_SETTINGS = ("history", "no_history")


def keeping(values: Mapping[str, Any], root: Path, command: Command) -> Keeping:
    """Where a run is kept: --history, else `.panic-contract/history.sqlite` in `root` (pytest's rootdir, as it
    keeps `.pytest_cache`; a command's current folder); nowhere with --no-history."""
    if values["no_history"]:
        return Keeping(None, command)
    return Keeping(values["history"] or default_location(root), command)


def resolve(setting: Setting, cli: str | None, environ: Mapping[str, str], ini: str | None = None) -> Any:
    """The setting's parsed value: command line, then environment, then ini, then default."""
    for raw in (cli, environ.get(setting.env) if setting.env else None, ini):
        if raw not in (None, ""):
            return setting.value(raw)
    return setting.value(None)


def add_arguments(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Add the named settings to an argparse subcommand; defaults stay None so precedence can apply."""
    for name in names:
        s = SETTINGS[name]
        flags = (s.flag, *s.aliases)
        if s.is_switch:
            parser.add_argument(*flags, dest=s.name, action="store_const", const="1", help=s.help_text())
        elif s.repeatable:
            parser.add_argument(*flags, dest=s.name, action="append", metavar=s.metavar, help=s.help_text())
        else:
            parser.add_argument(*flags, dest=s.name, metavar=s.metavar, choices=s.choices, help=s.help_text())


def from_namespace(args: argparse.Namespace, names: Iterable[str], environ: Mapping[str, str]) -> dict[str, Any]:
    """The named settings' values for a subcommand (no ini there): command line, environment, default."""
    values = {}
    for name in names:
        given = getattr(args, name, None)
        values[name] = resolve(SETTINGS[name], ",".join(given) if isinstance(given, list) else given, environ)
    return values
