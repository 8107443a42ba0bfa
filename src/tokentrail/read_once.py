"""A store that answers each read once per page.

A dashboard page is built from many reports, and several of them ask the store the same
question: the unpriced models of the range (every spend table and the overview), the
ledger's time span (the timeline and the daily chart), the runs (the current run and its
silence). Inside one read transaction the answers cannot change, so :func:`read_once` keeps
them for the page; nothing outlives it.

Two reads are answered from a wider one, with the same sums: usage per local day without
models from the per-model days when the page has read those, and, with a project filter,
usage per source, model or project (the overview's three spend tables, each then a pass over
the same rollups) from one read per combination of the three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from tokentrail.store.base import (
    GroupDimension,
    GroupsTotalsRow,
    GroupTotalsRow,
    IntervalRow,
    Store,
    Totals,
)

_KEPT = frozenset(
    {
        "count_runs",
        "group_totals",
        "interval_totals",
        "list_runs",
        "session_stats",
        "time_range",
        "totals",
        "unpriced_models",
    }
)
"""Reads whose answer depends only on their arguments (and the ledger, fixed for the page)."""


def read_once(store: Store) -> Store:
    """``store``, answering each of the reads in ``_KEPT`` once for the same arguments.
    Only for the life of one read transaction (one page)."""
    return cast(Store, _ReadOnce(store))


def _frozen(value: Any) -> Any:
    """A hashable key for an argument (lists of keys, of models or of segments)."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class _IntervalKey:
    filters: Any
    segments: Any
    interval_ms: int
    models: Any


class _ReadOnce:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._answers: dict[Any, Any] = {}
        self._per_model: dict[_IntervalKey, list[IntervalRow]] = {}

    def __getattr__(self, name: str) -> Any:
        read = getattr(self._store, name)
        if name not in _KEPT:
            return read
        if name == "interval_totals":
            return self._interval_totals
        if name == "group_totals":
            return self._group_totals
        return self._kept(name, read)

    def _kept(self, name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def once(*args: Any, **kwargs: Any) -> Any:
            key = (name, _frozen(args), tuple(sorted((k, _frozen(v)) for k, v in kwargs.items())))
            if key not in self._answers:
                self._answers[key] = read(*args, **kwargs)
            return _copy(self._answers[key])

        return once

    def _group_totals(
        self, filters: Any, by: GroupDimension, models: Any = ()
    ) -> list[GroupTotalsRow]:
        if by not in _COMBINED or not filters.project:
            # without a project filter, sources and models are summed from the kept days (or
            # the lifetime rollups) and only projects from rollups that keep them: cheaper
            # than one read of all three
            found: list[GroupTotalsRow] = self._kept("group_totals", self._store.group_totals)(
                filters, by, models
            )
            return found
        read = self._kept("group_totals_by", self._store.group_totals_by)
        return _summed(read(filters, _COMBINED, models), _COMBINED.index(by))

    def _interval_totals(
        self,
        filters: Any,
        segments: Any,
        interval_ms: int,
        by_model: bool,
        models: Any = (),
    ) -> list[IntervalRow]:
        key = _IntervalKey(filters, _frozen(segments), interval_ms, _frozen(models))
        if by_model:
            rows = self._per_model.get(key)
            if rows is None:
                rows = self._per_model[key] = self._store.interval_totals(
                    filters, segments, interval_ms, by_model=True, models=models
                )
            return list(rows)
        per_model = self._per_model.get(key)
        if per_model is None:
            read = self._kept("interval_totals", self._store.interval_totals)
            found: list[IntervalRow] = read(
                filters, segments, interval_ms, by_model=False, models=models
            )
            return found
        # the same sums: per interval over its models (the rows come ordered by interval)
        summed: dict[int, Totals] = {}
        for row in per_model:
            seen = summed.get(row.index)
            summed[row.index] = row.totals if seen is None else seen + row.totals
        return [IntervalRow(index=i, model=None, totals=t) for i, t in sorted(summed.items())]


_COMBINED: tuple[GroupDimension, ...] = ("source", "model", "project")


def _summed(rows: list[GroupsTotalsRow], at: int) -> list[GroupTotalsRow]:
    sums: dict[str | None, Totals] = {}
    for row in rows:
        group = row.groups[at]
        seen = sums.get(group)
        sums[group] = row.totals if seen is None else seen + row.totals
    return [GroupTotalsRow(group=g, totals=t) for g, t in sums.items()]


def _copy(answer: Any) -> Any:
    # callers may sort or extend a list they were given: each gets its own
    return list(answer) if isinstance(answer, list) else answer
