"""A report row's JSON shape is declared once (tokentrail.reports.shape): the TypedDict its
as_dict() returns, from which the server builds the pydantic model the API documents."""

from __future__ import annotations

from typing import Annotated, TypedDict

import pytest

from tokentrail.reports.reconciliation import ReconciliationJson, ReconciliationRowJson
from tokentrail.reports.shape import Doc
from tokentrail.server.models import ReconciliationOut
from tokentrail.server.shapes import response_model


class _Point(TypedDict):
    """A point."""

    x: Annotated[int, Doc("Across.")]
    label: str | None


class _Line(TypedDict):
    points: list[_Point]
    first: _Point | None


def test_a_shape_becomes_a_model_with_its_descriptions_and_nested_references() -> None:
    line = response_model(_Line, {_Line: "LineOut", _Point: "PointOut"})
    schema = line.model_json_schema()
    point = schema["$defs"]["PointOut"]
    assert point["description"] == "A point."
    assert point["properties"]["x"]["description"] == "Across."
    assert point["required"] == ["x", "label"]
    assert schema["properties"]["points"]["items"] == {"$ref": "#/$defs/PointOut"}
    assert {"$ref": "#/$defs/PointOut"} in schema["properties"]["first"]["anyOf"]
    assert line.model_validate({"points": [{"x": 1, "label": None}], "first": None})


def test_a_shape_without_a_name_is_refused_by_name() -> None:
    class _Unnamed(TypedDict):
        x: int

    with pytest.raises(KeyError, match="_Unnamed has no model name"):
        response_model(_Unnamed, {})


def test_the_reconciliation_model_is_its_report_shape() -> None:
    assert list(ReconciliationOut.model_fields) == list(ReconciliationJson.__annotations__)
    rows = ReconciliationOut.model_fields["rows"].annotation
    row_model = rows.__args__[0]  # type: ignore[union-attr]
    assert row_model.__name__ == "ReconciliationRowOut"
    assert list(row_model.model_fields) == list(ReconciliationRowJson.__annotations__)
