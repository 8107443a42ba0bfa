"""One model under one name: a dated model id and its alias are the same model.

Providers publish a model both as an alias (``claude-opus-4-1``, ``gpt-4o``) and as dated
snapshots (``claude-opus-4-1-20250805``, ``gpt-4o-2024-08-06``, Vertex's
``claude-opus-4-1@20250805``); agents log whichever they were given. Reports and the dashboard
group by :func:`model_alias` so one model is one row, one series and one filter choice; the raw
ids stay in exports and in a session's request table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_DATE_SUFFIX = re.compile(r"(?:[-@]20\d{6}|-20\d{2}-\d{2}-\d{2})$")
"""A snapshot date at the end of an id: -20250805, @20250805 or -2024-08-06."""


def model_alias(model: str) -> str:
    """The alias a model id is grouped under: the id without its snapshot date."""
    stripped = _DATE_SUFFIX.sub("", model)
    return stripped or model


def model_ids_of(chosen: Iterable[str], known: Iterable[str]) -> tuple[str, ...]:
    """Every known raw id that ``chosen`` names, directly or through its alias (a filter on
    ``claude-opus-4-1`` also matches ``claude-opus-4-1-20250805``); the chosen names stay in
    even when unknown, so a filter on a model not seen yet still matches nothing."""
    wanted = {model_alias(m) for m in chosen}
    if not wanted:
        return ()
    matched = [m for m in known if model_alias(m) in wanted]
    return tuple(dict.fromkeys([*chosen, *matched]))


def aliases_of(models: Iterable[str]) -> list[str]:
    """The distinct aliases of ``models``, sorted (the dashboard's model menu)."""
    return sorted({model_alias(m) for m in models})
