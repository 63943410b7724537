"""Property tests generated from the spec by schemathesis, against the selected target."""

from panic_contract.pytest.run import SuiteRun
from panic_contract.pytest.schema import suite_schema

schema = suite_schema()  # this run's schema: the module is imported while the run collects it


@schema.parametrize()
def test_get_callout_honours_the_contract(case, panic_run: SuiteRun) -> None:
    panic_run.call_and_validate(case)
