"""The `panic-contract` command: it dispatches to its subcommands and turns every user error into one line.

Each subcommand lives in its own module, which exposes `add_arguments(parser)` and
`run(args) -> int`. Every usage error of every command, argparse's own included, is one line
ending in `verdict: usage (exit 4)`: a `errors.UsageError` is caught here, once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from panic_contract.core.verdict import Decision, Verdict, command_stopped
from panic_contract.errors import CommandLineError, UsageError

DESCRIPTION = "The panic-contract command: serve the mock, record fixtures, audit captured traffic."


class CommandParser(argparse.ArgumentParser):
    """argparse with the project's usage errors: one line ending in `verdict: usage (exit 4)`, not exit 2.

    Subcommand parsers are of this class too (add_subparsers makes them of the parent's class).
    `--help` still prints the help and exits 0.
    """

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(self.prog, _without_values(message))


def _without_values(message: str) -> str:
    """argparse echoes unrecognized arguments; a value there may be a credential: name only the options."""
    prefix = "unrecognized arguments: "
    if not message.startswith(prefix):
        return message
    words = message[len(prefix) :].split()
    options = [word.split("=", 1)[0] + ("=..." if "=" in word else "") for word in words if word.startswith("-")]
    values = len(words) - len(options)
    shown = ", ".join(options) + (f" and {values} other argument(s), not shown" if values else "")
    return f"{prefix}{shown}"


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, run the chosen command's `run`, and turn any user error into one line, exit 4."""
    args = None
    try:
        args = parser.parse_args(argv)
        return int(args.run(args))
    except CommandLineError as exc:
        return command_stopped(exc.prog, Decision(Verdict.USAGE, f"{exc.message} (see {exc.prog} --help)"))
    except UsageError as exc:  # one a command did not word itself: named by the command it came from
        return command_stopped(getattr(args, "command_prog", parser.prog), Decision(Verdict.USAGE, str(exc)))
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


SUBCOMMANDS = {
    "mock": ("panic_contract.commands.mock", "serve the embedded mock on 127.0.0.1"),
    "record": ("panic_contract.commands.record", "record fixtures from a live target and diff their shape"),
    "audit": ("panic_contract.commands.audit", "hold a HAR or JSON Lines capture to the contract"),
    "accept": ("panic_contract.commands.accept", "print accepted-drift entries for the findings of a drift report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(prog="panic-contract", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run, command_prog=sub.prog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
