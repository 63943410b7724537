"""Each id known to exist on the target, fetched once with, without and with a wrong token."""

import pytest

from panic_contract.pytest.run import SuiteRun

EXAMPLE_ID = 992011  # the reference page's example, tried when no id was given


# A suite test's `callout_id`: the plugin runs the test once for each id the run knows (`--callout-ids`,
# or the mock's own ids).
def test_known_callout_honours_the_contract(callout_id: int, panic_run: SuiteRun) -> None:
    _, inspection = panic_run.probe(callout_id, "valid")
    assert inspection.validated_body, (
        f"callout {callout_id} did not answer 200 with a body to validate: "
        "pass ids that exist on the target with --callout-ids"
    )


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_callout_needs_a_valid_token(credentials, panic_run: SuiteRun) -> None:
    """The 401 this probes for, on a callout that exists: a 404 would prove nothing about auth."""
    callout_id = panic_run.target.callout_ids[0] if panic_run.target.callout_ids else EXAMPLE_ID
    status = panic_run.probe(callout_id, credentials)[0].status
    token = "no token" if credentials == "missing" else "a wrong token"
    assert status != 404, (
        f"callout {callout_id} answered 404 to {token}, so this cannot tell whether the target enforces auth: "
        "pass ids that exist there with --callout-ids"
    )
    assert status == 401 or status // 100 == 2, f"callout {callout_id} answered {status} to {token}, not 401"
