"""The one path to a target: every request, one fault model (HTTP only: it knows nothing of the contract)."""
