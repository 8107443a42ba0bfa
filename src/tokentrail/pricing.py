"""Turn a usage event into a cost: genai-prices at the event's own timestamp, user overrides,
the whole-request long-context rule, and an honest ``unpriced`` for models nobody knows.

genai-prices resolves *which* price applies (model matching, provider, price changes over
time, service-tier and fast-mode variants). Evaluating its generic calculator costs about
100 µs per request, too slow for a cold sync of a few hundred thousand requests, so the
resolved price is turned once into a :class:`RateCard` and reused for every request with the
same model, day and variant. The RateCard applies genai-prices' own rules (leaf buckets,
threshold tiers on the whole prompt) and a property test holds it equal to
``genai_prices.calc_price``; price shapes it does not understand fall back to that call.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokentrail.figures import WEB_SEARCH_MICRO_USD as WEB_SEARCH_MICRO_USD
from tokentrail.rate_card import (
    BUCKETS,
    RateCard,
    Tier,
    UnsupportedPriceShape,
    cache_saving,
    rate_card_from_model_price,
    to_micro,
)
from tokentrail.usage import Cost, Tokens, UsageEvent

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, Provider

PRICED = "priced"
UNPRICED = "unpriced"


@cache
def genai_prices_version() -> str:
    # importlib.metadata costs more to import than a whole report takes: only when pricing
    from importlib.metadata import version as package_version

    return f"genai-prices {package_version('genai-prices')}"


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A user's own price for models matching ``model`` (a glob), from ``since`` on (UTC date).

    Prices are USD per million tokens; a bucket left out is charged as plain input
    (cache buckets) or not at all (output must be given).
    """

    model: str
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    since: date | None = None

    def matches(self, model: str, when: datetime) -> bool:
        if self.since is not None and when.astimezone(UTC).date() < self.since:
            return False
        return fnmatch.fnmatchcase(model.lower(), self.model.lower())

    @property
    def label(self) -> str:
        return f"override {self.model}" + (f" since {self.since.isoformat()}" if self.since else "")

    def rate_card(self) -> RateCard:
        return RateCard(
            input=self.input,
            output=self.output,
            cache_read=self.cache_read,
            cache_write=self.cache_write,
            cache_write_1h=self.cache_write_1h,
            tiers=(),
            version=self.label,
        )


def web_search_micro(event: UsageEvent) -> int:
    """What the request's web searches cost where the provider's per-search price is known
    (0 otherwise: see :data:`WEB_SEARCH_MICRO_USD`)."""
    if not event.web_searches:
        return 0
    return event.web_searches * WEB_SEARCH_MICRO_USD.get(event.provider or "", 0)


def genai_usage(tokens: Tokens) -> Any:
    """The request in genai-prices' usage vocabulary (its ``input_tokens`` is the whole prompt)."""
    from genai_prices import Usage

    return Usage(
        input_tokens=tokens.prompt,
        cache_read_tokens=tokens.cache_read or 0,
        cache_write_tokens=(tokens.cache_write_5m or 0) + (tokens.cache_write_1h or 0),
        cache_write_1h_tokens=tokens.cache_write_1h or 0,
        output_tokens=tokens.output or 0,
    )


_Pricer = Callable[[Tokens], tuple[int, int | None]]
"""A function from a request's tokens to its cost in integer micro-dollars and what its cache
reads saved (:func:`cache_saving`)."""


class Pricer:
    """Prices events; caches the resolved price per model, provider, variant and UTC day."""

    def __init__(self, overrides: Sequence[PriceOverride] = ()) -> None:
        # later overrides win, and among those the most recent effective date
        self._overrides = sorted(
            enumerate(overrides), key=lambda item: (item[1].since or date.min, item[0])
        )
        self._by_day: dict[tuple[Any, ...], tuple[_Pricer, str] | None] = {}

    def price(self, event: UsageEvent) -> Cost:
        """The computed cost of one event, or ``unpriced`` when no price is known."""
        if event.model is None or event.tokens.is_empty:
            return Cost(status=UNPRICED)
        key = (event.model, event.provider, event.pricing_context, event.timestamp_ms // _DAY_MS)
        resolved = self._by_day.get(key, _UNRESOLVED)
        if resolved is _UNRESOLVED:
            resolved, daily = self._resolve(
                event.model, event.provider, event.pricing_context, event.timestamp
            )
            if daily:
                self._by_day[key] = resolved
        if resolved is None:
            return Cost(status=UNPRICED)
        price_fn, version = resolved
        micro, saving = price_fn(event.tokens)
        return Cost(
            status=PRICED,
            micro_usd=micro + web_search_micro(event),
            version=version,
            cache_saving_micro=saving,
        )

    def _resolve(
        self,
        model: str,
        provider: str | None,
        context: tuple[tuple[str, str], ...],
        when: datetime,
    ) -> tuple[tuple[_Pricer, str] | None, bool]:
        """The price function for a request, and whether it holds for the whole UTC day."""
        override = self._override_for(model, when)
        if override is not None:
            return (override.rate_card().micro_usd_and_saving, override.label), True
        key = _card_key(model, provider, context)
        day = when.astimezone(UTC).date().isoformat()
        kept = _CARDS.get(key, day)
        if kept is not _NOT_KEPT:
            return ((kept.micro_usd_and_saving, kept.version) if kept is not None else None), True
        found = _find_model(model, provider)
        if found is None:
            _CARDS.put(key, ("", ""), None)  # no price known: on any day
            return None, True
        provider_obj, model_info = found
        resolved, card = _resolve_genai(provider_obj, model_info, context, when)
        daily = not _has_time_of_day(model_info)
        if daily and card is not None:
            _CARDS.put(key, _price_days(model_info, context, when), card)
        return resolved, daily

    def _override_for(self, model: str, when: datetime) -> PriceOverride | None:
        chosen = None
        for _, override in self._overrides:
            if override.matches(model, when):
                chosen = override
        return chosen


_DAY_MS = 86_400_000
_UNRESOLVED: Any = object()


@cache
def _find_model(model: str, provider: str | None) -> tuple[Provider, ModelInfo] | None:
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    attempts = [provider, None] if provider else [None]
    for provider_id in attempts:
        try:
            found: tuple[Provider, ModelInfo] = snapshot.find_provider_model(
                model, None, provider_id, None
            )
        except LookupError:
            continue
        return found
    return None


def _has_time_of_day(model_info: ModelInfo) -> bool:
    """True when the model has off-peak (time-of-day) prices; start-date changes happen at UTC
    midnight, so every other price holds for a whole UTC day."""
    from genai_prices.types import TimeOfDateConstraint

    conditions = model_info.prices if isinstance(model_info.prices, list) else []
    return any(isinstance(c.constraint, TimeOfDateConstraint) for c in conditions)


def _price_days(
    model_info: ModelInfo, context: tuple[tuple[str, str], ...], when: datetime
) -> tuple[str, str]:
    """The UTC days ``[first, end)`` (ISO dates, "" for no bound) around ``when``'s over which
    the model's price is the one of ``when``: genai-prices chooses a price, and the variants
    that apply (given a context), by start dates alone (``StartDateConstraint``), so the choice
    holds from the last start on or before that day to the next one after it. Any other kind
    of condition holds it for that day only."""
    from genai_prices.types import StartDateConstraint

    day = when.astimezone(UTC).date()
    conditions = model_info.prices if isinstance(model_info.prices, list) else []
    constraints = [c.constraint for c in conditions]
    if context:
        constraints += [v.constraint for v in model_info.price_variants or ()]
    first, end = "", ""
    for constraint in constraints:
        if constraint is None:
            continue
        if not isinstance(constraint, StartDateConstraint):
            return day.isoformat(), date.fromordinal(day.toordinal() + 1).isoformat()
        start = constraint.start_date.isoformat()
        if constraint.start_date <= day:
            first = max(first, start)
        elif not end or start < end:
            end = start
    return first, end


def _resolve_genai(
    provider: Provider,
    model_info: ModelInfo,
    context: tuple[tuple[str, str], ...],
    when: datetime,
) -> tuple[tuple[_Pricer, str], RateCard | None]:
    """The price function and its version, and the rate card behind it when one holds it."""
    version = genai_prices_version()
    price_context = dict(context) or None
    model_price = model_info.get_prices(when, price_context)
    try:
        card = rate_card_from_model_price(model_price, version)
    except UnsupportedPriceShape:
        pass
    else:
        return (card.micro_usd_and_saving, version), card

    def slow(tokens: Tokens) -> int:
        result = model_info.calc_price(
            genai_usage(tokens), provider, genai_request_timestamp=when, price_context=price_context
        )
        return to_micro(Decimal(result.total_price))

    def slow_with_saving(tokens: Tokens) -> tuple[int, int | None]:
        micro = slow(tokens)
        return micro, cache_saving(slow, tokens, micro)

    return (slow_with_saving, version), None


# -- rate cards kept between processes ------------------------------------------------------

_NOT_KEPT: Any = object()
CARD_CACHE_FILE = "rate-cards.json"


def _card_key(model: str, provider: str | None, context: tuple[tuple[str, str], ...]) -> str:
    return "\x1f".join([model, provider or "", repr(context)])


_CARD_FORMAT = "days/1|"
"""Begins the stamp of the file's present shape (cards kept over spans of days): a file of
another shape is started again."""

_KeptCard = tuple[str, str, RateCard | None]
"""A card with the UTC days ``[first, end)`` it holds for (ISO dates, "" for no bound)."""


class RateCardCache:
    """Rate cards resolved from genai-prices, kept in a file between processes.

    Loading genai-prices' data costs about 0.15 s of CPU, more than a status line update or a
    small sync takes in all; a card (or "no price known") for a model, provider and context is
    the same every time while the installed genai-prices is the same, over the days between
    two of the model's price changes (:func:`_price_days`): one card serves a request of any
    of them, so a sync of requests on days not met before still finds it. The file is tied
    to that installation by the size and modification time of its data files, and written
    once, when the process ends. Only cards that hold for whole days are kept.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._cards: dict[str, list[_KeptCard]] | None = None
        self._stamp = ""
        self._dirty = False

    def get(self, key: str, day: str) -> RateCard | None:
        """The card of ``key`` on ``day`` (an ISO date), or ``_NOT_KEPT``."""
        for first, end, card in self._load().get(key, ()):
            if first <= day and (not end or day < end):
                return card
        unknown: RateCard | None = _NOT_KEPT
        return unknown

    def put(self, key: str, days: tuple[str, str], card: RateCard | None) -> None:
        cards = self._load()
        if not self._stamp or (*days, card) in cards.get(key, ()):
            return
        cards.setdefault(key, []).append((*days, card))
        if not self._dirty:
            import atexit

            atexit.register(self.save)
            self._dirty = True

    def _load(self) -> dict[str, list[_KeptCard]]:
        if self._cards is None:
            self._stamp = _genai_prices_stamp()
            self._cards = self._read()
        return self._cards

    def _read(self) -> dict[str, list[_KeptCard]]:
        """The file's cards, if it is of this installation and shape; else none."""
        try:
            data = _orjson().loads(self._file().read_bytes())
        except (OSError, ValueError):
            return {}
        if not (isinstance(data, dict) and data.get("stamp") == self._stamp and self._stamp):
            return {}
        try:
            return {
                key: [(str(f), str(e), _card_from_json(c)) for f, e, c in kept]
                for key, kept in data["cards"].items()
            }
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return {}  # a file of another shape: start again

    def save(self) -> None:
        """Write the file (atomically: two processes ending at once leave one whole file)."""
        import os

        if self._cards is None or not self._dirty:
            return
        for key, kept in self._read().items():  # what other processes kept since it was read
            mine = self._cards.setdefault(key, [])
            mine.extend(card for card in kept if card not in mine)
        path = self._file()
        payload = {
            "stamp": self._stamp,
            "cards": {
                key: [(first, end, _card_to_json(card)) for first, end, card in kept]
                for key, kept in self._cards.items()
            },
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.name}.{os.getpid()}")
            temporary.write_bytes(_orjson().dumps(payload))
            os.replace(temporary, path)
        except OSError:
            pass  # a cache: the next process resolves the prices again
        self._dirty = False

    def _file(self) -> Path:
        if self._path is None:
            from tokentrail.config import app_folder

            self._path = app_folder("cache") / CARD_CACHE_FILE
        return self._path


_CARDS = RateCardCache()


def keep_rate_cards() -> None:
    """Write the rate cards this process resolved now: a sync's worker process ends without
    running ``atexit`` handlers, where the file is otherwise written."""
    _CARDS.save()


def _orjson() -> Any:
    import orjson

    return orjson


def _genai_prices_stamp() -> str:
    """Which genai-prices data is installed, without importing it: "" when unknown."""
    import os
    from importlib.util import find_spec

    try:
        spec = find_spec("genai_prices")
        if spec is None or spec.origin is None:
            return ""
        folder = os.path.dirname(spec.origin)
        parts = [folder]
        for name in ("data.py", "data_snapshot.py", "types.py"):
            info = os.stat(os.path.join(folder, name))
            parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    except (OSError, ImportError, ValueError):
        return ""
    return _CARD_FORMAT + "|".join(parts)


def _card_to_json(card: RateCard | None) -> dict[str, Any] | None:
    if card is None:
        return None

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        **{name: text(getattr(card, name)) for name in BUCKETS},
        "tiers": [
            {"start": t.start, "prices": {k: str(v) for k, v in t.prices.items()}}
            for t in card.tiers
        ],
        "version": card.version,
        "per_request": str(card.per_request),
    }


def _card_from_json(data: dict[str, Any] | None) -> RateCard | None:
    if data is None:
        return None

    def number(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return RateCard(
        input=Decimal(data["input"]),
        output=number(data["output"]),
        cache_read=number(data["cache_read"]),
        cache_write=number(data["cache_write"]),
        cache_write_1h=number(data["cache_write_1h"]),
        tiers=tuple(
            Tier(int(t["start"]), {k: Decimal(v) for k, v in t["prices"].items()})
            for t in data["tiers"]
        ),
        version=str(data["version"]),
        per_request=Decimal(data["per_request"]),
    )
