"""Pydantic's validation errors in tokentrail's words.

One converter for every face that validates with pydantic: the HTTP API's 422 bodies
(:mod:`tokentrail.server.errors`) and the configuration file (:mod:`tokentrail.config`). Each
face says where (a JSON field, a TOML table and key) its own way; what is wrong is worded here.
Nothing here imports pydantic: it reads the plain dicts of ``ValidationError.errors()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation error: where (``loc``), pydantic's error type (``kind``), and what is
    wrong as a phrase to follow the field's name (``is required``, ``must be a number``)."""

    loc: Loc
    kind: str
    message: str
    input: Any


def problems(
    errors: Iterable[Mapping[str, Any]], phrases: Mapping[str, str] | None = None
) -> list[Problem]:
    """The errors of a ``ValidationError`` as :class:`Problem` s, in pydantic's order.

    ``phrases`` words error types a face wants in its own words: templates formatted with
    ``input`` (the refused value) and the error's context (e.g. ``{gt}``)."""
    return [_problem(error, phrases or {}) for error in errors]


def _problem(error: Mapping[str, Any], phrases: Mapping[str, str]) -> Problem:
    kind = str(error.get("type", ""))
    value = error.get("input")
    template = phrases.get(kind)
    if template is not None:
        message = template.format(input=value, **dict(error.get("ctx") or {}))
    elif kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = "is not a known field"
    else:
        # a validator's ValueError: its text is the message
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return Problem(tuple(error.get("loc", ())), kind, message, value)


def and_more(count: int) -> str:
    """`` (and 2 more problems)`` after the first problem's message; empty for none."""
    if count <= 0:
        return ""
    return f" (and {count} more problem{'s' if count > 1 else ''})"
