"""The `panic-contract` command: it dispatches to its subcommands and turns every user error into one line.

Each subcommand lives in its own module, which exposes `add_arguments(parser)` and `run(args) -> int`.
Every user error ends as one line and exit 4, and the line says which kind it is:

- a command line that cannot run as given (argparse's own refusals, an option's value, a missing option,
  the credentials: `errors.OptionError`) is `PROG: error: <what>; <how to fix>`, naming the subcommand and
  the option, with the closest valid option for a typo. Nothing ran, so there is no verdict;
- any other `errors.UsageError` (a file the run read or could not write) is the run's verdict line,
  `PROG: verdict: usage (exit 4): <reason>`, like every other verdict.

A subcommand prints its own errors where it can (`option_error`, `verdict.command_stopped`); whatever it
lets through is caught here, once.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from panic_contract.core.verdict import EXIT_CODES, Decision, Verdict, command_stopped
from panic_contract.errors import CommandLineError, OptionError, UsageError
from panic_contract.outputs import terminal_line

DESCRIPTION = "The panic-contract command: serve the mock, record fixtures, audit captured traffic."
DISTRIBUTION = "panic-contract"
UNRECOGNIZED = "unrecognized arguments: "
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)$")
_EXPLICIT_VALUE = re.compile(r"^argument (?P<option>\S+): ignored explicit argument .*$", re.DOTALL)


def version() -> str:
    """The installed distribution's version (`0+unknown` when the package runs without being installed)."""
    from importlib import metadata  # only when asked: it costs an audit's start-up a tenth of a second

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


class _Version(argparse.Action):
    """`--version`, as argparse's own prints it, reading the installed version only when it is asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **_: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        sys.stdout.write(f"{parser.prog} {version()}\n")  # where argparse's own writes it
        parser.exit()


class CommandParser(argparse.ArgumentParser):
    """argparse with the project's usage errors: one `error:` line, exit 4 (not argparse's 2 and its usage text).

    Subcommand parsers are of this class too (add_subparsers makes them of the parent's class).
    `--help` and `--version` still print and exit 0.
    """

    def error(self, message: str) -> NoReturn:
        what, hint = _worded(message, self)
        fix = f"{hint} (see {self.prog} --help)" if hint else f"see {self.prog} --help"
        raise CommandLineError(self.prog, f"{what}; {fix}")


class SubcommandParser(CommandParser):
    """A subcommand's parser refuses what it does not know itself, under its own name and with its own options.

    (argparse would hand the leftovers to the top-level parser, which names neither.)
    """

    def parse_known_args(  # type: ignore[override]  # typeshed's overloads; this returns what the base does
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(UNRECOGNIZED + " ".join(extras))
        return parsed, extras


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every long option the parser takes (`--update`, `--ids`, ...), in the order they were added."""
    return [name for action in parser._actions for name in action.option_strings if name.startswith("--")]


def closest(given: str, valid: Sequence[str]) -> str | None:
    """The valid word nearest a typo (`--updte` -> `--update`), or None when nothing is near enough.

    Compared without their leading dashes, which every option shares and which would make any two look alike.
    """
    names = {word.lstrip("-"): word for word in valid}
    found = difflib.get_close_matches(given.lstrip("-"), list(names), n=1, cutoff=0.6)
    return names[found[0]] if found else None


def _worded(message: str, parser: argparse.ArgumentParser) -> tuple[str, str | None]:
    """argparse's message, with no value that may be a credential, and a hint: the option or choice meant."""
    if message.startswith(UNRECOGNIZED):
        return _unrecognized(message[len(UNRECOGNIZED) :].split(), option_names(parser))
    given_a_value = _EXPLICIT_VALUE.match(message)
    if given_a_value is not None:  # `--update=VALUE`: the value is not shown, it may be anything
        option = given_a_value["option"].split("/")[0]
        return f"argument {option}: takes no value, and one was given after = (not shown)", f"give {option} alone"
    invalid = _INVALID_CHOICE.search(message)
    if invalid is not None:
        choices = [choice.strip().strip("'") for choice in invalid["choices"].split(",")]
        meant = closest(invalid["given"], choices)
        return message, f"did you mean {meant!r}?" if meant else None
    return message, None


def _unrecognized(words: Sequence[str], valid: Sequence[str]) -> tuple[str, str | None]:
    """Name only the options: a value after one (or after its `=`) may be a credential, so it is never shown."""
    options = [word.split("=", 1)[0] for word in words if word.startswith("-")]
    shown = [word.split("=", 1)[0] + ("=..." if "=" in word else "") for word in words if word.startswith("-")]
    values = len(words) - len(options)
    if not options:
        what = f"{UNRECOGNIZED}{values} argument(s) more than the command takes, not shown"
    else:
        what = UNRECOGNIZED + ", ".join(shown) + (f" and {values} other argument(s), not shown" if values else "")
    meant = [(option, found) for option in options if (found := closest(option, valid))]
    if not meant:
        return what, None
    if len(meant) == 1:
        return what, f"did you mean {meant[0][1]}?"
    return what, "did you mean " + ", ".join(f"{found} (for {option})" for option, found in meant) + "?"


def option_error(prog: str, message: str) -> int:
    """A command line that cannot run as given: `PROG: error: <what>; <how to fix>` on stderr; exit 4."""
    print(f"{prog}: {terminal_line(f'error: {message}')}", file=sys.stderr)
    return EXIT_CODES[Verdict.USAGE]


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse, run the chosen command's `run`, and turn any user error into one line, exit 4."""
    args = None
    try:
        args = parser.parse_args(argv)  # a subcommand's parser has refused what it does not know itself
        return int(args.run(args))
    except CommandLineError as exc:
        return option_error(exc.prog, exc.message)
    except OptionError as exc:  # one a command let through: named by the command it came from
        return option_error(getattr(args, "command_prog", parser.prog), str(exc))
    except UsageError as exc:
        return command_stopped(getattr(args, "command_prog", parser.prog), Decision(Verdict.USAGE, str(exc)))
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130


# The subcommands, in the order `--help` lists them, except that `check` (the gate) comes first wherever it is.
SUBCOMMANDS = {
    "mock": ("panic_contract.commands.mock", "serve the embedded mock on 127.0.0.1"),
    "record": ("panic_contract.commands.record", "record fixtures from a live target and diff their shape"),
    "audit": ("panic_contract.commands.audit", "hold a HAR or JSON Lines capture to the contract"),
    "accept": ("panic_contract.commands.accept", "print accepted-drift entries for the findings of a drift report"),
}
FIRST = "check"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every subcommand's parser; with `only`, that subcommand's options alone (the others are listed, not
    imported: `audit` need not import the mock's web server, which costs more than a small audit)."""
    parser = CommandParser(prog="panic-contract", description=DESCRIPTION)
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=SubcommandParser)
    for name, (module_name, help_text) in sorted(SUBCOMMANDS.items(), key=lambda item: item[0] != FIRST):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(run=module.run, command_prog=sub.prog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    chosen = words[0] if words and words[0] in SUBCOMMANDS else None
    return run_command(build_parser(chosen), argv)


if __name__ == "__main__":
    sys.exit(main())
