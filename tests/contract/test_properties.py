"""Property tests generated from the spec by schemathesis, against the selected target."""

from panic_contract.pytest.run import SuiteRun, suite_schema

schema = suite_schema()


@schema.parametrize()
def test_get_callout_honours_the_contract(case, panic_run: SuiteRun) -> None:
    panic_run.call_and_validate(case)
