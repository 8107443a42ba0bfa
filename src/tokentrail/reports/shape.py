"""The JSON shape of a report row, declared once: a ``TypedDict`` that its ``as_dict()``
returns (so mypy checks every key and type it writes) and from which the server builds the
pydantic model the API documents (:func:`tokentrail.server.shapes.response_model`).

A field's description goes in ``Annotated[type, Doc("...")]``; a ``TypedDict``'s docstring
is its model's description. Standard library only: the CLI's reports never import pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Doc:
    """The description of a field of a row's JSON shape (shown in the OpenAPI schema)."""

    text: str
