"""A report row's JSON shape is declared once (tokentrail.shape): the TypedDict its
as_dict() returns, from which the server builds the pydantic model the API documents."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, NotRequired, TypedDict, get_args

import pytest
from pydantic import BaseModel

from tokentrail.figures import FiguresJson, UsageFigures
from tokentrail.reports.reconciliation import ReconciliationJson, ReconciliationRowJson
from tokentrail.server.models import OverviewOut, ReconciliationOut, RunOut, SessionOut, SessionsOut
from tokentrail.server.shapes import response_model
from tokentrail.shape import Default, Doc, IsoTime


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


class _StampedJson(TypedDict):
    at: IsoTime
    seen: Annotated[IsoTime | None, Doc("Last seen."), Default(None)]
    tags: Annotated[list[str], Default(factory=list)]
    note: NotRequired[Annotated[str | None, Default(None)]]


def test_marks_give_defaults_date_times_and_the_xjson_to_xout_name() -> None:
    model = response_model(_StampedJson)
    assert model.__name__ == "_StampedOut"
    schema = model.model_json_schema()
    assert schema["required"] == ["at"]
    assert schema["properties"]["at"]["format"] == "date-time"
    assert schema["properties"]["seen"]["default"] is None
    assert schema["properties"]["seen"]["description"] == "Last seen."
    assert "default" not in schema["properties"]["tags"]  # a fresh list, not a shared one
    first = model.model_validate({"at": "2026-05-04T09:30:00Z"})
    assert first.model_dump(mode="json") == {
        "at": "2026-05-04T09:30:00Z",
        "seen": None,
        "tags": [],
        "note": None,
    }
    assert first.model_dump(exclude_unset=True, mode="json") == {"at": "2026-05-04T09:30:00Z"}


def test_a_key_only_some_rows_write_needs_its_default_named() -> None:
    class _LooseJson(TypedDict):
        note: NotRequired[str]

    with pytest.raises(TypeError, match=r"_LooseJson\.note is NotRequired; mark it Default"):
        response_model(_LooseJson)


def test_figures_as_dict_writes_its_shape_in_order() -> None:
    figures = UsageFigures(1, 2, None, None, 3, None, 5, 0.5, 0, None)
    assert list(figures.as_dict()) == list(FiguresJson.__annotations__)
    assert [f.name for f in fields(UsageFigures)] == list(FiguresJson.__annotations__)


def _field_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The model of a field holding one (or a list of them, or one or null)."""
    annotation = model.model_fields[name].annotation
    found = [a for a in (annotation, *get_args(annotation)) if isinstance(a, type)]
    return next(a for a in found if issubclass(a, BaseModel))


def test_the_write_answers_start_with_the_fields_of_the_read_rows() -> None:
    session_row = _field_model(SessionsOut, "rows")
    current_run = _field_model(OverviewOut, "current_run")
    assert list(RunOut.model_fields)[:9] == list(current_run.model_fields)[:9]
    assert list(SessionOut.model_fields)[:12] == list(session_row.model_fields)[:12]
