"""Schemathesis's checks, in our vocabulary: each failure they raise becomes a finding of the ledger.

`findings.inspect` judges every response; these are what schemathesis's own checks add on top, for
generated cases (`new_check_findings`) and for the deterministic probes it would check the same way
(`refusal_failure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from panic_contract.core.contract import Contract, parse_callout_id
from panic_contract.core.findings import Exchange, Finding, Inspection, Kind


def refusal_failure(exchange: Exchange, contract: Contract) -> Any | None:
    """The schemathesis failure a request the spec does not allow earns, as its checks raise it; None if none.

    Another method must be answered 405 with an `Allow` header (`unsupported_method`; 401/403 are accepted
    where auth comes first, and a 404 says nothing of the method); an id that is not an integer must not
    be accepted (`negative_data_rejection`).
    """
    from schemathesis.core.failures import AcceptedNegativeData
    from schemathesis.openapi.checks import UnsupportedMethodResponse

    operation = contract.operation
    if exchange.method != contract.method:
        if exchange.status in {401, 403, 404}:
            return None
        if exchange.status != 405:
            message = (
                f"Unsupported method {exchange.method} returned {exchange.status}, expected 405 Method Not Allowed"
            )
            reason = "wrong_status"
        elif not exchange.headers.get("allow"):
            message = f"{exchange.method} returned 405 without required `Allow` header"
            reason = "missing_allow_header"
        else:
            return None
        return UnsupportedMethodResponse(operation=operation, method=exchange.method, status_code=exchange.status,
                                         failure_reason=reason, message=message)  # fmt: skip
    raw_id = contract.match_path(exchange.path)
    if raw_id is not None and parse_callout_id(raw_id) is None and 200 <= exchange.status < 300:
        return AcceptedNegativeData(operation=operation, message="Invalid data should have been rejected",
                                    status_code=exchange.status, expected_statuses=["4xx"])  # fmt: skip
    return None


# Schemathesis's own checks, by the failure they raise, as kinds of our vocabulary. Where `inspect` already
# made a finding of that kind for the same response, the failure says nothing new and is dropped.
_CHECK_KINDS: dict[str, Kind] = {
    "ServerError": Kind.SERVER_ERROR,
    "UndefinedStatusCode": Kind.UNDOCUMENTED_STATUS_CODE,
    "UndefinedContentType": Kind.WRONG_CONTENT_TYPE,
    "MissingContentType": Kind.WRONG_CONTENT_TYPE,
    "MalformedMediaType": Kind.WRONG_CONTENT_TYPE,
    "MalformedJson": Kind.MALFORMED_BODY,
    "ContentDeserializationError": Kind.MALFORMED_BODY,
    "IgnoredAuth": Kind.AUTH_NOT_ENFORCED,
    "MissingHeaderNotRejected": Kind.AUTH_NOT_ENFORCED,
}
# The check behind every other failure, named as schemathesis names it (`--checks` in its CLI).
_CHECK_NAMES: dict[str, str] = {
    "AcceptedNegativeData": "negative_data_rejection",
    "RejectedPositiveData": "positive_data_acceptance",
    "UnsupportedMethodResponse": "unsupported_method",
    "AllowHeaderMismatch": "unsupported_method",
    "MissingHeaders": "response_headers_conformance",
    "JsonSchemaError": "response_schema_conformance",
    "ResponseTimeExceeded": "max_response_time",
}
_AUTH_CHECKS = {"IgnoredAuth": "ignored_auth", "MissingHeaderNotRejected": "missing_required_header"}


def new_check_findings(failures: Sequence[Any], inspection: Inspection, exchange: Exchange) -> list[Finding]:
    """The failures that say something `inspect` did not already say of the same response."""
    found = {finding.kind for finding in inspection.findings}
    findings = []
    for failure in failures:
        if type(failure).__name__ == "JsonSchemaError" and inspection.findings:
            continue  # the same schema, already inspected field by field
        finding = check_finding(failure, exchange.request)
        if finding.kind is Kind.AUTH_NOT_ENFORCED and not 200 <= exchange.status < 300:
            # not 401 without a token, but nothing served either (a 302, a 404): schemathesis's words, not ours
            check = _AUTH_CHECKS.get(type(failure).__name__, type(failure).__name__)
            actual = f"failing: {finding.actual}"
            finding = Finding(Kind.SCHEMATHESIS_CHECK, check, "that schemathesis check passes", actual, finding.request)
        if finding.kind not in found:
            findings.append(finding)
    return findings


def check_finding(failure: Any, request: str) -> Finding:
    """One failure of a schemathesis check as a finding: its own kind where one fits, else `schemathesis-check`."""
    name = type(failure).__name__
    lines = [line.strip() for line in str(failure.message or failure.title).splitlines() if line.strip()]
    message = lines[0] if lines else name
    if len(message) > 160:
        message = message[:157] + "..."
    kind = _CHECK_KINDS.get(name)
    if kind is not None:
        return Finding(kind, None, f"no {failure.title!r} from schemathesis", message, request)
    check = _CHECK_NAMES.get(name, name)
    return Finding(Kind.SCHEMATHESIS_CHECK, check, "that schemathesis check passes", f"failing: {message}", request)
