"""Pydantic models built from the reports' JSON shapes (:mod:`tokentrail.reports.shape`), so
a row's fields are declared once: in the ``TypedDict`` its ``as_dict()`` returns.

    ReconciliationOut = response_model(ReconciliationJson, NAMES)

``names`` gives each shape the name its model has in the OpenAPI schema; a shape nested in
another (a field of its type, a list or dict of it, or it or null) becomes a reference to its
own model, built once.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, Field, create_model

from tokentrail.reports.shape import Doc

_BUILT: dict[type, type[BaseModel]] = {}


def response_model(shape: type, names: Mapping[type, str]) -> type[BaseModel]:
    """The pydantic model of ``shape`` (a ``TypedDict``), named ``names[shape]``."""
    built = _BUILT.get(shape)
    if built is not None:
        return built
    if shape not in names:
        raise KeyError(f"{shape.__qualname__} has no model name; add it to the names given")
    fields: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(shape, include_extras=True).items():
        kind, docs = _unwrap(hint)
        described = [d.text for d in docs]
        field = Field(description=described[0]) if described else ...
        fields[name] = (_resolve(kind, names), field)
    model: type[BaseModel] = create_model(
        names[shape], __doc__=shape.__doc__, __module__=shape.__module__, **fields
    )
    _BUILT[shape] = model
    return model


def _unwrap(hint: Any) -> tuple[Any, list[Doc]]:
    """A field's type without its ``Annotated`` wrapper, and the :class:`Doc` marks on it."""
    if get_origin(hint) is typing.Annotated:
        kind, *marks = get_args(hint)
        return kind, [m for m in marks if isinstance(m, Doc)]
    return hint, []


def _resolve(kind: Any, names: Mapping[type, str]) -> Any:
    """``kind`` with every shape in it replaced by the shape's model."""
    if typing.is_typeddict(kind):
        return response_model(kind, names)
    origin = get_origin(kind)
    if origin is None:
        return kind
    args = tuple(_resolve(a, names) for a in get_args(kind))
    if origin in (Union, types.UnionType):
        return Union[args]  # noqa: UP007 (built from a tuple)
    return origin[args[0] if len(args) == 1 else args]
