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
    RouteError,
    SettingError,
    SpecError,
    UsageError,
)

USER_ERRORS = [SpecError, SettingError, RouteError, CredentialError, FixtureError, AcceptedDriftError]


@pytest.mark.parametrize("error", USER_ERRORS, ids=lambda error: error.__name__)
def test_a_user_error_a_command_does_not_word_itself_is_still_one_line_and_exit_4(
    error: type[UsageError], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def raising(args: argparse.Namespace) -> int:
        raise error("contracts/x.json: something to fix, and how")

    monkeypatch.setattr(accept, "run", raising)  # read when the command line's parser is built
    assert 4 == cli.main(["accept", "report.json"])
    assert "panic-contract accept: verdict: usage (exit 4): contracts/x.json: something to fix, and how\n" == (
        capsys.readouterr().err
    )


def test_a_refused_command_line_is_a_usage_error_naming_its_command() -> None:
    refused = CommandLineError("panic-contract mock", "argument --port: not a port")
    assert (isinstance(refused, UsageError), "panic-contract mock", "argument --port: not a port") == (
        True,
        refused.prog,
        str(refused),
    )
