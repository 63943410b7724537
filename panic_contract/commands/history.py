"""`panic-contract history`: the runs kept and their findings over time, as a table or JSON; pruning.

One row per finding (per target and command): when first and last seen, in how many of the runs checked since
(runs that validated bodies), that share, and whether the newest such run still showed it (open). Reads the
store the suite writes (`--history`, `PANIC_API_HISTORY`, else `.panic-contract/history.sqlite` here).
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from panic_contract import settings
from panic_contract.commands.cli import option_error
from panic_contract.core import reports
from panic_contract.core.past import iso
from panic_contract.errors import OptionError
from panic_contract.history.records import StoreError
from panic_contract.history.store import Store
from panic_contract.outputs import terminal_line
from panic_contract.settings import MAX_ACCEPT_DAYS, days

PROG = "panic-contract history"
HTML_RUNS = 365  # a year of daily runs: the page stays about a megabyte for 1,000 findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Exit codes: 0 shown (or pruned), 4 usage (an option, a store that does not exist or cannot be read)."
    )
    settings.add_arguments(parser, ("history",))
    parser.add_argument("--format", choices=("table", "json"), default="table", help="table (default) or json")
    parser.add_argument(
        "--html",
        metavar="PATH",
        help=f"also write the history as one self-contained HTML page: each finding's timeline over the newest "
        f"{HTML_RUNS} runs (with --since and --target as given)",
    )
    parser.add_argument(
        "--since", metavar="DATE", help="only runs started on or after DATE (ISO 8601, e.g. 2026-11-01)"
    )
    parser.add_argument("--target", metavar="HOST", help="only this target (`mock`, or a host such as api.example.com)")
    parser.add_argument(
        "--prune", action="store_true", help="delete old runs: with --keep N, --older-than DAYS, or both"
    )
    parser.add_argument("--keep", type=int, metavar="N", help="with --prune: keep the newest N runs of each target")
    parser.add_argument("--older-than", metavar="DAYS", help="with --prune: delete runs started more than DAYS ago")


def run(args: argparse.Namespace) -> int:
    try:
        values = settings.from_namespace(args, ("history",), os.environ)
        where = values["history"] or settings.keeping({"history": None, "no_history": False}, Path.cwd(), "suite").where
        assert where is not None
        since = _since(args.since)
        prune = _prune_options(args)
    except OptionError as exc:
        return option_error(PROG, str(exc))
    path = where.sqlite_path
    if path is not None and not path.is_file():
        return option_error(PROG, f"no history store at {path}: run the suite first, or pass --history PATH_OR_URL")
    try:
        with Store(where) as store:
            if prune is not None:
                removed = store.prune(*prune)
                print(terminal_line(f"{PROG}: pruned {removed} run(s) from {where.shown}"))
                return 0
            runs = store.runs(since, args.target) if args.format == "json" else []
            summary = store.summary(since, args.target)
            found = store.finding_history(since, args.target)
            timeline = store.timeline(since, args.target, newest=HTML_RUNS) if args.html else []
    except StoreError as exc:
        return option_error(PROG, str(exc))
    if args.html:
        errors = _write_html(args.html, timeline, found, where.shown)
        if errors:
            return option_error(PROG, errors[0])
    if args.format == "json":
        print(
            json.dumps({"runs": [_run_json(r) for r in runs], "findings": [_finding_json(f) for f in found]}, indent=2)
        )
    else:
        for line in table(summary, found, where.shown):
            print(terminal_line(line))
    return 0


def _write_html(path: str, timeline: list[dict[str, Any]], found: list[dict[str, Any]], shown: str) -> list[str]:
    from panic_contract.core import html_report  # Jinja2: only for the page

    runs = [
        html_report.HistoryRun(
            started_at=iso(run["started_at"]) or "", verdict=run["verdict"], seen_fingerprints=run["seen_fingerprints"]
        )
        for run in timeline
    ]
    findings = [_finding_json(row) for row in found]
    page = partial(html_report.render_history, runs, findings, store=shown)
    return reports.write_report(path, page, "HTML page of the history")


def _since(given: str | None) -> float | None:
    if given is None:
        return None
    try:
        moment = datetime.fromisoformat(given)
    except ValueError:
        raise OptionError(f"--since is {given[:40]!r}; give a date or time in ISO 8601, e.g. 2026-11-01") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _prune_options(args: argparse.Namespace) -> tuple[int | None, float | None] | None:
    if not args.prune:
        if args.keep is not None or args.older_than is not None:
            raise OptionError("--keep and --older-than say what --prune deletes: add --prune")
        return None
    if args.keep is None and args.older_than is None:
        raise OptionError("--prune needs --keep N (runs per target) or --older-than DAYS, or both")
    if args.keep is not None and args.keep < 1:
        raise OptionError(f"--keep is {args.keep}; keep at least 1 run per target")
    older = None
    if args.older_than is not None:
        try:
            count = days(args.older_than)
        except ValueError:
            raise OptionError(
                f"--older-than is {args.older_than[:40]!r}; a whole number of days from 1 to {MAX_ACCEPT_DAYS}"
            ) from None
        older = (datetime.now(UTC) - timedelta(days=count)).timestamp()
    return args.keep, older


def _run_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "started_at": iso(row["started_at"]), "ended_at": iso(row["ended_at"])}


def _finding_json(row: dict[str, Any]) -> dict[str, Any]:
    share = row["runs_seen"] / row["runs_checked"] if row["runs_checked"] else None
    return {
        **row,
        "first_seen": iso(row["first_seen"]),
        "last_seen": iso(row["last_seen"]),
        "runs_rate": None if share is None else round(share, 3),
    }


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M")


def table(summary: tuple[int, float | None, float | None], found: list[dict[str, Any]], shown: str) -> list[str]:
    """The runs in a line, then one row per finding, open ones first, newest first."""
    count, first, last = summary
    if not count or first is None or last is None:
        return [f"no runs in {shown} (for these options)"]
    lines = [f"{count} run(s) in {shown}, {_when(first)} to {_when(last)} UTC; {len(found)} finding(s)"]
    if not found:
        return lines
    header = ("first seen", "last seen", "runs", "rate", "open", "target", "finding")
    rows = []
    for row in sorted(found, key=lambda r: (not r["open"], -r["last_seen"], r["kind"], r["field"] or "")):
        share = row["runs_seen"] / row["runs_checked"] if row["runs_checked"] else 0
        rows.append(
            (
                _when(row["first_seen"]),
                _when(row["last_seen"]),
                f"{row['runs_seen']}/{row['runs_checked']}",
                f"{share:.0%}",
                "open" if row["open"] else "fixed",
                f"{row['target']} ({row['command']})",
                f"{row['kind']} {row['field'] or '-'}",
            )
        )
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
              for cells in [header, *rows]]  # fmt: skip
    return lines
