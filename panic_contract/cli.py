"""The `panic-contract` command: serve the mock, record fixtures, audit captured traffic.

Each subcommand lives in its own module, which exposes `add_arguments(parser)` and
`run(args) -> int`; this module only dispatches and turns user errors into one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = {
    "mock": ("panic_contract.mock", "serve the embedded mock on 127.0.0.1"),
    "record": ("panic_contract.recorder", "record fixtures from a live target and diff their shape"),
    "audit": ("panic_contract.audit", "hold a HAR or JSON Lines capture to the contract"),
    "accept": ("panic_contract.accepted", "print accepted-drift entries for the findings of a drift report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panic-contract", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("panic-contract: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
