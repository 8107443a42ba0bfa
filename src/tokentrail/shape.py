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
from typing import Annotated

# Plain classes, not frozen dataclasses: every report's module imports these marks, and a
# frozen dataclass costs about a millisecond to create (three of them, a status line's tenth).


class Doc:
    """The description of a field of a row's JSON shape (shown in the OpenAPI schema)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Doc) and other.text == self.text

    def __hash__(self) -> int:
        return hash((Doc, self.text))

    def __repr__(self) -> str:
        return f"Doc(text={self.text!r})"


class Default:
    """A field the API model does not require: its value when left out, or the function
    that makes a fresh one (``Default(factory=list)``). A key only some rows write is also
    ``NotRequired`` in the shape."""

    __slots__ = ("factory", "value")

    def __init__(self, value: object = None, factory: Callable[[], object] | None = None) -> None:
        self.value = value
        self.factory = factory

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Default) and (other.value, other.factory) == (
            self.value,
            self.factory,
        )

    def __hash__(self) -> int:
        return hash((Default, self.value, self.factory))

    def __repr__(self) -> str:
        return f"Default(value={self.value!r}, factory={self.factory!r})"


class DateTimeText:
    """Marks text that is an ISO 8601 moment: the API documents (and re-reads) it as one."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateTimeText)

    def __hash__(self) -> int:
        return hash(DateTimeText)

    def __repr__(self) -> str:
        return "DateTimeText()"


IsoTime = Annotated[str, DateTimeText()]
"""A moment as the JSON contract writes it (:func:`tokentrail.reports.query.iso_time`)."""
