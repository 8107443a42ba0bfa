"""Pydantic models built from the reports' JSON shapes (:mod:`tokentrail.shape`), so
a row's fields are declared once: in the ``TypedDict`` its ``as_dict()`` returns.

    ReconciliationOut = response_model(ReconciliationJson)

A shape ``XJson``'s model is ``XOut`` in the OpenAPI schema (``names``, then
:data:`MODEL_NAMES`, name the others); a shape nested in another (a field of its type, a list
or dict of it, or it or null) becomes a reference to its own model, built once. A field
marked ``Default`` is optional in the model; text marked ``DateTimeText``
(:data:`~tokentrail.shape.IsoTime`) is a date-time.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NotRequired, Union, get_args, get_origin

from pydantic import BaseModel, Field, create_model

from tokentrail.figures import FiguresJson
from tokentrail.shape import DateTimeText, Default, Doc

MODEL_NAMES: Mapping[type, str] = {FiguresJson: "Figures"}
"""The models not named by the ``XJson`` → ``XOut`` rule (their names in the API contract)."""

_BUILT: dict[type, type[BaseModel]] = {}


def response_model(shape: type, names: Mapping[type, str] | None = None) -> type[BaseModel]:
    """The pydantic model of ``shape`` (a ``TypedDict``) and of the shapes in it, named by
    ``names``, :data:`MODEL_NAMES` or the ``XJson`` → ``XOut`` rule."""
    built = _BUILT.get(shape)
    if built is not None:
        return built
    names = names or {}
    fields: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(shape, include_extras=True).items():
        kind, marks, optional = _unwrap(hint)
        if any(isinstance(m, DateTimeText) for m in marks):
            kind = datetime
        fields[name] = (_resolve(kind, names), _field(shape, name, marks, optional))
    model: type[BaseModel] = create_model(
        _model_name(shape, names), __doc__=shape.__doc__, __module__=shape.__module__, **fields
    )
    _BUILT[shape] = model
    return model


def _model_name(shape: type, names: Mapping[type, str]) -> str:
    name = names.get(shape) or MODEL_NAMES.get(shape)
    if name is not None:
        return name
    stem, json, _ = shape.__name__.rpartition("Json")
    if not json or not stem or _:
        raise KeyError(
            f"{shape.__qualname__} has no model name; call it XJson (its model: XOut) or "
            "give it one in the names given"
        )
    return f"{stem}Out"


def _field(shape: type, name: str, marks: list[object], optional: bool) -> Any:
    """The pydantic ``Field`` of a shape's field from its marks (``...``: required)."""
    described = [m.text for m in marks if isinstance(m, Doc)]
    defaults = [m for m in marks if isinstance(m, Default)]
    if optional and not defaults:
        raise TypeError(
            f"{shape.__qualname__}.{name} is NotRequired; mark it Default(...) to give the "
            "API model its value when left out"
        )
    extra: dict[str, Any] = {"description": described[0]} if described else {}
    if not defaults:
        return Field(**extra) if extra else ...
    default = defaults[0]
    if default.factory is not None:
        return Field(default_factory=default.factory, **extra)
    return Field(default.value, **extra)


def _unwrap(hint: Any) -> tuple[Any, list[object], bool]:
    """A field's type without its ``Annotated`` and ``NotRequired`` wrappers, the marks on
    it, and whether it is ``NotRequired``."""
    optional = False
    marks: list[object] = []
    while True:
        origin = get_origin(hint)
        if origin is NotRequired:
            optional, hint = True, get_args(hint)[0]
        elif origin is typing.Annotated:
            hint, *found = get_args(hint)
            marks.extend(found)
        else:
            return hint, marks, optional


def _resolve(kind: Any, names: Mapping[type, str]) -> Any:
    """``kind`` with every shape in it replaced by the shape's model."""
    if typing.is_typeddict(kind):
        return response_model(kind, names)
    origin = get_origin(kind)
    if origin is None:
        return kind
    if origin is typing.Annotated:
        inner, *marks = get_args(kind)
        if any(isinstance(m, DateTimeText) for m in marks):
            return datetime
        return _resolve(inner, names)
    args = tuple(_resolve(a, names) for a in get_args(kind))
    if origin in (Union, types.UnionType):
        return Union[args]  # noqa: UP007 (built from a tuple)
    return origin[args[0] if len(args) == 1 else args]
