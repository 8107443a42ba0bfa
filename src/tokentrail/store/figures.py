"""What a query asks for (:class:`Filters`, :class:`OffsetSegment`) and the sums it answers
with (:data:`MEASURES`, defined once in :data:`MEASURE_SQL`, held in :class:`Totals`)."""

from __future__ import annotations

import operator
from typing import NamedTuple

# not tokentrail.pricing nor tokentrail.usage: this stays light
from tokentrail.figures import TOKEN_BUCKETS, WEB_SEARCH_MICRO_USD

BUCKET_MS = 15 * 60 * 1000
"""Rollups are kept per 15-minute UTC bucket: every time zone in use is a whole number of
quarter hours from UTC (+05:30, +05:45, +12:45 …), so local days of any zone are unions of
buckets, and DST transitions fall on bucket boundaries."""

MEASURES: tuple[str, ...] = (
    "requests",
    *TOKEN_BUCKETS,
    "n_input",
    "n_cache_read",
    "n_cache_write",
    "n_output",
    "n_reasoning",
    "cost_micro",
    "unpriced_requests",
    "unpriced_tokens",
    "reported_cost_micro",
    "n_reported_cost",
    "cache_saving_micro",
    "n_cache_saving",
    "web_searches",
    "unpriced_web_searches",
)
"""Additive sums kept per rollup row. ``n_<bucket>`` counts requests that reported the bucket,
so a sum over requests that never reported it reads as "not reported", not as 0."""


MEASURE_SQL: dict[str, str] = {
    "requests": "COUNT(*)",
    "input": "COALESCE(SUM(input), 0)",
    "cache_read": "COALESCE(SUM(cache_read), 0)",
    "cache_write_5m": "COALESCE(SUM(cache_write_5m), 0)",
    "cache_write_1h": "COALESCE(SUM(cache_write_1h), 0)",
    "output": "COALESCE(SUM(output), 0)",
    "reasoning": "COALESCE(SUM(reasoning), 0)",
    "n_input": "COUNT(input)",
    "n_cache_read": "COUNT(cache_read)",
    "n_cache_write": "SUM(CASE WHEN cache_write_5m IS NOT NULL OR cache_write_1h IS NOT NULL "
    "THEN 1 ELSE 0 END)",
    "n_output": "COUNT(output)",
    "n_reasoning": "COUNT(reasoning)",
    "cost_micro": "COALESCE(SUM(cost_micro), 0)",
    "unpriced_requests": "SUM(CASE WHEN cost_micro IS NULL THEN 1 ELSE 0 END)",
    "unpriced_tokens": "SUM(CASE WHEN cost_micro IS NULL THEN COALESCE(input, 0) "
    "+ COALESCE(cache_read, 0) + COALESCE(cache_write_5m, 0) + COALESCE(cache_write_1h, 0) "
    "+ COALESCE(output, 0) ELSE 0 END)",
    "reported_cost_micro": "COALESCE(SUM(CAST(ROUND(reported_cost_usd * 1000000) AS BIGINT)), 0)",
    "n_reported_cost": "COUNT(reported_cost_usd)",
    "cache_saving_micro": "COALESCE(SUM(cache_saving_micro), 0)",
    "n_cache_saving": "COUNT(cache_saving_micro)",
    "web_searches": "COALESCE(SUM(web_searches), 0)",
    # searches of a provider with no known per-search price (see tokentrail.pricing): the
    # cost of their rows is a floor
    "unpriced_web_searches": "COALESCE(SUM(CASE WHEN provider IN "
    + "("
    + ", ".join(f"'{name}'" for name in WEB_SEARCH_MICRO_USD)
    + ")"
    + " THEN 0 ELSE web_searches END), 0)",
}
"""How each measure is computed from a group of rows of the ``events`` table: the one
definition, in standard SQL, of what a rollup holds."""

ACTIVE_MS_SQL = (
    "SELECT session_key, SUM(CASE WHEN gap <= {gap} THEN gap ELSE 0 END) FROM ("
    "SELECT session_key, ts_ms - LAG(ts_ms) OVER (PARTITION BY session_key ORDER BY ts_ms) "
    "AS gap FROM events WHERE {keys}) g GROUP BY session_key"
)
"""Active time per session (Store.active_ms), in standard SQL: ``{gap}`` is the backend's
placeholder, ``{keys}`` its test of ``session_key`` against a list of keys."""


# The query and the row types are NamedTuples, Totals a plain class: a frozen dataclass costs
# about a millisecond to create at import, a NamedTuple a fifth of it, and the status line and
# `blocks --active` import this module on every call.


class Filters(NamedTuple):
    """Which usage a query covers. Times are UTC epoch milliseconds, ``until`` exclusive.
    (A copy with some fields changed: ``filters._replace(since_ms=…)``.)"""

    since_ms: int | None = None
    until_ms: int | None = None
    sources: tuple[str, ...] = ()
    project: str | None = None
    """Substring of the project (working directory) to match."""
    machines: tuple[str, ...] = ()
    """Only usage recorded on these machines (exact names)."""
    users: tuple[str, ...] = ()
    """Only usage attributed to these users (team ledgers; a local ledger has no users)."""


class OffsetSegment(NamedTuple):
    """From ``start_ms`` (inclusive, UTC) on, local time is UTC + ``offset_ms``."""

    start_ms: int
    offset_ms: int


_MEASURE_INDEX = {name: i for i, name in enumerate(MEASURES)}
_ZEROS = (0,) * len(MEASURES)
"""Where each measure sits in :attr:`Totals.values` (a dict: reports read them by the million)."""


class Totals:
    """Sums of :data:`MEASURES` for one group of usage (a value: never changed once made)."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[int, ...]) -> None:
        self.values = values

    def __getattr__(self, name: str) -> int:
        index = _MEASURE_INDEX.get(name)
        if index is None:
            raise AttributeError(name)
        return self.values[index]

    @property
    def requests(self) -> int:  # the measure read most, without __getattr__'s lookup
        return self.values[0]

    @classmethod
    def zero(cls) -> Totals:
        return cls(_ZEROS)

    def __add__(self, other: Totals) -> Totals:
        return Totals(tuple(map(operator.add, self.values, other.values)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Totals):
            return NotImplemented
        return self.values == other.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"Totals(values={self.values!r})"


NO_MODEL = "(no model)"
"""How usage that reported no model is named where models are listed."""


class UnpricedModel(NamedTuple):
    model: str
    requests: int
    tokens: int


class MinuteRow(NamedTuple):
    """The requests of one UTC minute and model (see :meth:`Store.minute_totals`)."""

    minute: int
    """UTC epoch milliseconds divided by 60,000."""
    model: str | None
    first_ms: int
    last_ms: int
    totals: Totals
