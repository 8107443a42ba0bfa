"""The WHERE clause that scopes rows of a raw table (requests, rate-limit figures, OpenTelemetry
receipts, metric points, tool calls) to a :class:`~tokentrail.store.base.Filters`, in standard
SQL for both stores: only the placeholder (``?`` for SQLite, ``%s`` for psycopg) and the
substring test differ."""

from __future__ import annotations

from typing import Any, Literal, TypedDict, Unpack

from tokentrail.store.figures import Filters

Placeholder = Literal["?", "%s"]


def marks(mark: Placeholder, count: int) -> str:
    """``count`` placeholders, comma-separated (for ``IN (...)`` and ``VALUES (...)``)."""
    return ", ".join([mark] * count)


def contains(mark: Placeholder, column: str) -> str:
    """True when ``column`` holds the bound text (case-sensitive, no wildcards)."""
    function = "instr" if mark == "?" else "strpos"
    return f"{function}(COALESCE({column}, ''), {mark}) > 0"


def time_clauses(filters: Filters, mark: Placeholder, ts: str) -> tuple[list[str], list[Any]]:
    """The clauses (to AND) that hold ``ts`` (a column or an expression) in the filters' time
    range, and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.since_ms is not None:
        clauses.append(f"{ts} >= {mark}")
        params.append(filters.since_ms)
    if filters.until_ms is not None:
        clauses.append(f"{ts} < {mark}")
        params.append(filters.until_ms)
    return clauses, params


class ScopeColumns(TypedDict, total=False):
    """The columns a scope tests besides the time (defaults: :func:`scope_clauses`')."""

    source: str
    machine: str
    project: str | None
    user: str | None


def scope_where(
    filters: Filters, mark: Placeholder, *, ts: str, **columns: Unpack[ScopeColumns]
) -> tuple[str, list[Any]]:
    """``WHERE ...`` (or ``""``) and its parameters (see :func:`scope_clauses`)."""
    clauses, params = scope_clauses(filters, mark, ts=ts, **columns)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def scope_clauses(
    filters: Filters,
    mark: Placeholder,
    *,
    ts: str,
    source: str = "source",
    machine: str = "machine",
    project: str | None = None,
    user: str | None = None,
) -> tuple[list[str], list[Any]]:
    """The clauses (to AND) and their parameters: ``ts`` in the time range, ``source`` and
    ``machine`` among the filters'; ``project`` (a column, where the rows have one) contains the
    filter's text; ``user`` is the column naming who the row belongs to, None where rows have no
    user (then a user filter matches nothing)."""
    clauses, params = time_clauses(filters, mark, ts)
    for column, values in ((source, filters.sources), (machine, filters.machines)):
        if values:
            clauses.append(f"{column} IN ({marks(mark, len(values))})")
            params.extend(values)
    if project is not None and filters.project:
        clauses.append(contains(mark, project))
        params.append(filters.project)
    if filters.users:
        if user is None:
            clauses.append("1 = 0")
        else:
            clauses.append(f"{user} IN ({marks(mark, len(filters.users))})")
            params.extend(filters.users)
    return clauses, params
