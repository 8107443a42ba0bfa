"""Spend by group: usage and cost per source, model, project or machine, with shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

from tokentrail.figures import FiguresJson, UnpricedModelJson, UsageFigures, unpriced_dicts
from tokentrail.model_names import model_alias
from tokentrail.reports.query import ReportQuery
from tokentrail.shape import Doc
from tokentrail.store.base import Filters, GroupDimension, Store, Totals, UnpricedModel


def priced_cost(figures: UsageFigures) -> float:
    return figures.cost_usd or 0.0


def model_totals(store: Store, filters: Filters, models: Sequence[str] = ()) -> Totals:
    """Totals of ``filters``, only of ``models`` when given (from the rollups)."""
    if not models:
        return store.totals(filters)
    rows = store.group_totals(filters, "model", models)
    return sum((r.totals for r in rows), Totals.zero())


def unpriced_models_of(
    store: Store, filters: Filters, models: Sequence[str] = ()
) -> list[UnpricedModel]:
    """The models without a price in ``filters`` (only ``models`` when given)."""
    found = store.unpriced_models(filters)
    if not models:
        return found
    wanted = set(models)
    return [m for m in found if m.model in wanted]


# the JSON shapes (tokentrail.shape), their fields in the API's order


class SpendRowJson(FiguresJson):
    group: Annotated[str | None, Doc("The source, model or project; null: not reported.")]
    share: Annotated[float | None, Doc("Share of the priced cost (or of tokens).")]


class SpendJson(TypedDict):
    by: str
    rows: list[SpendRowJson]
    totals: FiguresJson
    share_of: Literal["cost", "tokens"]
    unpriced_models: list[UnpricedModelJson]
    timezone: str


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Usage of one source, model, project or machine, with its share of the whole."""

    group: str | None
    figures: UsageFigures
    share: float | None
    """Of the priced cost of all rows (of the tokens when nothing is priced); None if empty."""

    def as_dict(self) -> SpendRowJson:
        return {"group": self.group, **self.figures.as_dict(), "share": self.share}


@dataclass(frozen=True, slots=True)
class SpendReport:
    by: GroupDimension
    rows: list[SpendRow]
    totals: UsageFigures
    unpriced_models: list[UnpricedModel]
    timezone: str
    share_of: Literal["cost", "tokens"]

    def as_dict(self) -> SpendJson:
        return {
            "by": self.by,
            "rows": [row.as_dict() for row in self.rows],
            "totals": self.totals.as_dict(),
            "share_of": self.share_of,
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def spend_by(
    store: Store,
    query: ReportQuery,
    by: GroupDimension,
    *,
    models: Sequence[str] = (),
    limit: int | None = None,
) -> SpendReport:
    """Usage and cost per source (agent), model, project or machine, most costly first.

    With ``limit``, the rows past it are summed into one row whose group is ``"(other)"``."""
    filters = query.filters()
    merged: dict[str | None, Totals] = {}
    for r in store.group_totals(filters, by, models):
        # a dated model id and its alias are one model: one row
        group = model_alias(r.group) if by == "model" and r.group is not None else r.group
        merged[group] = merged.get(group, Totals.zero()) + r.totals
    grouped = [(g, t, UsageFigures.from_totals(t)) for g, t in merged.items()]
    grouped.sort(
        key=lambda g: (-priced_cost(g[2]), -(g[2].total_tokens or 0), g[0] is None, g[0] or "")
    )
    if limit is not None and len(grouped) > limit:
        rest = sum((g[1] for g in grouped[limit:]), Totals.zero())
        grouped = [*grouped[:limit], ("(other)", rest, UsageFigures.from_totals(rest))]
    total = sum((g[1] for g in grouped), Totals.zero())
    total_figures = UsageFigures.from_totals(total)
    share_of: Literal["cost", "tokens"] = "cost" if total_figures.cost_usd else "tokens"
    rows: list[SpendRow] = []
    for group, _, figures in grouped:
        if share_of == "cost":
            whole, part = total_figures.cost_usd or 0.0, figures.cost_usd or 0.0
        else:
            whole, part = float(total_figures.total_tokens or 0), float(figures.total_tokens or 0)
        share = round(part / whole, 6) if whole else None
        rows.append(SpendRow(group, figures, share))
    return SpendReport(
        by=by,
        rows=rows,
        totals=total_figures,
        unpriced_models=unpriced_models_of(store, filters, models),
        timezone=query.zone_name,
        share_of=share_of,
    )
