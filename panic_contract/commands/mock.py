"""`panic-contract mock`: serve the embedded mock on 127.0.0.1 in the foreground, until interrupted."""

from __future__ import annotations

import argparse
from pathlib import Path

from panic_contract import mock
from panic_contract.commands.cli import CommandParser, run_command
from panic_contract.core.fixtures import CONTRACTS_DIR
from panic_contract.core.verdict import Decision, Verdict, command_stopped
from panic_contract.errors import UsageError

PROG = "panic-contract mock"
MAX_PORT = 65535


def port_number(text: str) -> int:
    """A TCP port for --port: 0 (any free port) to 65535; argparse makes the error one usage line."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port: give 0 to {MAX_PORT} (0: any free port)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=port_number, default=8000, help="port on 127.0.0.1 (0: any free port; default 8000)"
    )
    parser.add_argument(
        "--drift",
        action="append",
        default=[],
        choices=[str(d) for d in mock.DRIFTS],
        metavar="KIND",
        help=f"switch a drift or fault on (repeatable): {', '.join(mock.DRIFTS)}",
    )
    parser.add_argument(
        "--contracts-dir",
        type=Path,
        default=CONTRACTS_DIR,
        metavar="DIR",
        help="folder of fixtures to serve (default: the project's contracts/)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve the mock in the foreground until interrupted."""
    try:
        app = mock.create_app(drift=args.drift, contracts_dir=args.contracts_dir)
        sock = mock.bind(mock.HOST, args.port)
    except UsageError as exc:  # a fixture or the spec that cannot be served
        return _usage(str(exc))
    except OSError as exc:
        return _usage(f"cannot listen on {mock.HOST}:{args.port}: {exc.strerror} (pick another --port)")
    drift = f", drift: {', '.join(args.drift)}" if args.drift else ""
    print(f"{PROG}: serving {mock.base_url_of(sock)} (token: {mock.MOCK_TOKEN}{drift}); Ctrl-C stops it", flush=True)
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="info", lifespan="off")).run(sockets=[sock])
    return 0


def _usage(reason: str) -> int:
    return command_stopped(PROG, Decision(Verdict.USAGE, reason))


def main(argv: list[str] | None = None) -> int:
    """`python -m panic_contract.mock`: the same command, under that name."""
    description = (mock.__doc__ or "").splitlines()[0]
    parser = CommandParser(prog="python -m panic_contract.mock", description=description)
    add_arguments(parser)
    parser.set_defaults(run=run)
    return run_command(parser, argv)
