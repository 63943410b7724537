"""Data several of the project's own tests share."""

from __future__ import annotations

from typing import Any

# The example on the provider's reference page "Get a callout", copied by hand (not read from the spec,
# so a test comparing the two can fail).
DOCUMENTED_CALLOUT: dict[str, Any] = {
    "id": 992011,
    "customerId": 178921,
    "predefinedLocationId": 99001,
    "status": "Responder Dispatched",
    "latitude": -33.9258,
    "longitude": 18.4233,
    "responseTypeId": 2,
    "calloutClassificationId": 3,
    "createdAt": "2024-04-20T14:45:00Z",
}

# Mock drift switch -> the one (finding kind, field) it produces; one switch per finding kind.
DRIFT_FINDINGS: dict[str, tuple[str, str | None]] = {
    "missing-field": ("missing-field", "$.calloutClassificationId"),
    "type-changed": ("type-changed", "$.id"),
    "null-in-non-nullable": ("null-in-non-nullable", "$.customerId"),
    "format-violated": ("format-violated", "$.createdAt"),
    "unknown-status": ("unknown-status", "$.status"),
    "new-field": ("new-field", "$.responderEta"),
    "undocumented-status-code": ("undocumented-status-code", None),
    "server-error": ("server-error", None),
    "wrong-content-type": ("wrong-content-type", None),
    "malformed-body": ("malformed-body", None),
    "auth-not-enforced": ("auth-not-enforced", None),
    "id-mismatch": ("id-mismatch", "$.id"),
    "schemathesis-check": ("schemathesis-check", "unsupported_method"),
}

# Mock diagnosis switch -> the diagnosis (pattern, summary) the suite and the audit lead with, and one finding below
# it; one switch per pattern, of the pattern's name.
PATTERN_DRIFTS: dict[str, tuple[str, str, tuple[str, str | None]]] = {
    "renamed-field": ("renamed-field", "customerId renamed to customerID?", ("missing-field", "$.customerId")),
    "moved-field": ("moved-field", "latitude, longitude moved under $.location", ("missing-field", "$.latitude")),
    "wrapped-body": (
        "wrapped-body",
        "the callout is wrapped under $.callout, beside $.message — the provider's newer documented shape",
        ("missing-field", "$.id"),
    ),
    "value-as-string": (
        "value-as-string",
        'responseTypeId is now sent as a string: "2"',
        ("type-changed", "$.responseTypeId"),
    ),
    "error-page": (
        "error-page",
        "200 answered with an HTML page (text/html), not JSON: an error, login or maintenance page in front of the "
        "API?",
        ("wrong-content-type", None),
    ),
}
