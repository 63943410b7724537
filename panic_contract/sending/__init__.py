"""The one path to a target: every request, one fault model (HTTP only: it knows nothing of the contract)."""

# The token comes only from the environment, never a flag: this token, or client credentials to exchange for one.
# Named here, not in `auth`, so what only names them (the reports' reproducers) does not import httpx.
TOKEN_VARIABLE = "PANIC_API_TOKEN"  # noqa: S105 - the name of a variable, not a secret
CLIENT_ID_VARIABLE = "PANIC_API_CLIENT_ID"
CLIENT_SECRET_VARIABLE = "PANIC_API_CLIENT_SECRET"  # noqa: S105 - the name of a variable
