"""Every error a user can cause: one `UsageError` base, meaning "one line, exit 4, nothing was sent".

Factored out, as structlog's `exceptions` module is, so that any layer can raise one without importing
another: the spec, a setting, a proxy or TLS variable, the credentials, a fixture, the accepted drift or
the command line. Each entry point catches `UsageError` in one place and prints its message, the one line
a user sees: what was given, what is allowed, and the flag or variable that fixes it.
"""

from __future__ import annotations


class UsageError(Exception):
    """A user error: the message is the one line to print; the verdict is usage (exit 4)."""


class SpecError(UsageError):
    """The spec file cannot be read or does not describe exactly one operation."""


class SettingError(UsageError):
    """A setting's value cannot be used; the message says which, why, and how to fix it."""


class RouteError(SettingError):
    """A proxy or TLS variable that cannot be used, found before anything is sent."""


class CredentialError(UsageError):
    """No usable credentials in the environment."""


class FixtureError(UsageError):
    """A fixture file that cannot be used; the message says where and how to fix it."""


class AcceptedDriftError(UsageError):
    """The accepted-drift file (or a drift report given to `accept`) cannot be used; names the file and line."""


class CommandLineError(UsageError):
    """argparse refused the command line; `prog` is the (sub)command whose line it was."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message
