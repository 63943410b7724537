"""Every error a user can cause: one `UsageError` base, meaning "one line, exit 4, nothing was sent".

Factored out, as structlog's `exceptions` module is, so that any layer can raise one without importing
another: the spec, a setting, a proxy or TLS variable, the credentials, a fixture, the accepted drift or
the command line. Each entry point catches `UsageError` in one place and prints its message, the one line
a user sees: what was given, what is allowed, and the flag or variable that fixes it. An `OptionError` (the
command line, a setting, the credentials) is the one kind a command prints as `error:`, not as a verdict.
"""

from __future__ import annotations


class UsageError(Exception):
    """A user error: the message is the one line to print; the verdict is usage (exit 4)."""


class OptionError(UsageError):
    """A command line that cannot run as given: an option, its value or its variable, a credential.

    Nothing was read or sent. A `panic-contract` command prints it as `PROG: error: <what>; <how to fix>`,
    not as a verdict line (a verdict says what a run found), and exits 4 all the same.
    """


class SpecError(UsageError):
    """The spec file cannot be read or does not describe exactly one operation."""


class SettingError(OptionError):
    """A setting's value cannot be used; the message says which, why, and how to fix it."""


class RouteError(SettingError):
    """A proxy or TLS variable that cannot be used, found before anything is sent."""


class CredentialError(OptionError):
    """No usable credentials in the environment."""


class FixtureError(UsageError):
    """A fixture file that cannot be used; the message says where and how to fix it."""


class AcceptedDriftError(UsageError):
    """The accepted-drift file (or a drift report given to `accept`) cannot be used; names the file and line."""


class CommandLineError(OptionError):
    """argparse refused the command line; `prog` is the (sub)command whose line it was."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message
