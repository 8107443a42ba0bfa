"""Figures shared by the store, the reports and the fast answers, importing nothing of
tokentrail's but the JSON shape's marks (:mod:`tokentrail.shape`, standard library):
what a group of usage adds up to (:class:`UsageFigures`, from the store's
:class:`~tokentrail.store.figures.Totals`; its JSON shape :class:`FiguresJson`), and the price
of a web search (a rollup keeps searches of an unpriced provider apart).
:mod:`tokentrail.pricing` re-exports these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, TypedDict, cast

from tokentrail.shape import Default, Doc

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tokentrail.store.figures import Totals, UnpricedModel

TOKEN_BUCKETS: tuple[str, ...] = (
    "input",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "output",
    "reasoning",
)
"""The names of the token buckets, in the order they are stored (the store's columns and
measures, :class:`tokentrail.usage.Tokens`' fields)."""

WEB_SEARCH_MICRO_USD: Mapping[str, int] = {"anthropic": 10_000}
"""The price of one server-side web search, in micro-dollars, by provider (Anthropic: $10
per 1,000 searches, on top of the tokens). genai-prices has no per-search prices. Searches of
another provider are counted but not priced: the cost of their requests is a floor."""


class _RequestsJson(TypedDict):
    requests: Annotated[int, Doc("Requests (usage events) counted.")]


class TokensCostJson(TypedDict):
    """The tokens and cost of a request or a group (null: not reported, or not priced)."""

    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None


class FiguresJson(_RequestsJson, TokensCostJson):
    """Usage of a group. null means not reported (or, for cost, that nothing could be
    priced) — never a silent zero."""

    unpriced_requests: int
    reported_cost_usd: float | None
    web_searches: Annotated[int, Doc("Server-side web searches (billed per search)."), Default(0)]
    unpriced_web_searches: Annotated[
        int,
        Doc("Web searches with no known per-search price: cost_usd is a floor."),
        Default(0),
    ]
    requests_without_tokens: Annotated[
        int,
        Doc(
            "Requests whose agent reported a cost but no token counts (e.g. Crush "
            "sessions): the token figures leave them out, so they are a floor."
        ),
        Default(0),
    ]


class UnpricedModelJson(TypedDict):
    model: str
    requests: int
    tokens: int


@dataclass(frozen=True, slots=True)
class UsageFigures:
    """Token and cost figures of one group. ``None`` means not reported (or, for cost, that
    nothing in the group could be priced) — never a silent zero."""

    requests: int
    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None
    unpriced_requests: int
    reported_cost_usd: float | None
    web_searches: int = 0
    """Server-side web searches (billed per search, priced where the price is known)."""
    unpriced_web_searches: int = 0
    """Web searches of a provider with no known per-search price: the cost is a floor."""
    requests_without_tokens: int = 0
    """Requests whose agent reported a cost but no token counts (a Crush session): the token
    figures of the group leave them out, so they are a floor (None when no request of the
    group reported any). Counted as the requests beyond the most that reported any bucket."""

    @property
    def cost_is_floor(self) -> bool:
        """Some of this group's spend has no known price: the cost shown is a floor."""
        return bool(self.unpriced_requests or self.unpriced_web_searches)

    @classmethod
    def from_totals(cls, t: Totals) -> UsageFigures:
        # the measures in MEASURES' order, unpacked at once: reports make thousands of these
        (
            requests, input_, cache_read, cache_write_5m, cache_write_1h, output, reasoning,
            n_input, n_cache_read, n_cache_write, n_output, n_reasoning, cost_micro,
            unpriced_requests, _unpriced_tokens, reported_cost_micro, n_reported_cost,
            _cache_saving_micro, _n_cache_saving, web_searches, unpriced_web_searches,
        ) = t.values  # fmt: skip
        any_tokens = n_input or n_cache_read or n_cache_write or n_output
        total = input_ + cache_read + cache_write_5m + cache_write_1h + output
        return cls(
            requests=requests,
            input_tokens=input_ if n_input else None,
            cache_read_tokens=cache_read if n_cache_read else None,
            cache_write_tokens=cache_write_5m + cache_write_1h if n_cache_write else None,
            output_tokens=output if n_output else None,
            reasoning_tokens=reasoning if n_reasoning else None,
            total_tokens=total if any_tokens else None,
            cost_usd=round(cost_micro / 1_000_000, 6) if requests > unpriced_requests else None,
            unpriced_requests=unpriced_requests,
            reported_cost_usd=round(reported_cost_micro / 1_000_000, 6)
            if n_reported_cost
            else None,
            web_searches=web_searches,
            unpriced_web_searches=unpriced_web_searches,
            requests_without_tokens=max(
                requests - max(n_input, n_cache_read, n_cache_write, n_output), 0
            ),
        )

    def as_dict(self) -> FiguresJson:
        """Every figure under its field's name (its fields are FiguresJson's, in its order:
        tests/test_shapes.py checks)."""
        return cast("FiguresJson", dict(zip(_FIELD_NAMES, _figures_of(self), strict=True)))


_FIELD_NAMES = tuple(f.name for f in fields(UsageFigures))
_figures_of = attrgetter(*_FIELD_NAMES)
"""A group's figures in field order (reports turn thousands of groups into JSON)."""


def unpriced_dicts(models: Sequence[UnpricedModel]) -> list[UnpricedModelJson]:
    """Models without a price as every JSON face shows them."""
    return [{"model": m.model, "requests": m.requests, "tokens": m.tokens} for m in models]
