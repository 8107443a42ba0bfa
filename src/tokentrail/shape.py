"""The JSON shape of a report row, declared once: a ``TypedDict`` that its ``as_dict()``
returns (so mypy checks every key and type it writes) and from which the server builds the
pydantic model the API documents (:func:`tokentrail.server.shapes.response_model`).

A field's description goes in ``Annotated[type, Doc("...")]``, the value the API assumes
when a row leaves the field out in ``Default(...)``; a ``TypedDict``'s docstring is its
model's description. A moment the row writes as ISO 8601 text is an :data:`IsoTime` (the
API documents it as a date-time). Standard library only: the CLI's reports never import
pydantic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated


@dataclass(frozen=True, slots=True)
class Doc:
    """The description of a field of a row's JSON shape (shown in the OpenAPI schema)."""

    text: str


@dataclass(frozen=True, slots=True)
class Default:
    """A field the API model does not require: its value when left out, or the function
    that makes a fresh one (``Default(factory=list)``). A key only some rows write is also
    ``NotRequired`` in the shape."""

    value: object = None
    factory: Callable[[], object] | None = None


@dataclass(frozen=True, slots=True)
class DateTimeText:
    """Marks text that is an ISO 8601 moment: the API documents (and re-reads) it as one."""


IsoTime = Annotated[str, DateTimeText()]
"""A moment as the JSON contract writes it (:func:`tokentrail.reports.query.iso_time`)."""
