"""Recording fixtures: plan the exchanges, fetch each through the sender, build its record, write them all or none.

Everything is fetched and scrubbed in memory first, so an outage or a rejected token half-way (the sender's
`Halt`, which travels to the command as it is) writes nothing; the files are then written together, and only
when none of them would break the fixture tests (`refusal`): a redirect or an id that answers 404 is never a
callout fixture, and a fixture with a finding is written only for the kinds named with `--allow-drift`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from panic_contract.core.contract import JSON_MEDIA_TYPE, Contract
from panic_contract.core.findings import Exchange, Inspection, Kind, exchange_of, inspect, redirect_target
from panic_contract.core.fixtures import exchange_from_record, fixture_text, load_fixture
from panic_contract.core.verdict import Decision, Verdict
from panic_contract.errors import FixtureError, UsageError
from panic_contract.faults import Credentials
from panic_contract.outputs import write_all_or_nothing
from panic_contract.recording.scrub import body_entry
from panic_contract.redaction import redact
from panic_contract.sending.sender import Limits, Sender, host_of
from panic_contract.sending.transport import DIRECT, Route

MISSING_ID = 999_999_999
# Only what the contract judges is kept: cookies, request ids and dates are noise or worse.
KEPT_RESPONSE_HEADERS = ("content-type",)


class RecordingUsageError(UsageError):
    """A mistake in how the command was called; the message is one line saying how to fix it."""


class BodyTooLargeError(Exception):
    """A body over --max-body-size: its fixture could hold only a fragment, so nothing is written.

    The message is the judge's finding for that response (drift, as the suite judges it).
    """


@dataclass(frozen=True)
class Options:
    """How one recording runs: the ids, the target and how to reach it, the fixtures' folder and what to do there."""

    ids: tuple[int, ...]
    base_url: str
    out: Path
    update: bool = False
    check: bool = False
    scrub: bool = True
    limits: Limits = field(default_factory=Limits)
    route: Route = DIRECT
    allow_drift: frozenset[Kind] = frozenset()  # --allow-drift: finding kinds a written fixture may carry

    @property
    def host(self) -> str:
        return host_of(self.base_url)


@dataclass(frozen=True)
class Planned:
    """One exchange to record and the file it goes to."""

    callout_id: int
    credentials: Credentials
    path: Path
    expected_status: int | None  # the 404 and 401 probes say what they expect
    label: str


@dataclass
class Recorded:
    planned: Planned
    record: dict[str, Any]
    inspection: Inspection
    # where a redirect led (scheme://host[:port]/path): a fixture keeps no Location, so the record cannot say
    redirected_to: str | None = None


@dataclass(frozen=True)
class Refusal:
    """Why a recording is not written: its verdict, and the lines that list what stands in the way."""

    decision: Decision
    lines: tuple[str, ...] = ()


def is_redirect(status: int) -> bool:
    return 300 <= status < 400


def refusal(recorded: Sequence[Recorded], options: Options) -> Refusal | None:
    """None when the recording may be written; else why not, in the order a person fixes it.

    A redirect (never followed: the token stays on its host) is no answer to record: drift, as the suite
    judges it. A planned callout id that answers 404 does not exist on the target: a usage error, since
    `--ids` names it. Any other finding fails the fixture tests (they fail on every finding, additive ones
    too), so it is written only when its kind is named with `--allow-drift`.
    """
    redirected = [item for item in recorded if is_redirect(item.record["response"]["status"])]
    if redirected:
        return Refusal(Decision(Verdict.DRIFT, _redirect_reason(redirected, len(recorded))))
    missing = [
        item.planned.callout_id
        for item in recorded
        if item.planned.expected_status is None and item.record["response"]["status"] == 404
    ]
    if missing:
        ids = ", ".join(map(str, missing))
        return Refusal(
            Decision(
                Verdict.USAGE,
                f"callout {ids} answered 404 on {options.host}: no such callout there, and a 404 is not a callout "
                f"fixture; pass --ids that exist on {options.host}; nothing was written",
            )
        )
    blocked = [(item, f) for item in recorded for f in item.inspection.findings if f.kind not in options.allow_drift]
    if not blocked:
        return None
    # every kind the recording carries, those already allowed too: the flag to give is the whole list
    kinds = ",".join(dict.fromkeys(str(f.kind) for item in recorded for f in item.inspection.findings))
    files = len({item.planned.path for item, _ in blocked})
    reason = (
        f"{len(blocked)} finding(s) in {files} fixture(s), which the fixture tests would fail on; nothing was "
        f"written: to write them anyway, name their kinds with --allow-drift={kinds}"
    )
    lines = tuple(f"  {item.planned.path.name}: {finding.message()}" for item, finding in blocked)
    return Refusal(Decision(Verdict.DRIFT, reason), ("not written, the fixtures would carry findings:", *lines))


def _redirect_reason(redirected: Sequence[Recorded], total: int) -> str:
    first = redirected[0]
    answer = f"{first.record['response']['status']} redirecting to {first.redirected_to}"
    more = f" ({len(redirected)} of {total} exchanges redirected)" if len(redirected) > 1 else ""
    return (
        f"GET {first.record['request']['path']} answered {answer}{more}: a redirect is not a fixture, and record "
        "never follows one; give --base-url the server that answers itself; nothing was written"
    )


def write_recorded(recorded: Sequence[Recorded], options: Options) -> None:
    """All of the set or none of it: every file is staged first, and any failure leaves --out as it was."""
    # masked again whole, the last line of defence: a body value decoded from an escape is text like any other
    files = {item.planned.path: redact(fixture_text(item.record, item.planned.path)) for item in recorded}
    try:
        write_all_or_nothing(files)
    except OSError as exc:
        failed = Path(exc.filename).name if exc.filename else options.out
        raise RecordingUsageError(
            f"cannot write the fixtures: {failed}: {exc.strerror or exc} (check --out {options.out}); "
            f"nothing in {options.out}/ was changed"
        ) from None


def plan_for(options: Options) -> list[Planned]:
    out, ids = options.out, options.ids
    missing = MISSING_ID
    while missing in ids:
        missing -= 1
    plan = [Planned(i, "valid", out / f"recorded-callout-{i}.json", None, str(i)) for i in ids]
    plan.append(Planned(missing, "valid", out / "recorded-404.json", 404, f"{missing} (no such id)"))
    plan.append(Planned(ids[0], "missing", out / "recorded-401.json", 401, f"{ids[0]} (no token)"))
    return plan


def refuse_to_clobber(plan: Sequence[Planned], options: Options) -> None:
    """Checked before anything is sent: a refused run costs the target nothing."""
    existing = [planned.path for planned in plan if planned.path.exists()]
    if options.check and not existing:
        raise RecordingUsageError(f"--check found no earlier recording in {options.out}/ to compare with: record first")
    if existing and not (options.update or options.check):
        raise RecordingUsageError(
            f"{existing[0]} already exists ({len(existing)} of {len(plan)} fixtures do): "
            "pass --update to replace them, or --check to compare without writing"
        )


def load_earlier(path: Path) -> Mapping[str, Any] | None:
    if not path.exists():
        return None
    try:
        return load_fixture(path).data
    except FixtureError:
        return None  # an unreadable file has no shape to compare with; --update replaces it


def statuses_in(directory: Path) -> frozenset[str]:
    """Every `status` string in the fixtures there, case-folded: what counts as "seen before"."""
    seen: set[str] = set()
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else ():
        data = load_earlier(path)
        body = data["response"].get("body") if data else None
        if isinstance(body, dict) and isinstance(body.get("status"), str):
            seen.add(body["status"].casefold())
    return frozenset(seen)


def fetch_all(
    plan: Sequence[Planned],
    options: Options,
    sender: Sender,
    *,
    scrub_key: bytes | None,
    contract: Contract,
    progress: Callable[[int, Recorded], None],
) -> list[Recorded]:
    """Fetch, scrub and inspect each planned exchange, telling `progress` each one (numbered from 1).

    The first outage or rejected token stops it (the sender's Halt). A body over --max-body-size
    stops it too (BodyTooLargeError): its fixture could only hold a fragment.
    """
    recorded: list[Recorded] = []
    for number, planned in enumerate(plan, start=1):
        path = contract.path_for(planned.callout_id)
        response = sender.send("GET", path, credentials=planned.credentials, headers={"Accept": JSON_MEDIA_TYPE})
        exchange = exchange_of(response, planned.credentials)
        if exchange.oversized is not None:
            raise BodyTooLargeError(inspect(exchange, contract).findings[0].message())
        item = make_recorded(planned, exchange, options, scrub_key, contract)
        progress(number, item)
        recorded.append(item)
    return recorded


def make_recorded(
    planned: Planned, exchange: Exchange, options: Options, scrub_key: bytes | None, contract: Contract
) -> Recorded:
    """The fixture for one exchange, scrubbed in memory, and what the contract says about it."""
    response: dict[str, Any] = {
        "status": exchange.status,
        "headers": {name: exchange.headers[name] for name in KEPT_RESPONSE_HEADERS if name in exchange.headers},
    }
    response.update(body_entry(exchange.body, scrub_key))
    data = {
        "description": describe(planned, options),
        "operation": contract.operation_id,
        "provenance": {
            "source": "recorded",
            "target": options.host,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tool_version": tool_version(),
            "scrubbed": scrub_key is not None,
        },
        "request": {"method": exchange.method, "path": exchange.path, "credentials": exchange.credentials},
        "response": response,
    }
    redirected_to = redirect_target(exchange.headers.get("location", "")) if is_redirect(exchange.status) else None
    return Recorded(planned, data, inspect(exchange_from_record(data), contract), redirected_to)


def describe(planned: Planned, options: Options) -> str:
    if planned.expected_status == 404:
        return f"a callout id that does not exist ({planned.callout_id}), as {options.host} answered it"
    if planned.expected_status == 401:
        return f"callout {planned.callout_id} asked for without a token, as {options.host} answered it"
    return f"callout {planned.callout_id} as {options.host} returned it"


def tool_version() -> str:
    try:
        return metadata.version("panic-contract")
    except metadata.PackageNotFoundError:
        return "0+unknown"
