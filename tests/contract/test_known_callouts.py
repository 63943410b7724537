"""Each id known to exist on the target, fetched once with, without and with a wrong token."""

import pytest

from panic_contract.suite import SuiteRun, active_run

KNOWN_IDS = active_run().target.callout_ids


@pytest.mark.parametrize("callout_id", KNOWN_IDS)
def test_known_callout_honours_the_contract(callout_id: int, panic_run: SuiteRun) -> None:
    inspection = panic_run.probe(callout_id, "valid")
    assert inspection.validated_body, (
        f"callout {callout_id} did not answer 200 with a body to validate: "
        "pass ids that exist on the target with --callout-ids"
    )


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_callout_needs_a_valid_token(credentials, panic_run: SuiteRun) -> None:
    callout_id = KNOWN_IDS[0] if KNOWN_IDS else 992011
    panic_run.probe(callout_id, credentials)
