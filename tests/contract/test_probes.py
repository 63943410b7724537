"""Requests the target must refuse, each sent once: an id that does not exist, one that is not an integer,
another method. With the known ids and the auth probes they are the deterministic probes, sent before any
generated case, so a request budget that runs out still leaves a verdict built on them."""

from panic_contract.pytest.probes import NON_INTEGER_ID, OTHER_METHOD, UNKNOWN_ID
from panic_contract.pytest.run import SuiteRun

EXAMPLE_ID = 992011  # the reference page's example, tried when no id was given


def test_unknown_callout_is_a_documented_404(panic_run: SuiteRun) -> None:
    panic_run.probe(UNKNOWN_ID)


def test_callout_id_that_is_not_an_integer_is_refused(panic_run: SuiteRun) -> None:
    panic_run.probe(NON_INTEGER_ID)


def test_another_method_is_refused_with_405_and_allow(panic_run: SuiteRun) -> None:
    """On a callout that exists: only there must another method be answered 405 rather than 404."""
    panic_run.probe(
        panic_run.target.callout_ids[0] if panic_run.target.callout_ids else EXAMPLE_ID, method=OTHER_METHOD
    )
