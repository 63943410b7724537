"""The hand-written spec says what the provider's reference page says, and the contract loader rejects bad specs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from panic_contract.core.contract import SPEC_PATH, STAGING_URL, default_contract, load_contract
from panic_contract.core.findings import Exchange, Kind, inspect
from panic_contract.errors import SpecError
from tests.self.samples import DOCUMENTED_CALLOUT as DOCUMENTED_EXAMPLE

PATH = "/panic-api/v2/callouts/{calloutId}"
FIELDS = {
    "id",
    "customerId",
    "predefinedLocationId",
    "status",
    "latitude",
    "longitude",
    "responseTypeId",
    "calloutClassificationId",
    "createdAt",
}
# The example on the provider's reference page "Get a callout" (get-a-callout.txt), copied by hand.
KNOWN_VALUES = ["created", "Responder Dispatched", "Responder Cancelled", "closed"]


def load_spec() -> dict[str, Any]:
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


SPEC = load_spec()
OPERATION = SPEC["paths"][PATH]["get"]
CALLOUT = SPEC["components"]["schemas"]["Callout"]


def write_spec(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def callout_exchange(body: Any) -> Exchange:
    return Exchange("GET", "/panic-api/v2/callouts/992011", 200, {"content-type": "application/json"}, parsed=body)


# The spec document itself.


def test_the_spec_is_read_once_per_process_whoever_asks_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite, the sender's callers, the mock and the audit all ask for it: one contract, read once."""
    reads: list[str] = []
    real = Path.read_text

    def counted(path: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    first = default_contract()
    assert first is load_contract(SPEC_PATH) is load_contract(SPEC_PATH) is default_contract()
    assert reads.count(SPEC_PATH.name) <= 1  # none when an earlier test of this process read it already


def test_a_spec_that_fails_to_load_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    with pytest.raises(SpecError):
        load_contract(path)
    path.write_text(SPEC_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert "GET" == load_contract(path).method


def test_spec_is_a_valid_openapi_document() -> None:
    validate(copy.deepcopy(SPEC))  # raises on any violation of the OpenAPI 3.1 schema


def test_spec_is_openapi_3_1() -> None:
    assert "3.1.0" == SPEC["openapi"]


def test_spec_has_the_one_operation_get_callout() -> None:
    assert [PATH] == list(SPEC["paths"])
    assert ["get"] == list(SPEC["paths"][PATH])
    assert "getCallout" == OPERATION["operationId"]


def test_spec_requires_bearer_auth() -> None:
    assert [{"bearerAuth": []}] == SPEC["security"]
    assert {"type": "http", "scheme": "bearer"} == {
        key: SPEC["components"]["securitySchemes"]["bearerAuth"][key] for key in ("type", "scheme")
    }


def test_spec_server_is_staging_never_production() -> None:
    assert ["https://staging-panic.aura.services"] == [server["url"] for server in SPEC["servers"]]
    assert STAGING_URL == SPEC["servers"][0]["url"]  # what --target staging and `record` default to


def test_callout_id_is_a_required_integer_path_parameter() -> None:
    (parameter,) = OPERATION["parameters"]
    assert ("calloutId", "path", True, {"type": "integer"}) == (
        parameter["name"],
        parameter["in"],
        parameter["required"],
        parameter["schema"],
    )


def test_spec_documents_exactly_200_401_404_as_json() -> None:
    responses = OPERATION["responses"]
    assert ["200", "401", "404"] == sorted(responses)
    assert {code: ["application/json"] for code in responses} == {
        code: list(response["content"]) for code, response in responses.items()
    }


def test_401_and_404_use_the_error_schema() -> None:
    schemas = {code: OPERATION["responses"][code]["content"]["application/json"]["schema"] for code in ("401", "404")}
    assert {code: {"$ref": "#/components/schemas/Error"} for code in ("401", "404")} == schemas


def test_200_uses_the_callout_schema() -> None:
    schema = OPERATION["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/Callout"} == schema


def test_all_nine_callout_fields_are_required_and_described() -> None:
    assert FIELDS == set(CALLOUT["required"])
    assert 9 == len(CALLOUT["required"])
    assert FIELDS == set(CALLOUT["properties"])


def test_exactly_the_three_nullable_fields_allow_null_the_3_1_way() -> None:
    nullable = {
        name
        for name, prop in CALLOUT["properties"].items()
        if isinstance(prop.get("type"), list) and "null" in prop["type"]
    }
    assert {"predefinedLocationId", "latitude", "longitude"} == nullable
    assert [] == [name for name, prop in CALLOUT["properties"].items() if "nullable" in prop]  # the 3.0 way


def test_created_at_is_a_date_time_string() -> None:
    assert {"type": "string", "format": "date-time"} == CALLOUT["properties"]["createdAt"]


@pytest.mark.parametrize("name", ["latitude", "longitude"])
def test_coordinates_are_nullable_doubles(name: str) -> None:
    assert {"type": ["number", "null"], "format": "double"} == CALLOUT["properties"][name]


def test_status_is_a_free_form_string_without_enum() -> None:
    status = CALLOUT["properties"]["status"]
    assert "string" == status["type"]
    assert "enum" not in status
    assert "const" not in status


def test_status_lists_each_known_value_exactly_once() -> None:
    values = CALLOUT["properties"]["status"]["x-known-values"]
    assert KNOWN_VALUES == values
    assert len(values) == len({value.casefold() for value in values})


def test_callout_tolerates_undocumented_fields() -> None:
    """A tolerant reader: extra fields are additive drift the suite reports, not a schema violation."""
    assert CALLOUT.get("additionalProperties", True) is not False
    assert CALLOUT.get("unevaluatedProperties", True) is not False


def test_error_schema_is_an_object_with_a_message_string() -> None:
    error = SPEC["components"]["schemas"]["Error"]
    assert ("object", ["message"], {"message": {"type": "string"}}) == (
        error["type"],
        error["required"],
        error["properties"],
    )


def test_documented_example_is_the_200_example() -> None:
    examples = OPERATION["responses"]["200"]["content"]["application/json"]["examples"]
    assert [DOCUMENTED_EXAMPLE] == [example["value"] for example in examples.values()]


def test_documented_example_passes_inspect_cleanly() -> None:
    inspection = inspect(callout_exchange(copy.deepcopy(DOCUMENTED_EXAMPLE)), load_contract())
    assert () == inspection.findings
    assert None is inspection.signal
    assert inspection.validated_body


# The contract the loader builds from it.


def test_contract_reads_the_operation_from_the_spec() -> None:
    contract = load_contract()
    assert ("GET", PATH, "getCallout", "calloutId", "https://staging-panic.aura.services") == (
        contract.method,
        contract.path_template,
        contract.operation_id,
        contract.path_parameter,
        contract.server_url,
    )
    assert (200, 401, 404) == contract.documented_statuses
    assert tuple(KNOWN_VALUES) == contract.known_statuses


def assert_one_line_spec_error(path: Path, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_contract(path)
    message = str(caught.value)
    assert says in message
    assert [message] == message.splitlines()


def test_missing_spec_file_is_a_one_line_spec_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    assert_one_line_spec_error(missing, f"cannot read the spec {missing}")


def test_invalid_yaml_is_a_one_line_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("openapi: 3.1.0\npaths: [unclosed\ninfo: {}\n", encoding="utf-8")
    assert_one_line_spec_error(path, f"the spec {path} is not valid YAML")


def test_spec_with_two_operations_is_a_one_line_spec_error(tmp_path: Path) -> None:
    document = copy.deepcopy(SPEC)
    document["paths"][PATH]["delete"] = copy.deepcopy(OPERATION) | {"operationId": "deleteCallout"}
    assert_one_line_spec_error(write_spec(tmp_path, document), "exactly one operation, found 2")


def test_spec_without_known_status_values_is_a_one_line_spec_error(tmp_path: Path) -> None:
    document = copy.deepcopy(SPEC)
    del document["components"]["schemas"]["Callout"]["properties"]["status"]["x-known-values"]
    assert_one_line_spec_error(write_spec(tmp_path, document), "x-known-values")


def test_a_new_status_is_accepted_by_adding_one_line_to_the_spec(tmp_path: Path) -> None:
    """The documented way to accept a new status: add it to x-known-values; matching ignores case."""
    body = DOCUMENTED_EXAMPLE | {"status": "ESCALATED"}
    before = inspect(callout_exchange(body), load_contract())
    assert [Kind.UNKNOWN_STATUS] == [finding.kind for finding in before.findings]

    document = copy.deepcopy(SPEC)
    document["components"]["schemas"]["Callout"]["properties"]["status"]["x-known-values"].append("Escalated")
    contract = load_contract(write_spec(tmp_path, document))
    assert (*KNOWN_VALUES, "Escalated") == contract.known_statuses
    after = inspect(callout_exchange(body), contract)
    assert () == after.findings
    assert after.validated_body
