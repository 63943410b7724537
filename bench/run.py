"""The benchmark: one command, `python bench/run.py`, prints every figure the README quotes.

1. The default `pytest` run (embedded mock) against the bare `schemathesis run` CLI on the same
   spec, example count and mock (served on loopback for the CLI); then the suite against that
   loopback server against the CLI again. Wall time, median of --reps runs, and the ratio. Then
   both at the same rate limit (10/s) against a loopback mock, clean and drifting: requests counted
   by the server and wall time to a verdict, one run each (sending at the limit sets the time).
2. What importing the suite costs before the first test: `pytest --collect-only` against a bare
   `pytest --version`, median subprocess wall time.
3. `panic-contract audit` throughput and peak memory over generated JSON Lines and HAR files, with
   one job and with --jobs (default: every usable core), against the same validation done with the
   pure-Python `jsonschema` library on the same data, and beside them the machine's own ceiling:
   how much faster N CPU-bound processes finish N times the work of one.
4. Every response bounded: wall time and peak memory of the suite and `record` against loopback servers
   that drip, or send bodies far past the cap (512 MiB, endless, a gzip bomb), beside a clean server.
5. What masking costs: `redact()` (every encoding, every 12-character run) on 1 KiB and 4 MiB bodies,
   beside the plain `str.replace` per secret it replaced.
6. The audit's bounds: peak memory and wall time on one 400 MiB record and on a file that never ends.
7. The history store (`bench/history.py`): a year of hourly runs (9,000 x 20 findings) in SQLite and
   PostgreSQL; `panic-contract history` and what keeping a run adds to its end.
9. Beside its peer: Redocly CLI's `redocly drift` (installed from npm into a cache folder when Node and
   npm are there; skipped, saying why, when not) on the same generated HAR, beside the HAR floor (orjson
   on the entries, each body, the compiled validator, nothing else); JSON Lines against its floor (orjson
   per line and the compiled validator on the body), on the bench's mix and with no line drifting; one
   core each, start-up included; then --jobs N against --jobs 1. Wall time, peak RSS and the ratios,
   from one run. The package is byte-compiled first, as `pip install` leaves it.

Every measurement runs in a child process, so one measurement cannot warm up another, and the
child's own rusage gives its CPU time and peak memory (max RSS). Audit throughput is responses
judged per wall second (per CPU second too, which other load on the machine moves less).
Needs the test extras (`pip install -e ".[test]"`) for `jsonschema`.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import logging
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import captures  # noqa: E402 - bench/ is not a package; its helper module sits beside this script

SPEC = REPO / "spec" / "panic-api.openapi.yaml"
BIN = Path(sys.executable).parent
GIB = 1 << 30


@dataclass
class Child:
    """What one child process cost: wall time, CPU time, exit code, and what it printed."""

    wall_s: float
    cpu_s: float
    code: int
    output: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.output.strip().splitlines()[-1])


def run_child(argv: Sequence[str], *, cwd: Path = REPO, env: dict[str, str] | None = None) -> Child:
    """Run argv to completion; rusage of exactly this child (os.wait4), not of all children."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return Child(wall, usage.ru_utime + usage.ru_stime, process.returncode, text)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANIC_API_")}
    return {**env, **extra}


def median_wall(argv: Sequence[str], reps: int, **kwargs: Any) -> tuple[float, list[Child]]:
    children = [run_child(argv, **kwargs) for _ in range(reps)]
    return statistics.median(c.wall_s for c in children), children


# ---------------------------------------------------------------------------------------------
# 1. The suite against the bare schemathesis CLI


def example_count() -> tuple[str, int]:
    """The profile the default run picks (plugin.py: `ci` where CI is set, else `dev`) and its count."""
    import hypothesis

    import panic_contract.pytest.plugin  # noqa: F401 - registers the suite's hypothesis profiles

    name = "ci" if os.environ.get("CI") else "dev"
    return name, int(hypothesis.settings.get_profile(name).max_examples)


def cli_argv(base_url: str, examples: int | None, *extra: str) -> list[str]:
    """The bare CLI on the spec; `examples` None keeps its own default example count."""
    count = ["-n", str(examples)] if examples is not None else []
    return [
        str(BIN / "schemathesis"),
        "run",
        str(SPEC),
        "--url",
        base_url,
        "-H",
        "Authorization: Bearer mock-token",
        *count,
        "--no-color",
        *extra,
    ]


class CountingApp:
    """The mock, counting the HTTP requests it answers: both tools are counted the same way, on the server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests += 1  # uvicorn runs the app on its one event loop thread
        await self.app(scope, receive, send)


@contextlib.contextmanager
def loopback_mock(drift: Sequence[str] = ()) -> Iterator[tuple[str, CountingApp]]:
    from panic_contract.mock import create_app, serve

    counter = CountingApp(create_app(drift=drift))
    with serve(counter) as base_url:
        # The CLI's negative cases send requests h11 refuses; uvicorn's warning about each is noise here.
        # (Set after the server started: uvicorn configures its loggers on start.)
        logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
        yield base_url, counter


def bench_suite(reps: int, rows: list[list[str]]) -> None:
    from panic_contract.mock import known_callout_ids

    profile, examples = example_count()
    pytest = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"]
    with tempfile.TemporaryDirectory() as scratch, loopback_mock() as (base_url, _):
        cwd = Path(scratch)  # the CLI writes .hypothesis/ and reports into its working directory
        suite_s, suite = median_wall(pytest, reps, env=clean_env())
        cli_s, cli = median_wall(cli_argv(base_url, examples), reps, cwd=cwd, env=clean_env())
        rows.append(row(f"pytest (default, in-process mock, profile {profile})", suite_s, suite))
        rows.append(row(f"schemathesis run -n {examples} vs loopback mock", cli_s, cli))
        rows.append(["  ratio pytest / CLI (target <= 1.0)", f"{suite_s / cli_s:.2f}", "", ""])
        ids = ",".join(str(i) for i in known_callout_ids()[:3])
        live = [
            *pytest,
            "--base-url",
            base_url,
            "--callout-ids",
            ids,
            "--rate-limit",
            "0",
            "--request-budget",
            "1000000",
            f"--hypothesis-profile={profile}",
        ]
        live_s, live_children = median_wall(live, reps, env=clean_env(PANIC_API_TOKEN="mock-token"))
        rows.append(row("pytest --base-url loopback mock, same profile", live_s, live_children))
        rows.append(["  ratio live pytest / CLI (target <= 1.10)", f"{live_s / cli_s:.2f}", "", ""])
    bench_rate_limited(rows)


# A live gate is bound by the provider's rate limit: its cost is the requests a complete verdict needs.
RATE_LIMIT = 10  # requests per second, both tools (the suite's --rate-limit 10, the CLI's --rate-limit 10/s)
DRIFT = ("null-in-non-nullable", "schemathesis-check")  # a body drift and a check failure both tools can see


def bench_rate_limited(rows: list[list[str]]) -> None:
    """Requests sent and wall time to a verdict at the same rate limit, the suite (live, `live` profile, 3 ids)
    against the bare CLI (its defaults), on one loopback mock, clean and drifting. Requests are counted by
    the server; one run each, as sending at the rate limit, not the CPU, sets the time."""
    from panic_contract.mock import known_callout_ids
    from panic_contract.pytest.probes import minimal_probe_count

    ids = known_callout_ids()[:3]
    minimal = minimal_probe_count(ids)
    pytest = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider"]
    rate = ["--rate-limit", f"{RATE_LIMIT}/s"]
    for drift in ((), DRIFT):
        where = f"drifting mock ({', '.join(drift)})" if drift else "clean mock"
        with tempfile.TemporaryDirectory() as scratch, loopback_mock(drift) as (base_url, counter):
            cwd = Path(scratch)
            report = cwd / "drift.json"
            suite = [*pytest, "--base-url", base_url, "--callout-ids", ",".join(map(str, ids)),
                     "--rate-limit", str(RATE_LIMIT), f"--drift-report={report}"]  # fmt: skip
            suite_n, suite_child = _counted(counter, suite, env=clean_env(PANIC_API_TOKEN="mock-token"))
            found = sorted({f["kind"] for f in json.loads(report.read_text())["findings"]}) or ["nothing"]
            cli_n, cli_child = _counted(counter, cli_argv(base_url, None, *rate), cwd=cwd, env=clean_env())
            rows.append([f"rate limit {RATE_LIMIT}/s, {where}:", "requests", "wall", ""])
            rows.append(_rate_row("  pytest --base-url, 3 ids, profile live", suite_n, suite_child, found))
            rows.append(_rate_row("  schemathesis run (its defaults)", cli_n, cli_child, _cli_found(cli_child)))
            wall = suite_child.wall_s / cli_child.wall_s
            rows.append(["  ratio suite / CLI (target: wall <= 0.25)", f"{suite_n / cli_n:.2f}", f"{wall:.2f}", ""])
            if drift:  # the bare CLI stops a phase at its first failure: the same complete verdict as the suite's
                every = cli_argv(base_url, None, *rate, "--continue-on-failure")
                all_n, all_child = _counted(counter, every, cwd=cwd, env=clean_env())
                rows.append(
                    _rate_row("  schemathesis run --continue-on-failure", all_n, all_child, _cli_found(all_child))
                )
                all_wall = suite_child.wall_s / all_child.wall_s
                rows.append(["  ratio suite / that CLI run", f"{suite_n / all_n:.2f}", f"{all_wall:.2f}", ""])
            rows.append(
                [f"  suite / minimal probe set ({minimal}) (target <= 2.0)", f"{suite_n / minimal:.2f}", "", ""]
            )


def _counted(counter: CountingApp, argv: Sequence[str], **kwargs: Any) -> tuple[int, Child]:
    before = counter.requests
    child = run_child(argv, **kwargs)
    return counter.requests - before, child


def _rate_row(label: str, requests: int, child: Child, found: Sequence[str]) -> list[str]:
    return [label, str(requests), f"{child.wall_s:.2f} s", f"exit {child.code}; found: {', '.join(found)}"]


def _cli_found(child: Child) -> list[str]:
    """The CLI's failure kinds, from its summary (`❌ ST108 Response violates schema: 1`)."""
    return sorted(set(re.findall(r"(ST\d+ [^:\n]+): \d+", child.output))) or ["nothing"]


def row(label: str, seconds: float, children: list[Child]) -> list[str]:
    codes = sorted({c.code for c in children})
    tests = _count(children[-1].output)
    return [label, f"{seconds:.2f} s", f"exit {','.join(map(str, codes))}", tests]


def _count(output: str) -> str:
    found = re.findall(r"(\d+ passed|\d+ failed|\d+ test cases?|\d+ generated)", output)
    return ", ".join(dict.fromkeys(found)) if found else ""


# ---------------------------------------------------------------------------------------------
# 2. Import cost


def bench_import(reps: int, rows: list[list[str]]) -> None:
    pytest = str(BIN / "pytest")
    version_s, _ = median_wall([pytest, "--version"], reps, env=clean_env())
    collect_s, _ = median_wall([pytest, "--collect-only", "-q", "-p", "no:cacheprovider"], reps, env=clean_env())
    rows.append(["pytest --version", f"{version_s:.2f} s", f"median of {reps}", ""])
    rows.append(["pytest --collect-only (the suite imported)", f"{collect_s:.2f} s", f"median of {reps}", ""])
    rows.append(["  import cost of the suite", f"{collect_s - version_s:.2f} s", "", ""])


# ---------------------------------------------------------------------------------------------
# 3. Audit throughput and memory, against pure-Python jsonschema


def child_audit(path: Path, jobs: int) -> dict[str, Any]:
    """One audit of `path` with `jobs` processes; peak memory of this process and of each worker."""
    import resource

    from panic_contract.capture.splitting import audit_files
    from panic_contract.core.contract import default_contract

    contract = default_contract()
    workers = WorkerPeaks()
    cpu, wall = time.process_time(), time.perf_counter()
    children_cpu = _children_cpu(resource)
    with workers:
        result = audit_files([path], contract, jobs=jobs)
    wall_s = time.perf_counter() - wall
    return {
        "responses": result.audited,
        "entries": result.entries,
        "findings": sum(e.count for e in result.ledger.entries.values()),
        "cpu_s": time.process_time() - cpu + _children_cpu(resource) - children_cpu,
        "wall_s": wall_s,
        "worker_peaks_mb": sorted(workers.peaks.values(), reverse=True),
        "pss_mb": workers.pss_mb,
    }


def _children_cpu(resource: Any) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, once the pool has joined them
    return float(usage.ru_utime + usage.ru_stime)


class WorkerPeaks:
    """Every 100 ms, the high-water RSS (VmHWM) of each child process: the audit's workers.

    VmHWM only grows, so the last reading before a worker exits is its peak; workers are idle by then
    (the pool joins them once every part is judged)."""

    def __init__(self) -> None:
        import threading

        self.peaks: dict[int, float] = {}
        self.pss_mb = 0.0  # the highest sum of proportional set sizes (shared pages split between processes)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> WorkerPeaks:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.stop.wait(0.1):  # one reading costs ~0.8 ms of CPU, taken from the workers
            pids = _child_pids()
            for pid in pids:
                peak = _peak_rss_mb(f"/proc/{pid}/status")
                if not math.isnan(peak):  # the worker was still there
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), peak)
            if pids:
                self.pss_mb = max(self.pss_mb, sum(_pss_mb(pid) for pid in ["self", *pids]))


def _pss_mb(pid: int | str) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child_pids() -> list[int]:
    pids: list[int] = []
    for children in Path("/proc/self/task").glob("*/children"):
        with contextlib.suppress(OSError):
            pids.extend(int(pid) for pid in children.read_text().split())
    return pids


def child_baseline(path: Path, fmt: str, limit: int | None) -> dict[str, Any]:
    """The same schema validation with pure-Python jsonschema, over the same parsed data.

    The same parsers (orjson per line; ijson's C backend for a HAR), the same path match and the
    contract's response schemas with format checking. It only counts errors, and skips the cheap
    checks (status values, ids, new fields) the audit also makes, so it errs in its own favour.
    """
    import orjson
    from jsonschema import Draft202012Validator

    from panic_contract.core.contract import default_contract

    contract = default_contract()
    validators = {
        status: Draft202012Validator(dict(r.schema), format_checker=Draft202012Validator.FORMAT_CHECKER)
        for status, r in contract.responses.items()
    }
    responses = errors = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for status, body in _baseline_bodies(path, fmt, contract, orjson.loads):
        if limit is not None and responses >= limit:
            break
        responses += 1
        validator = validators.get(status)
        if validator is not None and isinstance(body, dict) and not validator.is_valid(body):
            errors += sum(1 for _ in validator.iter_errors(body))
    return {
        "responses": responses,
        "errors": errors,
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
    }


def _baseline_bodies(path: Path, fmt: str, contract: Any, loads: Any) -> Iterator[tuple[int, Any]]:
    with path.open("rb", buffering=1 << 20) as stream:
        if fmt == "jsonl":
            for line in stream:
                record = loads(line)
                if contract.match_path(record["request"]["path"]) is None:
                    continue
                response = record["response"]
                body = response["body"] if "body" in response else _loads_or_none(loads, response.get("body_text"))
                yield response["status"], body
        else:
            import ijson

            from panic_contract.capture.scope import url_path

            backend = ijson.get_backend("yajl2_c")
            for entry in backend.items(stream, "log.entries.item", use_float=True, buf_size=1 << 20):
                url = entry["request"]["url"]
                if contract.match_path(url_path(url)) is None:
                    continue
                response = entry["response"]
                yield response["status"], _loads_or_none(loads, response["content"].get("text"))


def _loads_or_none(loads: Any, text: str | None) -> Any:
    try:
        return loads(text or "")
    except ValueError:
        return None


def _peak_rss_mb(status: str = "/proc/self/status") -> float:
    """A process's own high-water RSS (VmHWM). rusage's ru_maxrss is no good here: on Linux it keeps
    the high-water mark of the forked copy of the parent from before exec, so every child would report
    at least the bench's own size."""
    try:
        text = Path(status).read_text()
    except OSError:
        return float("nan")
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_main(argv: Sequence[str]) -> int:
    kind, fmt, path, number = argv
    if kind == "audit":
        figures = child_audit(Path(path), int(number))
    else:
        figures = child_baseline(Path(path), fmt, int(number) or None)
    figures["peak_mb"] = _peak_rss_mb()
    print(json.dumps(figures))
    return 0


SPIN = "x = 0\nfor i in range(20_000_000):\n    x += i"  # pure CPU, no memory traffic: what one core does alone


def machine_parallelism(jobs: int) -> float:
    """How much faster `jobs` processes finish `jobs` times the same CPU-bound work than one process does it
    once: `jobs` on `jobs` idle cores, less where other load (or the host, for a VM) takes CPU. The most any
    `--jobs` speed-up can be, measured in the same run."""
    argv = [sys.executable, "-c", SPIN]
    solo = min(run_child(argv).wall_s for _ in range(2))
    started = time.perf_counter()
    processes = [subprocess.Popen(argv) for _ in range(jobs)]
    for process in processes:
        process.wait()
    return jobs * solo / (time.perf_counter() - started)


def measure(kind: str, fmt: str, path: Path, number: int) -> tuple[dict[str, Any], Child]:
    """A child process auditing `path`: `number` is the jobs for an audit, the response limit for the baseline."""
    argv = [sys.executable, __file__, "--child", kind, fmt, str(path), str(number)]
    child = run_child(argv)
    if child.code != 0:
        raise SystemExit(f"bench: the {kind} child failed on {path.name}:\n{child.output}")
    return child.json(), child


def bench_audit(sizes: list[int], big: bool, baseline_limit: int | None, jobs: int, rows: list[list[str]]) -> None:
    """Throughput is responses per wall second, for one job, for `jobs` and for the baseline, each in its own
    child process (per CPU second too: other load on the machine moves that less). Peak memory is the
    audit's own VmHWM plus each worker's (which counts the pages a forked worker shares with its parent
    once per process), and the highest sum of their proportional set sizes (PSS, shared pages split)."""
    with tempfile.TemporaryDirectory(prefix="panic-bench-") as scratch:
        folder = Path(scratch)
        plan: list[tuple[str, int, bool]] = [(fmt, n, True) for n in sizes for fmt in ("jsonl", "har")]
        if big:
            plan += [("jsonl", _count_for_gib(folder, "jsonl"), False), ("har", _count_for_gib(folder, "har"), False)]
        for fmt, count, with_baseline in plan:
            path = folder / f"capture-{count}.{fmt}"
            started = time.perf_counter()
            size = (captures.write_jsonl if fmt == "jsonl" else captures.write_har)(path, count)
            generated = time.perf_counter() - started
            rows.append([f"audit {fmt} {count:,} exchanges ({size / 2**20:,.0f} MiB, made in {generated:.0f} s)"])
            rates = {}
            for n in dict.fromkeys((1, jobs)):
                if n > 1:  # just before, as other load on the machine comes and goes
                    ceiling = machine_parallelism(n)
                    rows.append([f"  {n} CPU-bound processes / 1, same work each (the ceiling)", f"{ceiling:.2f}x"])
                figures, _ = measure("audit", fmt, path, n)
                rates[n] = figures["responses"] / figures["wall_s"]
                workers = figures["worker_peaks_mb"]
                memory = f"peak {figures['peak_mb'] + sum(workers):,.0f} MB"
                if workers:
                    memory += f" ({figures['peak_mb']:,.0f} + {' + '.join(f'{w:,.0f}' for w in workers)}"
                    memory += f"; PSS {figures['pss_mb']:,.0f} MB)"
                rows.append(
                    [
                        f"  --jobs {n}",
                        f"{rates[n]:,.0f} resp/s",
                        f"{figures['wall_s']:.2f} s wall",
                        f"{figures['cpu_s']:.1f} s CPU ({figures['responses'] / figures['cpu_s']:,.0f}/CPU s); "
                        + memory,
                    ]
                )
            if jobs > 1:
                rows.append(
                    [f"  ratio --jobs {jobs} / --jobs 1 (target >= 1.8)", f"{rates[jobs] / rates[1]:.2f}x", "", ""]
                )
            if with_baseline:
                limit = baseline_limit if baseline_limit and baseline_limit < count else None
                base, _ = measure("baseline", fmt, path, limit or 0)
                base_rate = base["responses"] / base["wall_s"]
                over = f" (first {base['responses']:,})" if limit else ""
                rows.append(
                    [
                        f"  jsonschema baseline{over}",
                        f"{base_rate:,.0f} resp/s",
                        f"{base['wall_s']:.2f} s wall",
                        f"{base['cpu_s']:.1f} s CPU ({base['responses'] / base['cpu_s']:,.0f}/CPU s); "
                        f"peak {base['peak_mb']:,.0f} MB",
                    ]
                )
                rows.append(["  ratio --jobs 1 / baseline", f"{rates[1] / base_rate:.1f}x", "", ""])
                if jobs > 1:
                    rows.append(
                        [f"  ratio --jobs {jobs} / baseline (target >= 20)", f"{rates[jobs] / base_rate:.1f}x", "", ""]
                    )
            path.unlink()


def _count_for_gib(folder: Path, fmt: str) -> int:
    """How many exchanges make about 1 GiB in this format, from a small sample."""
    sample = folder / f"sample.{fmt}"
    size = (captures.write_jsonl if fmt == "jsonl" else captures.write_har)(sample, 10_000)
    sample.unlink()
    return GIB * 10_000 // size


# ---------------------------------------------------------------------------------------------
# 7. Beside its peer: Redocly CLI's `drift` on the same HAR, and the floor for JSON Lines, one core each


REDOCLY_PACKAGE = "@redocly/cli"
REDOCLY_CACHE = Path(os.environ.get("PANIC_BENCH_CACHE", Path.home() / ".cache" / "panic-contract-bench")) / "redocly"
# The floor: what one core does per JSON Lines record at the least, parse it and validate its body (compiled).
FLOOR_CODE = """
import sys, orjson
from panic_contract.core.contract import default_contract
is_valid = default_contract().responses[200].validator.is_valid
loads, valid = orjson.loads, 0
with open(sys.argv[1], "rb", buffering=1 << 20) as lines:
    for line in lines:
        body = loads(line)["response"].get("body")
        if body is not None and is_valid(body):
            valid += 1
print(valid)
"""

# The floor for HAR: the least a reader of this design does. The file read at once (no bound on memory), its
# entries found by the same byte scan as the audit's and parsed by orjson ~32 KiB at a time, each entry's body
# parsed, the compiled validator on it: no check of the entry, no scope, no finding.
HAR_FLOOR_CODE = r"""
import re, sys, orjson
from panic_contract.core.contract import default_contract
is_valid = default_contract().responses[200].validator.is_valid
loads, valid = orjson.loads, 0
with open(sys.argv[1], "rb") as capture:
    data = capture.read()
start = re.compile(rb'"entries"\s*:\s*\[').search(data).end()
key = re.compile(rb'\s*\{\s*"([^"]+)"').match(data, start)[1]
cut = re.compile(rb',\s*\{\s*"' + re.escape(key) + rb'"')
end = data.rindex(b"]")  # log.entries's, before the closing }}
while start < end:
    found = cut.search(data, start + (32 << 10), end)
    stop = found.start() if found else end
    for entry in loads(b"[" + data[start:stop] + b"]"):
        try:
            body = loads(entry["response"]["content"].get("text") or "")
        except orjson.JSONDecodeError:
            continue
        if type(body) is dict and is_valid(body):
            valid += 1
    start = stop + 1
print(valid)
"""


def redocly() -> tuple[Path | None, str]:
    """Redocly CLI's `redocly` script, installed into a cache folder from the npm registry; or why not."""
    script = REDOCLY_CACHE / "node_modules" / ".bin" / "redocly"
    if script.exists():
        return script, ""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "Node.js and npm are not installed (Redocly CLI runs on Node 20.19 or later)"
    REDOCLY_CACHE.mkdir(parents=True, exist_ok=True)
    child = run_child([npm, "install", "--no-audit", "--no-fund", "--prefix", str(REDOCLY_CACHE), REDOCLY_PACKAGE])
    if child.code != 0 or not script.exists():
        return None, f"npm install {REDOCLY_PACKAGE} failed (exit {child.code}): {child.output.strip()[-200:]}"
    return script, ""


def timed(argv: Sequence[str], *, one_core: bool) -> tuple[Child, float, float]:
    """The child's wall time, peak RSS in MB and CPU seconds (user + system), measured by /usr/bin/time (a
    small exec'd parent, so the child's max RSS is its own), on core 0 alone when `one_core`. On a shared
    machine the CPU seconds move less than the wall time: the ratios are given by both."""
    pin = ["taskset", "-c", "0"] if one_core and shutil.which("taskset") else []
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        child = run_child(["/usr/bin/time", "-o", rss.name, "-f", "%M %U %S", *pin, *argv])
        peak, user, system = rss.read().strip().splitlines()[-1].split()
    return child, int(peak) / 1024, float(user) + float(system)


def _wall(child: Child, cpu: float) -> str:
    return f"{child.wall_s:.2f} ({cpu:.2f} CPU)"


def bench_peer(har_count: int, jsonl_count: int, jobs: int, big: bool, rows: list[list[str]]) -> None:
    """`panic-contract audit` beside Redocly CLI's `redocly drift` on one generated HAR, both on one core,
    start-up included; then JSON Lines against the floor (orjson per line, the compiled validator on the
    body), one core each; then --jobs N against --jobs 1. Wall time, CPU time and peak RSS of each, in one run."""
    audit = [str(BIN / "panic-contract"), "audit"]
    script, why = redocly()
    rows.append(["what (one core: taskset -c 0; start-up included)", "wall s (CPU s)", "peak RSS MB", "outcome"])
    with tempfile.TemporaryDirectory(prefix="panic-bench-peer-") as scratch:
        folder = Path(scratch)
        counts = [(har_count, jsonl_count)]
        if big:
            counts.append((_count_for_gib(folder, "har"), _count_for_gib(folder, "jsonl")))
        for har_n, jsonl_n in counts:
            har = folder / f"capture-{har_n}.har"
            size = captures.write_har(har, har_n)
            rows.append([f"HAR, {har_n:,} exchanges ({size / 2**20:,.0f} MiB)"])
            report = folder / "drift.json"
            ours, ours_mb, ours_cpu = timed(
                [*audit, "--jobs", "1", str(har), f"--drift-report={report}"], one_core=True
            )
            kinds = sorted({f["kind"] for f in json.loads(report.read_text())["findings"]})
            rows.append(["  panic-contract audit --jobs 1", _wall(ours, ours_cpu), f"{ours_mb:,.0f}",
                         f"exit {ours.code}; {len(kinds)} kinds of finding"])  # fmt: skip
            if script is None:
                rows.append(["  redocly drift: skipped", "", "", why])
            else:
                found = folder / "redocly.json"
                found.unlink(missing_ok=True)  # a report from the run before must not pass for this one's
                argv = [str(script), "drift", str(har), "--api", str(SPEC), "--format", "json", "-o", str(found)]
                peer, peer_mb, peer_cpu = timed(argv, one_core=True)
                try:
                    by_rule = json.loads(found.read_text())["run"]["findingsByRule"]
                    outcome, reported = f"exit {peer.code}; findings by rule: {by_rule}", True
                except (OSError, ValueError, KeyError):  # it stopped without a report (exit 1 is also its drift)
                    outcome, reported = f"exit {peer.code}, no report: {_first_error(peer.output)}", False
                rows.append([f"  redocly drift ({_redocly_version(script)})", _wall(peer, peer_cpu),
                             f"{peer_mb:,.0f}", outcome[:160]])  # fmt: skip
                if reported and peer.code in (0, 1):
                    rows.append(["  ratio redocly / audit --jobs 1 (target >= 5)",
                                 f"{peer.wall_s / ours.wall_s:.2f}x ({peer_cpu / ours_cpu:.2f}x CPU)"])  # fmt: skip
            floor, floor_mb, floor_cpu = timed([sys.executable, "-c", HAR_FLOOR_CODE, str(har)], one_core=True)
            valid = floor.output.strip()[-12:]
            rows.append(["  floor: orjson on the entries, each body, the compiled validator", _wall(floor, floor_cpu),
                         f"{floor_mb:,.0f}", f"{valid} valid; memory grows with the file"])  # fmt: skip
            rows.append(["  ratio audit --jobs 1 / floor, wall", f"{floor.wall_s / ours.wall_s:.2f}"])
            if script is not None and reported and peer.code in (0, 1):
                rows.append(["  ratio redocly / floor: the most a reader of this design reaches",
                             f"{peer.wall_s / floor.wall_s:.2f}x ({peer_cpu / floor_cpu:.2f}x CPU)"])  # fmt: skip
            for row in _jobs_rows([*audit, str(har), f"--drift-report={report}"], jobs, ours):
                rows.append(row)  # one at a time: the table prints each row as it comes
            har.unlink()
            lines = folder / f"capture-{jsonl_n}.jsonl"
            size = captures.write_jsonl(lines, jsonl_n)
            rows.append([f"JSON Lines, {jsonl_n:,} lines ({size / 2**20:,.0f} MiB)"])
            floor, floor_mb, floor_cpu = timed([sys.executable, "-c", FLOOR_CODE, str(lines)], one_core=True)
            rows.append(["  floor: orjson.loads per line + the compiled validator's is_valid", _wall(floor, floor_cpu),
                         f"{floor_mb:,.0f}", f"{jsonl_n / floor.wall_s:,.0f} lines/s"])  # fmt: skip
            ours, ours_mb, ours_cpu = timed(
                [*audit, "--jobs", "1", str(lines), f"--drift-report={report}"], one_core=True
            )
            rows.append(["  panic-contract audit --jobs 1", _wall(ours, ours_cpu), f"{ours_mb:,.0f}",
                         f"exit {ours.code}; {jsonl_n / ours.wall_s:,.0f} lines/s"])  # fmt: skip
            rows.append(["  ratio audit / floor, lines per second (target >= 0.7)",
                         f"{floor.wall_s / ours.wall_s:.2f} ({floor_cpu / ours_cpu:.2f} CPU)"])  # fmt: skip
            for row in _jobs_rows([*audit, str(lines), f"--drift-report={report}"], jobs, ours, lines=jsonl_n):
                rows.append(row)
            lines.unlink()
            _clean_lines_rows(folder / f"clean-{jsonl_n}.jsonl", jsonl_n, audit, report, rows)


def _clean_lines_rows(lines: Path, count: int, audit: list[str], report: Path, rows: list[list[str]]) -> None:
    """The same count of lines, every one a clean callout: what the audit costs per line beside the floor when
    no line drifts (the mix above has one in twenty drifting, whose findings cost the most)."""
    size = captures.write_jsonl(lines, count, mix=False)
    rows.append([f"JSON Lines without drift, {count:,} lines ({size / 2**20:,.0f} MiB)"])
    floor, floor_mb, floor_cpu = timed([sys.executable, "-c", FLOOR_CODE, str(lines)], one_core=True)
    rows.append(["  floor", _wall(floor, floor_cpu), f"{floor_mb:,.0f}", f"{count / floor.wall_s:,.0f} lines/s"])
    ours, ours_mb, ours_cpu = timed([*audit, "--jobs", "1", str(lines), f"--drift-report={report}"], one_core=True)
    rows.append(["  panic-contract audit --jobs 1", _wall(ours, ours_cpu), f"{ours_mb:,.0f}",
                 f"exit {ours.code}; {count / ours.wall_s:,.0f} lines/s"])  # fmt: skip
    ratio = f"{floor.wall_s / ours.wall_s:.2f} ({floor_cpu / ours_cpu:.2f} CPU)"
    rows.append(["  ratio audit / floor, lines per second", ratio])
    lines.unlink()


def _jobs_rows(argv: list[str], jobs: int, one_job: Child, *, lines: int | None = None) -> list[list[str]]:
    """The audit at --jobs N on every core, and its wall time against the --jobs 1 run (`one_job`)."""
    many, many_mb, many_cpu = timed([*argv, "--jobs", str(jobs)], one_core=False)
    rate = f"; {lines / many.wall_s:,.0f} lines/s" if lines else ""
    return [
        [f"  panic-contract audit --jobs {jobs}", _wall(many, many_cpu), f"{many_mb:,.0f} (largest)",
         f"exit {many.code}{rate}"],
        [f"  ratio --jobs 1 / --jobs {jobs} wall", f"{one_job.wall_s / many.wall_s:.2f}x"],
    ]  # fmt: skip


def _first_error(output: str) -> str:
    """The line of a failed run that says what went wrong (Node prints its stack after it), else its last."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"\w*Error: ", line)]  # RangeError: Invalid string length
    return (named or lines or ["no output"])[0]


def _redocly_version(script: Path) -> str:
    package = script.parent.parent / "@redocly" / "cli" / "package.json"
    try:
        return f"Redocly CLI {json.loads(package.read_text())['version']}"
    except (OSError, ValueError, KeyError):
        return "Redocly CLI"


# ---------------------------------------------------------------------------------------------


def byte_compiled() -> str:
    """The package byte-compiled, as `pip install` leaves it: a checkout run with PYTHONDONTWRITEBYTECODE (or on
    a read-only tree) would otherwise compile every module from source at each start, ~0.1 s the floor pays less."""
    import panic_contract  # the package the commands run: the checkout, or where it is installed

    folder = Path(panic_contract.__file__).parent
    compiled = compileall.compile_dir(str(folder), quiet=1)
    return f"byte-compiled {folder}: {'yes' if compiled else 'no (some module did not compile)'}"


def machine() -> list[str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine: {os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable), {model}",
        f"python {platform.python_version()} ({platform.python_implementation()}), {platform.platform()}",
        f"load average at start: {load}",
    ]


class Table(list[list[str]]):
    """Rows printed as they are measured, so a long run shows progress and a failure keeps them."""

    WIDTHS = (62, 16, 16)

    def __init__(self, title: str) -> None:
        super().__init__()
        print(f"\n== {title}", flush=True)

    def append(self, cells: list[str]) -> None:
        super().append(cells)
        padded = [cell.ljust(width) for cell, width in zip(cells, self.WIDTHS, strict=False)]
        print("  " + "  ".join([*padded, *cells[len(self.WIDTHS) :]]).rstrip(), flush=True)


PARTS = ("suite", "import", "audit", "bounds", "masking", "audit-bounds", "history", "html", "peer")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        return child_main(args[1:])
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also audit ~1 GiB JSON Lines and HAR files")
    parser.add_argument("--sizes", default="100000,1000000", help="exchanges per generated file (default 100k, 1M)")
    parser.add_argument("--reps", type=int, default=3, help="runs per subprocess timing; the median is shown")
    parser.add_argument(
        "--baseline-limit",
        type=int,
        default=200_000,
        help="the jsonschema baseline judges at most this many responses per file (its rate is "
        "per response; 0 = the whole file, which takes minutes at 1M)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="the audit's jobs, measured against one job (default: every usable core)",
    )
    parser.add_argument(
        "--peer-sizes",
        default="100000,1000000",
        help="part 7: HAR exchanges and JSON Lines lines (default 100k HAR, 1M lines; --big adds ~1 GiB of each)",
    )
    parser.add_argument(
        "--only",
        choices=PARTS,
        action="append",
        help="run only these parts (repeatable; default all)",
    )
    options = parser.parse_args(args)
    parts = options.only or list(PARTS)
    print("\n".join(machine()))
    print(byte_compiled())
    started = time.perf_counter()
    if "suite" in parts:
        bench_suite(options.reps, Table("1. the suite vs the bare schemathesis CLI (wall time)"))
    if "import" in parts:
        bench_import(max(options.reps, 5), Table("2. import cost before the first test"))
    if "audit" in parts:
        sizes = [int(s) for s in options.sizes.split(",") if s]
        table = Table("3. bulk audit: responses per wall second (1 job, N jobs, baseline) and peak RSS")
        bench_audit(sizes, options.big, options.baseline_limit or None, options.jobs, table)
    if "bounds" in parts:
        bench_bounds(Table("4. every response bounded: the deadline and the body cap (a clean server first)"))
    if "masking" in parts:
        bench_redaction(max(options.reps, 5))
    if "audit-bounds" in parts:
        bench_audit_bounds()
    if "history" in parts:
        import history  # bench/history.py, beside this script

        history.bench_history(Table("7. the history store: a year of hourly runs; `history` and a run's end"))
    if "html" in parts:
        bench_html(Table("8. the HTML report: its size and the time to render it"))
    if "peer" in parts:
        har_count, jsonl_count = (int(n) for n in options.peer_sizes.split(","))
        title = "9. beside its peer: Redocly CLI's drift on the same HAR; JSON Lines against the floor"
        bench_peer(har_count, jsonl_count, options.jobs, options.big, Table(title))
    print(
        f"\nbench: done in {time.perf_counter() - started:.0f} s; load average now "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0


# ---------------------------------------------------------------------------------------------
# 7. The HTML report: bytes and render time, for few and many findings over few and many stored runs


def bench_html(rows: list[list[str]]) -> None:
    """The page of `findings` distinct findings over `runs` stored runs, each seen with gaps everywhere (the
    longest timelines there are): its size in bytes (the issue's bound: under 1 MB at 1,000 over 100) and the
    median time to render it."""
    sys.path.insert(0, str(REPO))
    from panic_contract.core import html_report
    from tests.self.html_pages import large

    rows.append(["findings x stored runs", "bytes", "render s"])
    for findings, runs in ((10, 10), (100, 100), (1000, 100), (1000, 365)):
        report, stored, _ = large(findings, runs)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            page = html_report.render(report, stored)
            times.append(time.perf_counter() - started)
        rows.append([f"{findings:,} x {runs}", f"{len(page.encode()):,}", f"{statistics.median(times):.3f}"])


# ---------------------------------------------------------------------------------------------
# 4. Every response bounded: the deadline's wall time and the body cap's memory, against loopback servers


def bench_bounds(rows: list[list[str]]) -> None:
    """Wall time and peak RSS of `pytest` (one process) and `panic-contract record` against the faulty servers
    of tests/self: a clean one (the baseline), two that drip (`--request-timeout 1 --retries 0`: the wall time
    is start-up plus the one second), and three whose bodies are far over the cap (512 MiB, endless, a 1 GiB
    gzip bomb).
    """
    sys.path.insert(0, str(REPO))
    from tests.self.faulty_servers import faulty_server

    token = "bench-token-3c9e"
    fast = ["--rate-limit", "0", "--request-timeout", "1", "--retries", "0"]
    suite = [sys.executable, "-m", "pytest", str(REPO / "tests" / "contract"), "-q", "-p", "no:cacheprovider"]
    suite += ["--callout-ids", "992011", "--hypothesis-profile=live", *fast]
    record = [sys.executable, "-m", "panic_contract.commands.cli", "record", "--ids", "992011", *fast]
    rows.append(["what (peak RSS: the process and any child it waited for)", "wall s", "peak RSS MB", "exit: reason"])
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)  # one folder for all: Hypothesis builds its Unicode tables there in the first run
        faults = ("clean", "clean", "drip-body", "drip-headers", "oversized-body", "endless-chunked", "gzip-bomb")
        for number, fault in enumerate(faults):
            with faulty_server(fault, token=token) as base_url:
                for label, argv in (
                    ("pytest", [*suite, "--base-url", base_url]),
                    ("record", [*record, "--base-url", base_url, "--out", str(cwd / f"out-{number}")]),
                ):
                    if number == 0 and label == "record":
                        continue
                    first = " (first run here: Hypothesis builds its tables)" if number == 0 else ""
                    wall, peak, code, line = _bounded_child(argv, cwd, clean_env(PANIC_API_TOKEN=token))
                    rows.append([f"{label} vs {fault}{first}", f"{wall:.1f}", f"{peak:.0f}", f"{code}: {line}"])


def _bounded_child(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS in MB (os.wait4), exit code and the last verdict line (cut) of one child."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines() or [""]
    verdicts = [line.split("verdict: ", 1)[1] for line in lines if "verdict: " in line]
    reason = verdicts[-1] if verdicts else lines[-1]  # record's success is a summary line, not a verdict
    return wall, usage.ru_maxrss / 1024, process.returncode, reason[:110]


# 5. What masking costs per body


def bench_redaction(reps: int = 5) -> None:
    """`redaction.redact()` on 1 KiB and 4 MiB JSON bodies with a 77-character token and a client secret
    registered, beside the plain `str.replace` per secret it replaced (which masked raw text only).

    Bodies: callouts as the mock serves them; the same with a link in each, every `/` written `\\/` (as
    PHP writes JSON: the escapes decoded into a view, searched again); and one echoing the token in
    every callout (every hit grown and masked). Best of `reps` runs, in this process (no child: a pure
    function of its input).
    """
    import timeit  # only this part needs these

    from panic_contract.core.fixtures import iter_fixtures
    from panic_contract.redaction import redact, register

    token = "Zx9/Qa+Lm3/Rt7+Yp2/Kd8+Wb4/Hn6+Vc1/Sf5+Ju0/Ge9+Tr3/Bm7+Xo2/Pl6+Ck4/Ea8+Nw1/Iq"
    secrets = (token, "client-secret-for-the-benchmark")
    register(*secrets)
    callouts = [json.dumps(f.body) for f in iter_fixtures() if isinstance(f.body, dict)]
    plain = "[" + ",".join(callouts * ((5 << 20) // sum(map(len, callouts)) + 1)) + "]"
    echoing = plain.replace('"status"', f'"echo": "{token}", "status"')
    php = plain.replace('"status"', '"self": "https:\\/\\/api.example\\/panic-api\\/v2\\/callouts", "status"')
    bodies = {"plain JSON": plain, "a link written with \\/": php, "the token in each callout": echoing}
    table = Table("5. masking a body: redact() (every encoding, every 12-character run) vs str.replace per secret")
    for label, text in bodies.items():
        for size in (1 << 10, 4 << 20):
            body = text[:size]
            number = max(1, (1 << 20) // size * 20)
            best = min(timeit.repeat(lambda body=body: redact(body), number=number, repeat=reps)) / number

            def replaced(body: str = body) -> str:
                for secret in secrets:
                    body = body.replace(secret, "***")
                return body

            old = min(timeit.repeat(replaced, number=number, repeat=reps)) / number
            kib = f"{size >> 10} KiB" if size < 1 << 20 else f"{size >> 20} MiB"
            per_mib = best * (1 << 20) / size
            table.append(
                [f"{label}, {kib}", f"{best * 1e6:,.1f} us", f"{old * 1e6:,.1f} us", f"{per_mib * 1e3:.1f} ms/MiB"]
            )


# ---------------------------------------------------------------------------------------------
# 6. The audit's bounds on oversized input (root=Path(<another checkout>) measures that checkout's code)


def bench_audit_bounds(mib: int = 400, rows: list[list[str]] | None = None, root: Path = REPO) -> None:
    """Peak memory (VmHWM) and wall time of `panic-contract audit` on one `mib`-MiB JSON Lines line, one HAR
    body of that size among clean entries, and a never-ending file (/dev/zero named .jsonl, stopped at 15 s),
    each in its own child process importing the package from `root`: what one oversized record costs."""
    table = rows if rows is not None else Table(f"6. audit bounds: one {mib} MiB record, and a file that never ends")
    child_code = (
        "import json, sys; sys.path[:0] = [sys.argv[2], sys.argv[1]]; "
        "from panic_contract.commands import cli; import run; "
        "code = cli.main(['audit', sys.argv[3]]); print(json.dumps({'code': code, 'peak_mb': run._peak_rss_mb()}))"
    )
    callout = captures.callout(992011)
    with tempfile.TemporaryDirectory(prefix="panic-bench-bounds-") as scratch:
        folder = Path(scratch)
        line, har, zero = folder / "one-line.jsonl", folder / "one-body.har", folder / "zero.jsonl"
        with line.open("wb") as out:
            out.write(b'{"request": {"method": "GET", "path": "/panic-api/v2/callouts/992011"}, "response": ')
            out.write(b'{"status": 200, "headers": {"content-type": "application/json"}, "body_text": "')
            for _ in range(mib):
                out.write(b"x" * (1 << 20))
            out.write(b'"}}\n')
        with har.open("wb") as out:
            entry = captures._har_entry("GET", "/panic-api/v2/callouts/992011", 200, callout, "application/json")
            out.write(b'{"log": {"version": "1.2", "entries": [' + json.dumps(entry).encode() + b",")
            head, _, tail = json.dumps(entry).partition('"text": "')
            out.write((head + '"text": "').encode())
            for _ in range(mib):
                out.write(b"x" * (1 << 20))
            out.write(tail.partition('"')[2].encode() + b"," + json.dumps(entry).encode() + b"]}}")
        zero.symlink_to("/dev/zero")
        for label, path in ((f"JSON Lines, one {mib} MiB line", line), (f"HAR, one {mib} MiB body", har)):
            child = run_child([sys.executable, "-c", child_code, str(Path(__file__).parent), str(root), str(path)])
            figures = child.json()
            table.append(
                [
                    f"  {label}",
                    f"exit {figures['code']}",
                    f"{child.wall_s:.2f} s wall",
                    f"peak {figures['peak_mb']:,.0f} MB",
                ]
            )
        argv = ["timeout", "15", sys.executable, "-c", child_code, str(Path(__file__).parent), str(root), str(zero)]
        child = run_child(argv)
        if child.code == 124:
            table.append(["  /dev/zero named zero.jsonl", "stopped at 15 s", f"{child.wall_s:.2f} s wall", ""])
        else:
            figures = child.json()
            table.append(
                [
                    "  /dev/zero named zero.jsonl",
                    f"exit {figures['code']}",
                    f"{child.wall_s:.2f} s wall",
                    f"peak {figures['peak_mb']:,.0f} MB",
                ]
            )


if __name__ == "__main__":
    sys.exit(main())
