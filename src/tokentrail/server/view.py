"""The dashboard's filters, shared by its pages and the read API: a :class:`View` parsed
from ``since``/``until`` (inclusive local days), ``range`` (``7d``, ``30d``, ``90d``, ``1y``,
``all``), ``tz``, ``source`` and ``model`` (repeatable) and ``project`` (text in the path),
each error naming its parameter; and the ledger a route reads (``request.app.state.ledger``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

from tokentrail.ingest import MAX_ID_LENGTH, InvalidUsage
from tokentrail.ledger import Ledger
from tokentrail.model_names import model_ids_of
from tokentrail.reports.query import ReportQuery
from tokentrail.server.limits import MAX_NOTE_LENGTH
from tokentrail.server.params import day_range, zone_param
from tokentrail.store.base import Store

RANGES: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "1y": 365, "all": None}
"""Preset ranges: the last N local days up to today (``all``: no bound)."""
PAGE_DEFAULT_RANGE = "30d"
"""What the dashboard's pages (and ``/api/v1/overview``) show when no range is given."""


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


def model_ids(store: Store, view: View) -> tuple[str, ...]:
    """The raw model ids the view's model filter names: a dated id and its alias are one
    model (:mod:`tokentrail.model_names`), so a filter on either matches both."""
    if not view.models:
        return ()
    return model_ids_of(view.models, store.group_names("model"))


@dataclass(frozen=True, slots=True)
class View:
    """The filters shared by every page and endpoint, parsed, with what was given."""

    query: ReportQuery
    models: tuple[str, ...]
    range: str | None
    """The preset in force (``30d`` …), ``custom`` for explicit days, None for all time."""
    given: tuple[tuple[str, str], ...]
    """The filter parameters as given (for links that keep them)."""

    def params(self, **changes: str | None) -> str:
        """The query string of these filters with ``changes`` (None removes a key)."""
        pairs = [(k, v) for k, v in self.given if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return urlencode(pairs)

    def value(self, name: str) -> str:
        return next((v for k, v in self.given if k == name), "")

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.given if k == name]


def parse_view(
    *,
    since: str | None = None,
    until: str | None = None,
    range_: str | None = None,
    tz: str | None = None,
    sources: list[str] | None = None,
    project: str | None = None,
    models: list[str] | None = None,
    default_range: str | None = None,
    now: datetime | None = None,
) -> View:
    """Check the filters (errors name the parameter) and build the report query."""
    zone, zone_name = zone_param(tz)
    since_day, until_day = day_range(since, until)
    chosen = range_ or None
    if chosen is not None and chosen not in RANGES:
        raise InvalidUsage("range", f"{chosen!r} is not a range; use one of {', '.join(RANGES)}")
    if since_day or until_day:
        chosen = "custom"
    else:
        chosen = chosen or default_range
        days = RANGES.get(chosen or "all")
        if days is not None:
            today = (now or datetime.now(UTC)).astimezone(zone).date()
            since_day = today - timedelta(days=days - 1)
    clean_sources = tuple(s for s in (sources or ()) if s)
    clean_models = tuple(dict.fromkeys(m for m in (models or ()) if m))
    given: list[tuple[str, str]] = []
    for key, value in (("since", since), ("until", until), ("range", range_), ("tz", tz)):
        if value:
            given.append((key, value))
    given += [("source", s) for s in clean_sources]
    if project:
        given.append(("project", project))
    given += [("model", m) for m in clean_models]
    query = ReportQuery(
        zone=zone,
        zone_name=zone_name,
        since=since_day,
        until=until_day,
        sources=clean_sources,
        project=project or None,
    )
    return View(query, clean_models, None if chosen == "all" else chosen, tuple(given))


Day = Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD, a local day in tz")]
Text = Annotated[str | None, Query(max_length=MAX_NOTE_LENGTH)]
Names = Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)]
RangeParam = Annotated[
    str | None,
    Query(
        alias="range",
        max_length=8,
        description="7d, 30d, 90d, 1y or all: the last N local days up to today "
        "(since/until win over it)",
    ),
]


def _filters(default_range: str | None) -> Callable[..., View]:
    """The dependency that parses the shared filters of a request, ``default_range`` in
    force when none is given."""

    def filters(
        since: Day = None,
        until: Day = None,
        range_: RangeParam = None,
        tz: Text = None,
        source: Annotated[
            list[str] | None, Query(max_length=MAX_ID_LENGTH, description="Repeatable")
        ] = None,
        project: Annotated[
            str | None, Query(max_length=MAX_NOTE_LENGTH, description="Text in the project path")
        ] = None,
        model: Annotated[
            list[str] | None, Query(max_length=MAX_ID_LENGTH, description="Repeatable")
        ] = None,
    ) -> View:
        return parse_view(
            since=since,
            until=until,
            range_=range_,
            tz=tz,
            sources=source,
            project=project,
            models=model,
            default_range=default_range,
        )

    return filters


view_filters = _filters(None)
"""The shared filters of an API call (no range: all time)."""
page_filters = _filters(PAGE_DEFAULT_RANGE)
"""The shared filters of a page view (no range: the last 30 days)."""

ViewDep = Annotated[View, Depends(view_filters)]
PageViewDep = Annotated[View, Depends(page_filters)]
