"""The API contract only grows: the app's OpenAPI schema is compared with the checked-in
tests/data/openapi.json, and only additive changes pass (new paths, new optional request
fields, new response fields, new enum values, new status codes). Removing or changing
anything a client may rely on fails.

After an intended, additive change, regenerate the copy and commit it:

    python tests/test_openapi.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "data" / "openapi.json"

# text that documents and never constrains: free to change
_PROSE = frozenset({"description", "title", "summary", "example", "examples", "operationId"})


def current_schema() -> dict[str, Any]:
    from tokentrail.ledger import Ledger
    from tokentrail.server.app import create_app

    with Ledger(":memory:") as ledger:
        schema: dict[str, Any] = create_app(ledger, token=None).openapi()
    return schema


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Everything in ``new`` that a client written against ``old`` could trip over."""
    problems: list[str] = []
    request_schemas = _request_schemas(old) | _request_schemas(new)
    old_schemas = old.get("components", {}).get("schemas", {})
    new_schemas = new.get("components", {}).get("schemas", {})
    for name, schema in old_schemas.items():
        where = f"components.schemas.{name}"
        if name not in new_schemas:
            problems.append(f"{where}: removed")
            continue
        _compare(schema, new_schemas[name], where, name in request_schemas, problems)
    for path, methods in old.get("paths", {}).items():
        if path not in new.get("paths", {}):
            problems.append(f"{path}: removed")
            continue
        for method, op in methods.items():
            new_op = new["paths"][path].get(method)
            where = f"{method.upper()} {path}"
            if new_op is None:
                problems.append(f"{where}: removed")
                continue
            _compare_operation(op, new_op, where, problems)
    return problems


def _compare_operation(
    old: dict[str, Any], new: dict[str, Any], where: str, problems: list[str]
) -> None:
    old_params = {(p["name"], p["in"]): p for p in old.get("parameters", [])}
    new_params = {(p["name"], p["in"]): p for p in new.get("parameters", [])}
    for key, param in old_params.items():
        if key not in new_params:
            problems.append(f"{where}: parameter {key[0]!r} removed")
        else:
            _compare(param, new_params[key], f"{where} parameter {key[0]!r}", True, problems)
    for key, param in new_params.items():
        if key not in old_params and param.get("required"):
            problems.append(f"{where}: new required parameter {key[0]!r}")
    if "requestBody" in old:
        if "requestBody" not in new:
            problems.append(f"{where}: request body removed")
        else:
            _compare(old["requestBody"], new["requestBody"], f"{where} body", True, problems)
    elif new.get("requestBody", {}).get("required"):
        problems.append(f"{where}: now requires a body")
    for status, response in old.get("responses", {}).items():
        if status not in new.get("responses", {}):
            problems.append(f"{where}: response {status} removed")
        else:
            _compare(response, new["responses"][status], f"{where} {status}", False, problems)


def _compare(old: Any, new: Any, where: str, is_request: bool, problems: list[str]) -> None:
    """``new`` must accept what ``old`` accepted (requests) and give what ``old`` gave
    (responses): keys may be added, nothing may go or change."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            if key in _PROSE:
                continue
            if key not in new:
                problems.append(f"{where}.{key}: removed")
            elif key == "properties":
                for name, prop in value.items():
                    if name not in new[key]:
                        problems.append(f"{where}: field {name!r} removed")
                    else:
                        _compare(prop, new[key][name], f"{where}.{name}", is_request, problems)
            elif key == "required" and isinstance(value, list):
                _compare_required(value, new[key], where, is_request, problems)
            elif key == "enum" and isinstance(value, list):
                gone = [v for v in value if v not in new[key]]
                if gone:
                    problems.append(f"{where}: enum values removed: {gone}")
            else:
                _compare(value, new[key], f"{where}.{key}", is_request, problems)
        if is_request:
            for key in ("required",):
                if key in new and key not in old:
                    _compare_required([], new[key], where, is_request, problems)
        elif "required" in old and "required" not in new:
            problems.append(f"{where}: fields no longer required: {old['required']}")
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            problems.append(f"{where}: changed from {old!r} to {new!r}")
            return
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _compare(a, b, f"{where}[{index}]", is_request, problems)
    elif old != new:
        problems.append(f"{where}: changed from {old!r} to {new!r}")


def _compare_required(
    old: list[Any], new: list[Any], where: str, is_request: bool, problems: list[str]
) -> None:
    if is_request:
        added = [name for name in new if name not in old]
        if added:
            problems.append(f"{where}: newly required request fields {added}")
    else:
        dropped = [name for name in old if name not in new]
        if dropped:
            problems.append(f"{where}: response fields no longer always present {dropped}")


def _request_schemas(schema: dict[str, Any]) -> set[str]:
    """Names of the component schemas clients send (reachable from request bodies)."""
    schemas = schema.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    todo = [
        op.get("requestBody", {})
        for methods in schema.get("paths", {}).values()
        for op in methods.values()
    ]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                name = ref.rsplit("/", 1)[1]
                if name not in seen:
                    seen.add(name)
                    todo.append(schemas.get(name, {}))
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return seen


def write_snapshot() -> None:
    SNAPSHOT.write_text(json.dumps(current_schema(), indent=2, sort_keys=True) + "\n")


# -- the contract ---------------------------------------------------------------------------


def test_the_api_only_grows() -> None:
    old = json.loads(SNAPSHOT.read_text())
    problems = breaking_changes(old, current_schema())
    assert not problems, (
        "the API changed in a way that breaks clients:\n  "
        + "\n  ".join(problems)
        + "\nmake the change additive; regenerate with `python tests/test_openapi.py` only "
        "for additive changes"
    )


def test_the_snapshot_is_current() -> None:
    """Additive changes are allowed, but the checked-in copy must then be regenerated so
    the next change is compared with them too."""
    old = json.loads(SNAPSHOT.read_text())
    new = json.loads(json.dumps(current_schema()))
    old.get("info", {}).pop("version", None)
    new.get("info", {}).pop("version", None)
    assert old == new, "run `python tests/test_openapi.py` and commit tests/data/openapi.json"


# -- the comparison itself --------------------------------------------------------------------


@pytest.fixture
def base() -> dict[str, Any]:
    return json.loads(SNAPSHOT.read_text())  # type: ignore[no-any-return]


def _changed(base: dict[str, Any], change: Any) -> list[str]:
    new = json.loads(json.dumps(base))
    change(new)
    return breaking_changes(base, new)


def test_additive_changes_pass(base: dict[str, Any]) -> None:
    schemas = "components", "schemas"

    def add_path(s: dict[str, Any]) -> None:
        s["paths"]["/api/v1/new"] = {"get": {"responses": {"200": {"description": "x"}}}}

    def add_response_field(s: dict[str, Any]) -> None:
        run = s[schemas[0]][schemas[1]]["RunOut"]
        run["properties"]["new_field"] = {"type": "integer"}
        run["required"].append("new_field")

    def add_optional_request_field(s: dict[str, Any]) -> None:
        s[schemas[0]][schemas[1]]["RunStart"]["properties"]["note"] = {"type": "string"}

    def add_enum_value(s: dict[str, Any]) -> None:
        result = s[schemas[0]][schemas[1]]["EventResult"]["properties"]["status"]
        result["enum"].append("merged")

    def reword(s: dict[str, Any]) -> None:
        s["paths"]["/api/v1/events"]["post"]["description"] = "Reworded."

    for change in (
        add_path,
        add_response_field,
        add_optional_request_field,
        add_enum_value,
        reword,
    ):
        assert _changed(base, change) == [], change.__name__


def test_breaking_changes_fail(base: dict[str, Any]) -> None:
    schemas = base["components"]["schemas"]
    assert "RunOut" in schemas and "RunStart" in schemas and "EventResult" in schemas

    def drop_path(s: dict[str, Any]) -> None:
        del s["paths"]["/api/v1/summary"]

    def drop_response_field(s: dict[str, Any]) -> None:
        del s["components"]["schemas"]["RunOut"]["properties"]["state"]

    def change_type(s: dict[str, Any]) -> None:
        s["components"]["schemas"]["RunOut"]["properties"]["peak_concurrency"]["type"] = "string"

    def require_request_field(s: dict[str, Any]) -> None:
        s["components"]["schemas"]["RunStart"]["required"].append("reason")

    def drop_enum_value(s: dict[str, Any]) -> None:
        s["components"]["schemas"]["EventResult"]["properties"]["status"]["enum"].remove(
            "duplicate"
        )

    def drop_status(s: dict[str, Any]) -> None:
        del s["paths"]["/api/v1/runs"]["post"]["responses"]["201"]

    def drop_parameter(s: dict[str, Any]) -> None:
        op = s["paths"]["/api/v1/sessions"]["get"]
        op["parameters"] = [p for p in op["parameters"] if p["name"] != "limit"]

    def drop_schema(s: dict[str, Any]) -> None:
        del s["components"]["schemas"]["SummaryOut"]

    for change in (
        drop_path,
        drop_response_field,
        change_type,
        require_request_field,
        drop_enum_value,
        drop_status,
        drop_parameter,
        drop_schema,
    ):
        assert _changed(base, change), change.__name__


if __name__ == "__main__":
    write_snapshot()
    sys.stdout.write(f"wrote {SNAPSHOT}\n")
