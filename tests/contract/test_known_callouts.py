"""Each id known to exist on the target, fetched once with, without and with a wrong token.

The plugin parametrizes `known_callout_id` with the run's ids (`--callout-ids`, or the mock's own).
"""

import pytest

from panic_contract.pytest.run import SuiteRun

EXAMPLE_ID = 992011  # the reference page's example, tried when no id was given


def test_known_callout_honours_the_contract(known_callout_id: int, panic_run: SuiteRun) -> None:
    _, inspection = panic_run.probe(known_callout_id, "valid")
    assert inspection.validated_body, (
        f"callout {known_callout_id} did not answer 200 with a body to validate: "
        "pass ids that exist on the target with --callout-ids"
    )


@pytest.mark.parametrize("credentials", ["missing", "invalid"])
def test_callout_needs_a_valid_token(credentials, panic_run: SuiteRun) -> None:
    """The 401 this probes for, on a callout that exists: a 404 would prove nothing about auth."""
    known = panic_run.target.callout_ids
    callout_id = known[0] if known else EXAMPLE_ID
    status = panic_run.probe(callout_id, credentials)[0].status
    token = "no token" if credentials == "missing" else "a wrong token"
    assert status != 404, (
        f"callout {callout_id} answered 404 to {token}, so this cannot tell whether the target enforces auth: "
        "pass ids that exist there with --callout-ids"
    )
    assert status == 401 or status // 100 == 2, f"callout {callout_id} answered {status} to {token}, not 401"
