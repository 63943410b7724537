"""`panic-contract record`: record fixtures from a live target, scrubbed, and say how the shape moved.

For each id in `--ids` it fetches the callout, then one id that does not exist (a 404) and one
request without a token (a 401), and writes one fixture per exchange. Everything is fetched
and scrubbed in memory first, so an outage or a rejected token half-way writes nothing; each
file is then written atomically. Re-recording over earlier fixtures prints a shape diff:
fields added or removed, type or nullness changes, status values never seen before. Ordinary
value changes are listed apart and are never drift. `--check` only compares.

Exit codes are the suite's (`verdict.EXIT_CODES`): 0 ok, 1 shape drift (`--check` only) or a body
over `--max-body-size` (drift, as the suite judges it; nothing is written), 4 usage (nothing was sent,
or nothing written), 10 outage, 11 token rejected.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from panic_contract import settings
from panic_contract.core.contract import JSON_MEDIA_TYPE, STAGING_URL, Contract, default_contract
from panic_contract.core.findings import (
    Exchange,
    Inspection,
    Kind,
    Unreadable,
    describe_value,
    exchange_of,
    inspect,
    read_body,
)
from panic_contract.core.fixtures import (
    CONTRACTS_DIR,
    CONTRACTS_IN_CHECKOUT,
    exchange_from_record,
    fixture_text,
    load_fixture,
)
from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, command_stopped, halt_decision, verdict_line
from panic_contract.errors import CredentialError, FixtureError, SettingError
from panic_contract.faults import Credentials, Halt
from panic_contract.outputs import terminal_line, write_all_or_nothing
from panic_contract.redaction import Secret, redact
from panic_contract.sending.auth import CLIENT_ID_VARIABLE, CLIENT_SECRET_VARIABLE, TOKEN_VARIABLE
from panic_contract.sending.quota import Quota
from panic_contract.sending.sender import Limits, Sender, host_of
from panic_contract.sending.token import token_from_environment
from panic_contract.sending.transport import DIRECT, Route, route_for

# Precedence, as in the suite (`settings`): command line, then environment variable, then default.
SHARED_SETTINGS = ("callout_ids", "base_url", "rate_limit", "request_timeout", "retries", "max_body_size")
# Keep this key secret to make pseudonyms that no one can reverse by hashing every candidate id;
# without it a built-in key still keeps raw ids out of the files, and pseudonyms stay stable.
SCRUB_KEY_VARIABLE = "PANIC_CONTRACT_SCRUB_KEY"
DEFAULT_SCRUB_KEY = b"panic-contract: fixture pseudonyms"
MISSING_ID = 999_999_999
# Only what the contract judges is kept: cookies, request ids and dates are noise or worse.
KEPT_RESPONSE_HEADERS = ("content-type",)
PSEUDONYM_FIELDS = frozenset({"customerId"})
COARSENED_FIELDS = frozenset({"latitude", "longitude"})
COORDINATE_DECIMALS = 2  # about a kilometre: enough for the shape, too coarse for an address
PROG = "panic-contract record"


class UsageError(Exception):
    """A mistake in how the command was called; the message is one line saying how to fix it."""


class RecordingError(Exception):
    """Ends the recording with a verdict other than ok (outage, auth); nothing is written."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


@dataclass(frozen=True)
class Options:
    ids: tuple[int, ...]
    base_url: str
    out: Path
    update: bool = False
    check: bool = False
    scrub: bool = True
    limits: Limits = field(default_factory=Limits)
    route: Route = DIRECT

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


# --- command line -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"The token comes only from the environment: {TOKEN_VARIABLE}, or {CLIENT_ID_VARIABLE} and "
        f"{CLIENT_SECRET_VARIABLE} (exchanged for a token at the target). It is never a flag, and is written "
        f"nowhere. {SCRUB_KEY_VARIABLE} keys the customerId pseudonyms. Exit codes: 0 recorded, 1 shape drift "
        "(--check) or a body over --max-body-size (nothing written), 4 usage, 10 outage, 11 token rejected."
    )
    settings.add_arguments(parser, SHARED_SETTINGS)
    parser.add_argument(
        "--target", choices=["staging"], help=f"record from provider staging ({STAGING_URL}); wins over the variable"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the fixtures (default: the project's contracts/, whatever the current folder; "
        "installed from a wheel: ./contracts)",
    )
    parser.add_argument("--update", action="store_true", help="replace fixtures that already exist")
    parser.add_argument("--check", action="store_true", help="only compare with the fixtures there; write nothing")
    parser.add_argument("--no-scrub", action="store_true", help="keep customerId and coordinates as recorded")


def run(args: argparse.Namespace) -> int:
    try:
        options = options_from(args, os.environ)
        return record(options, os.environ)
    except (UsageError, SettingError) as exc:
        return fail(Decision(Verdict.USAGE, str(exc)))
    except RecordingError as stop:
        return fail(stop.decision)


def fail(decision: Decision) -> int:
    return command_stopped(PROG, decision)


def options_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
    if args.target == "staging" and not args.base_url:
        args.base_url = STAGING_URL
    values = settings.from_namespace(args, SHARED_SETTINGS, environ)
    if not values["callout_ids"]:
        raise UsageError(f"no callout ids: pass --ids 992011,992012 (or set {settings.SETTINGS['callout_ids'].env})")
    out = args.out if args.out is not None else default_out()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder: give the fixtures folder, e.g. --out contracts")
    if not args.check:
        check_writable(out)
    base_url = values["base_url"] or STAGING_URL
    limits = Limits(
        timeout=values["request_timeout"],
        rate_limit=values["rate_limit"],
        retries=values["retries"],
        max_body=values["max_body_size"],
    )
    return Options(
        ids=values["callout_ids"],
        base_url=base_url,
        out=out,
        update=args.update,
        check=args.check,
        scrub=not args.no_scrub,
        limits=limits,
        route=route_for(base_url, environ),  # a bad proxy or TLS variable: one usage line, nothing sent
    )


def default_out() -> Path:
    """The project's contracts/ folder wherever the command runs from; installed from a wheel, ./contracts."""
    return CONTRACTS_DIR if CONTRACTS_IN_CHECKOUT else Path.cwd() / "contracts"


def check_writable(out: Path) -> None:
    """Before anything is sent: can files be created in `out` (or in the folder that will hold it)?"""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out}: {existing} is a file, not a folder; nothing was sent")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".panic-contract-probe-", dir=existing))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"--out {out}: cannot write in {existing}: {reason}; nothing was sent") from None


# --- the recording ----------------------------------------------------------------------------


def record(options: Options, environ: Mapping[str, str], out: TextIO | None = None) -> int:
    """Plan, fetch and scrub everything in memory, print the shape diff, then write (or, with --check, not)."""
    stream = out or sys.stdout
    contract = default_contract()
    plan = plan_for(options)
    refuse_to_clobber(plan, options)
    earlier = {planned.path: load_earlier(planned.path) for planned in plan}
    seen_statuses = statuses_in(options.out)
    quota = Quota(rate_limit=options.limits.rate_limit)
    token = token_for(options, environ, quota)
    scrub_key = scrub_key_from(environ) if options.scrub else None
    where = "comparing with" if options.check else "into"
    print(f"recording {len(plan)} exchange(s) from {options.host} {where} {options.out}/", file=stream)
    with Sender(
        options.base_url,
        token,
        documented_method=contract.method,
        limits=options.limits,
        quota=quota,
        route=options.route,
    ) as sender:
        recorded = fetch_all(plan, options, sender, scrub_key=scrub_key, contract=contract, stream=stream)
    diffs = [shape_diff(item, earlier[item.planned.path], seen_statuses, contract) for item in recorded]
    drifted = print_diffs(diffs, options, stream)
    if options.check:
        return report_check(drifted, len(diffs), options, stream)
    write_recorded(recorded, options)
    scrubbed = "scrubbed" if options.scrub else "NOT scrubbed (--no-scrub)"
    print(
        f"recorded {len(recorded)} fixture(s) into {options.out}/ from {options.host}, {scrubbed}; "
        f"{drifted} with shape drift",
        file=stream,
    )
    return EXIT_CODES[Verdict.OK]


def write_recorded(recorded: Sequence[Recorded], options: Options) -> None:
    """All of the set or none of it: every file is staged first, and any failure leaves --out as it was."""
    # masked again whole, the last line of defence: a body value decoded from an escape is text like any other
    files = {item.planned.path: redact(fixture_text(item.record, item.planned.path)) for item in recorded}
    try:
        write_all_or_nothing(files)
    except OSError as exc:
        failed = Path(exc.filename).name if exc.filename else options.out
        raise UsageError(
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
        raise UsageError(f"--check found no earlier recording in {options.out}/ to compare with: record first")
    if existing and not (options.update or options.check):
        raise UsageError(
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


def token_for(options: Options, environ: Mapping[str, str], quota: Quota) -> Secret:
    try:
        return token_from_environment(
            options.base_url, environ, limits=options.limits, quota=quota, route=options.route
        )
    except Halt as halt:
        decision = halt_decision(halt)
        raise RecordingError(Decision(decision.verdict, f"{decision.reason}; nothing was written")) from None
    except CredentialError as exc:
        raise UsageError(str(exc)) from None


def fetch_all(
    plan: Sequence[Planned],
    options: Options,
    sender: Sender,
    *,
    scrub_key: bytes | None,
    contract: Contract,
    stream: TextIO,
) -> list[Recorded]:
    """Fetch, scrub and inspect each planned exchange; stop at the first outage or rejected token.

    A body over --max-body-size stops it too: its fixture could only hold a fragment. The verdict is the
    suite's for that response (drift, exit 1), worded by the judge.
    """
    recorded: list[Recorded] = []
    for number, planned in enumerate(plan, start=1):
        try:
            path = contract.path_for(planned.callout_id)
            response = sender.send("GET", path, credentials=planned.credentials, headers={"Accept": JSON_MEDIA_TYPE})
            exchange = exchange_of(response, planned.credentials)
        except Halt as halt:
            decision = halt_decision(halt)
            raise RecordingError(Decision(decision.verdict, f"{decision.reason}; nothing was written")) from None
        if exchange.oversized is not None:
            finding = inspect(exchange, contract).findings[0]
            raise RecordingError(Decision(Verdict.DRIFT, f"{finding.message()}; nothing was written"))
        item = make_recorded(planned, exchange, options, scrub_key, contract)
        print(f"[{number}/{len(plan)}] {planned.label} {exchange.status} {progress_note(item)}", file=stream)
        recorded.append(item)
    return recorded


def progress_note(item: Recorded) -> str:
    inspection, expected = item.inspection, item.planned.expected_status
    note = str(inspection.signal) if inspection.signal else ", ".join(f.kind for f in inspection.findings) or "ok"
    status = item.record["response"]["status"]
    return note if expected in {None, status} else f"{note} (expected {expected})"


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
    return Recorded(planned, data, inspect(exchange_from_record(data), contract))


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


# --- scrubbing ----------------------------------------------------------------------------------


def scrub_key_from(environ: Mapping[str, str]) -> bytes:
    return environ.get(SCRUB_KEY_VARIABLE, "").encode() or DEFAULT_SCRUB_KEY


def body_entry(raw: bytes | str | None, scrub_key: bytes | None) -> dict[str, Any]:
    """`{"body": parsed}` for JSON, else `{"body_text": text}`, else (not UTF-8) `{"body_base64": ...}`.

    JSON is read by `findings.read_body`, the one reading of a body, so a body the suite judges malformed
    (UTF-16, a byte order mark, NaN, 1e400) is never written as a clean `body`; a body that is not UTF-8 is
    kept byte for byte, never with replacement characters. Scrubbed unless the key is None.
    """
    body = read_body(raw)
    if not isinstance(body, Unreadable):
        return {"body": scrub(body, scrub_key) if scrub_key is not None else body}
    text = _utf8(raw) if isinstance(raw, bytes) else raw or ""
    if text is None:
        assert isinstance(raw, bytes)
        if scrub_key is not None and names_personal_fields(raw.decode("utf-8", errors="replace")):
            return {"body_text": withheld(len(raw), "bytes")}
        return {"body_base64": base64.b64encode(raw).decode("ascii")}
    return {"body_text": scrub_text(text) if scrub_key is not None else text}


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def scrub(value: Any, key: bytes) -> Any:
    """Pseudonymise customerId and coarsen coordinates at any depth (the wrapped shape nests them)."""
    if isinstance(value, dict):
        return {name: _scrub_field(name, item, key) for name, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, key) for item in value]
    return value


def _scrub_field(name: str, value: Any, key: bytes) -> Any:
    if name in PSEUDONYM_FIELDS:
        return pseudonym(value, key)
    if name in COARSENED_FIELDS:
        return coarsen(value)
    return scrub(value, key)


def pseudonym(value: Any, key: bytes) -> Any:
    """A stable stand-in of the same JSON type: same input, same output; null and booleans stay."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [pseudonym(item, key) for item in value]
    if isinstance(value, dict):
        return {name: pseudonym(item, key) for name, item in value.items()}
    if isinstance(value, float):
        return float(_keyed_number(str(int(value)) if value.is_integer() else repr(value), key))
    number = _keyed_number(str(value).strip(), key)
    return number if isinstance(value, int) else str(number)


def _keyed_number(text: str, key: bytes) -> int:
    """Nine digits from a keyed hash: an integer like the ids it replaces, and still a JSON integer."""
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return 100_000_000 + int.from_bytes(digest[:8], "big") % 900_000_000


_DECIMAL = re.compile(r"-?\d+\.\d+")


def coarsen(value: Any) -> Any:
    """Round coordinates; numbers stay numbers (a float stays a float), strings stay strings."""
    if value is None or isinstance(value, bool | int):
        return value  # whole degrees are already coarse
    if isinstance(value, float):
        return round(value, COORDINATE_DECIMALS)
    if isinstance(value, str):
        return _DECIMAL.sub(lambda m: f"{round(float(m.group()), COORDINATE_DECIMALS):.{COORDINATE_DECIMALS}f}", value)
    if isinstance(value, list):
        return [coarsen(item) for item in value]
    if isinstance(value, dict):
        return {name: coarsen(item) for name, item in value.items()}
    return value


def scrub_text(text: str) -> str:
    """A body that is not JSON cannot be scrubbed field by field: withhold it if it names a personal field.

    The placeholder is still not JSON, so the fixture keeps its malformed-body finding.
    """
    return withheld(len(text), "characters") if names_personal_fields(text) else text


def names_personal_fields(text: str) -> bool:
    folded = text.casefold()
    return any(name.casefold() in folded for name in PSEUDONYM_FIELDS | COARSENED_FIELDS)


def withheld(size: int, unit: str) -> str:
    return (
        f"<withheld by scrubbing: a non-JSON body of {size} {unit} naming personal fields; "
        "record with --no-scrub to keep it>"
    )


# --- the shape diff -----------------------------------------------------------------------------

_JSON_TYPES: Mapping[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def shape_of(body: Any) -> dict[str, str]:
    """JSON path -> JSON type, for the body and every field at any depth (array items as `[*]`)."""
    shape: dict[str, str] = {}
    for path, value in _walk(body, "$"):
        kind = json_type(value)
        known = shape.setdefault(path, kind)
        if kind not in known.split("|"):  # array items of mixed types
            shape[path] = "|".join(sorted({*known.split("|"), kind}))
    return shape


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, f"{path}.{name}")
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[*]")


def values_of(body: Any) -> dict[str, Any]:
    """JSON path -> scalar value (array items left out: their paths are not unique)."""
    return {path: value for path, value in _walk(body, "$") if "[*]" not in path and not isinstance(value, dict | list)}


@dataclass
class ShapeDiff:
    """How one exchange's shape moved against its earlier fixture; `changes` are drift, values are not."""

    name: str
    compared: bool
    changes: list[str] = field(default_factory=list)
    value_changes: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    paths: set[str] = field(default_factory=set)  # JSON paths a change line is about

    @property
    def drift(self) -> bool:
        return bool(self.changes)

    def add(self, category: str, line: str, path: str | None = None) -> None:
        self.changes.append(line)
        self.counts[category] += 1
        if path is not None:
            self.paths.add(path)


def shape_diff(
    item: Recorded, earlier: Mapping[str, Any] | None, seen_statuses: frozenset[str], contract: Contract
) -> ShapeDiff:
    diff = ShapeDiff(item.planned.path.name, compared=earlier is not None)
    comparable = earlier is not None and _compare_with_earlier(diff, item, earlier, contract)
    _new_status_values(diff, item, seen_statuses)
    if earlier is not None and comparable:  # last: what no line above explains is a mere value change
        _value_changes(diff, earlier["response"].get("body"), item.record["response"].get("body"))
    return diff


def _compare_with_earlier(diff: ShapeDiff, item: Recorded, earlier: Mapping[str, Any], contract: Contract) -> bool:
    """Add the shape changes; False when the two answers differ too much to compare bodies."""
    old_response, new_response = earlier["response"], item.record["response"]
    if old_response["status"] != new_response["status"]:
        diff.add("status code", f"status code {old_response['status']} -> {new_response['status']}")
        return False
    tags = {f.field: f.kind for f in item.inspection.findings if f.field is not None}
    allowed = _contract_types(contract, new_response["status"])
    _compare_shapes(diff, shape_of(old_response.get("body")), shape_of(new_response.get("body")), allowed, tags)
    _new_findings(diff, earlier, item.inspection, contract)
    return True


def _value_changes(diff: ShapeDiff, old_body: Any, new_body: Any) -> None:
    old_values, new_values = values_of(old_body), values_of(new_body)
    for path in sorted(old_values.keys() & new_values.keys() - diff.paths):
        before, after = old_values[path], new_values[path]
        if before != after:
            diff.value_changes.append(f"{path}: {describe_value(before)} -> {describe_value(after)}")


def _compare_shapes(
    diff: ShapeDiff,
    old_shape: Mapping[str, str],
    new_shape: Mapping[str, str],
    allowed: Mapping[str, frozenset[str]],
    tags: Mapping[str, Kind],
) -> None:
    for path in _outermost(new_shape.keys() - old_shape.keys()):
        diff.add("added", f"+ {path}: {new_shape[path]}, added{_tag(tags, path)}", path)
    for path in _outermost(old_shape.keys() - new_shape.keys()):
        diff.add("removed", f"- {path}: {old_shape[path]}, removed{_tag(tags, path)}", path)
    for path in sorted(old_shape.keys() & new_shape.keys()):
        before, after = old_shape[path], new_shape[path]
        if before != after and not _contract_allows(allowed.get(path), before, after):
            category = "nullness" if "null" in {before, after} else "type"
            diff.add(category, f"~ {path}: {before} -> {after}{_tag(tags, path)}", path)


def _outermost(paths: set[str]) -> list[str]:
    """Drop paths inside another listed path: an added object is one change, not one per field."""
    return sorted(p for p in paths if not any(p != q and p.startswith((q + ".", q + "[")) for q in paths))


def _tag(tags: Mapping[str, Kind], path: str) -> str:
    return f" [{tags[path]}]" if path in tags else ""


def _contract_types(contract: Contract, status: int) -> dict[str, frozenset[str]]:
    """`$.field` -> the JSON types the contract allows there (top-level fields of a documented body)."""
    response = contract.responses.get(status)
    if response is None:
        return {}
    allowed: dict[str, frozenset[str]] = {}
    for name, schema in response.schema.get("properties", {}).items():
        types = schema.get("type", [])
        allowed[f"$.{name}"] = frozenset([types] if isinstance(types, str) else types)
    return allowed


def _contract_allows(allowed: frozenset[str] | None, before: str, after: str) -> bool:
    """A move between two types the contract allows (null <-> number for a nullable latitude) is a value change."""
    if not allowed:
        return False
    widened = allowed | ({"integer"} if "number" in allowed else set())
    return {before, after} <= widened


def _new_findings(diff: ShapeDiff, earlier: Mapping[str, Any], inspection: Inspection, contract: Contract) -> None:
    """Contract findings the earlier fixture did not have, unless a line above already shows them."""
    before = {(f.kind, f.field) for f in inspect(exchange_from_record(earlier), contract).findings}
    for finding in inspection.findings:
        if finding.kind is Kind.UNKNOWN_STATUS or (finding.kind, finding.field) in before:
            continue  # unknown status values are judged against every status seen, not one fixture
        if finding.field not in diff.paths:
            diff.add("contract", f"! {finding.message()}", finding.field)


def _new_status_values(diff: ShapeDiff, item: Recorded, seen: frozenset[str]) -> None:
    body = item.record["response"].get("body")
    status = body.get("status") if isinstance(body, dict) else None
    for finding in item.inspection.findings:
        if finding.kind is Kind.UNKNOWN_STATUS and isinstance(status, str) and status.casefold() not in seen:
            line = f"! $.status: {describe_value(status)}, a status value never seen before [{finding.kind}]"
            diff.add("new status", line, "$.status")


_TOTAL_WORDS = (
    ("added", "field(s) added"),
    ("removed", "removed"),
    ("type", "type change(s)"),
    ("nullness", "nullness change(s)"),
    ("new status", "new status value(s)"),
    ("status code", "status code change(s)"),
    ("contract", "other contract finding(s)"),
)


def print_diffs(diffs: Sequence[ShapeDiff], options: Options, stream: TextIO) -> int:
    """Per exchange, then in total; returns how many drifted."""
    if not any(d.compared or d.drift for d in diffs):
        return 0
    print(f"shape diff against the fixtures in {options.out}/:", file=stream)
    for diff in diffs:
        for line in _diff_lines(diff):
            print(terminal_line(line), file=stream)  # paths and values come from the server
    totals: Counter[str] = sum((d.counts for d in diffs), Counter())
    drifted = sum(d.drift for d in diffs)
    parts = [f"{totals[key]} {words}" for key, words in _TOTAL_WORDS if totals[key]] or ["no shape drift"]
    values = sum(len(d.value_changes) for d in diffs)
    compared = sum(d.compared for d in diffs)
    changed = sum(d.drift for d in diffs if d.compared)
    new = sum(d.drift for d in diffs if not d.compared)  # no earlier file: only a status never seen before
    counts = [f"{changed} of {compared} compared exchange(s) changed shape"] if compared else []
    counts += [f"{new} new exchange(s) with drift"] if new else []
    print(f"  total: {' and '.join(counts)}: {', '.join(parts)}; {values} value change(s) (not drift)", file=stream)
    return drifted


def _diff_lines(diff: ShapeDiff) -> Iterator[str]:
    if diff.compared:
        yield f"  {diff.name}: {'shape changed' if diff.drift else 'same shape'}"
    else:
        yield f"  {diff.name}: new, no earlier recording to compare with"
    for line in diff.changes:
        yield f"    {line}"
    if diff.value_changes:
        yield f"    = value changes (not drift): {', '.join(diff.value_changes)}"


def report_check(drifted: int, total: int, options: Options, stream: TextIO) -> int:
    if drifted:
        decision = Decision(Verdict.DRIFT, f"shape drift in {drifted} of {total} exchange(s); nothing written")
    else:
        decision = Decision(Verdict.OK, f"no shape drift against {options.out}/; nothing written")
    print(verdict_line(decision), file=stream)
    return decision.exit_code
