"""Every user error is a `UsageError`: one line, exit 4, wherever it is raised, caught once per entry point."""

from __future__ import annotations

import argparse

import pytest

from panic_contract.commands import accept, cli
from panic_contract.errors import (
    AcceptedDriftError,
    CommandLineError,
    CredentialError,
    FixtureError,
    OptionError,
    RouteError,
    SettingError,
    SpecError,
    UsageError,
)

# What a run found on disk or in a file it read: a verdict line. The command line, a setting, the credentials:
# an error line, since nothing ran.
RUN_ERRORS = [SpecError, FixtureError, AcceptedDriftError, UsageError]
OPTION_ERRORS = [SettingError, RouteError, CredentialError, OptionError]


@pytest.mark.parametrize("error", RUN_ERRORS + OPTION_ERRORS, ids=lambda error: error.__name__)
def test_a_user_error_a_command_does_not_word_itself_is_still_one_line_and_exit_4(
    error: type[UsageError], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def raising(args: argparse.Namespace) -> int:
        raise error("contracts/x.json: something to fix, and how")

    monkeypatch.setattr(accept, "run", raising)  # read when the command line's parser is built
    assert 4 == cli.main(["accept", "report.json"])
    said = "error:" if error in OPTION_ERRORS else "verdict: usage (exit 4):"
    assert f"panic-contract accept: {said} contracts/x.json: something to fix, and how\n" == capsys.readouterr().err


def test_a_refused_command_line_is_a_usage_error_naming_its_command() -> None:
    refused = CommandLineError("panic-contract mock", "argument --port: not a port")
    assert (isinstance(refused, OptionError), "panic-contract mock", "argument --port: not a port") == (
        True,
        refused.prog,
        str(refused),
    )
