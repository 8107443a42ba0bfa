"""A resolved price as exact arithmetic: the :class:`RateCard` of one model at one time, in
genai-prices' semantics (leaf buckets, threshold tiers on the whole prompt), priced in integer
micro-dollars; and the one rule for what cache reads saved.

:mod:`tokentrail.pricing` resolves which price applies and builds the card once per model,
day and variant (:func:`rate_card_from_model_price`); a property test holds the card equal to
``genai_prices.calc_price``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from tokentrail.usage import Tokens

if TYPE_CHECKING:
    from genai_prices.types import ModelPrice

MICRO = Decimal(1_000_000)
PER_MTOK = Decimal(1_000_000)

# genai-prices price keys for the ledger's buckets, and which bucket a leaf rolls up into when
# a model has no price of its own for it (genai-prices' decomposition: an unpriced cache-write
# 1h is charged as a cache write, an unpriced cache read or write as plain input).
_TOKEN_PRICE_KEYS = frozenset(
    {"input_mtok", "cache_read_mtok", "cache_write_mtok", "cache_write_1h_mtok", "output_mtok"}
)
_NEVER_COUNTED = ("audio", "image", "video")  # modalities the agents' logs never report


def _never_counted(price_key: str) -> bool:
    """Prices of units our usage never has (searches, audio, images): always zero here."""
    if price_key == "requests_kcount":
        return False
    return price_key.endswith("_kcount") or any(word in price_key for word in _NEVER_COUNTED)


@dataclass(frozen=True, slots=True)
class Tier:
    """Prices that replace the base ones for the whole request once its prompt passes ``start``."""

    start: int
    prices: Mapping[str, Decimal]


BUCKETS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_SCALE = 10**6
"""Prices are held as integers of 10^-6 USD per million tokens, so a request's cost in
micro-dollars is an exact integer sum (prices in the data have at most six decimals; any that
do not fit fall back to Decimal arithmetic)."""


@dataclass(frozen=True, slots=True)
class _Level:
    start: int
    prices: Mapping[str, Decimal | None]
    scaled: Mapping[str, int | None] | None


@dataclass(frozen=True, slots=True)
class RateCard:
    """Resolved USD-per-million prices for one model at one time, in genai-prices' semantics."""

    input: Decimal
    output: Decimal | None
    cache_read: Decimal | None
    cache_write: Decimal | None
    cache_write_1h: Decimal | None
    tiers: tuple[Tier, ...]
    version: str
    per_request: Decimal = Decimal(0)
    _levels: tuple[_Level, ...] = field(init=False, repr=False, compare=False)
    _per_request_scaled: int | None = field(init=False, repr=False, compare=False)
    """``per_request`` in the integer units ``micro_usd`` sums, or None when it has more
    decimals than those hold (then the request is priced with decimals)."""

    def __post_init__(self) -> None:
        per_request = self.per_request * _SCALE * _SCALE
        object.__setattr__(
            self,
            "_per_request_scaled",
            int(per_request) if per_request == per_request.to_integral_value() else None,
        )
        prices: dict[str, Decimal | None] = {name: getattr(self, name) for name in BUCKETS}
        levels = [_level(-1, prices)]
        for tier in self.tiers:  # ascending; genai-prices: the highest tier passed applies
            prices = {**prices, **tier.prices}
            levels.append(_level(tier.start, prices))
        object.__setattr__(self, "_levels", tuple(levels))

    def micro_usd(self, tokens: Tokens) -> int:
        """Integer micro-dollars for one request, rounded half to even."""
        level = self._level_for(tokens.prompt)
        per_request = self._per_request_scaled
        if level.scaled is None or per_request is None:
            return to_micro(self._usd(tokens, level.prices))
        return _round_scaled(self._scaled_total(tokens, level.prices, level.scaled, per_request))

    def micro_usd_and_saving(self, tokens: Tokens) -> tuple[int, int | None]:
        """:meth:`micro_usd` and :func:`cache_saving` of one request from one evaluation.

        Pricing the cache reads as plain input keeps the prompt, so the tier, and every
        bucket but two: the reads leave their own price for the input price. The saving is
        that difference, added to the exact integer total before each side is rounded, which
        is what pricing both versions of the request and subtracting gives."""
        level = self._level_for(tokens.prompt)
        per_request = self._per_request_scaled
        scaled = level.scaled
        if scaled is None or per_request is None:
            micro = to_micro(self._usd(tokens, level.prices))
            return micro, cache_saving(self.micro_usd, tokens, micro)
        total = self._scaled_total(tokens, level.prices, scaled, per_request)
        micro = _round_scaled(total)
        reads = tokens.cache_read
        if not reads:
            return micro, reads  # None: not reported; 0: nothing saved
        read_price = scaled["cache_read"]
        if read_price is None:  # reads are charged as input already
            return micro, 0
        input_price = scaled["input"] or 0
        return micro, _round_scaled(total + reads * (input_price - read_price)) - micro

    @staticmethod
    def _scaled_total(
        tokens: Tokens,
        prices: Mapping[str, Decimal | None],
        scaled: Mapping[str, int | None],
        per_request: int,
    ) -> int:
        total = per_request
        for name, count in _leaves(tokens, prices).items():
            price = scaled[name]
            if price is not None and count:
                total += price * count
        return total

    def cost(self, tokens: Tokens) -> Decimal:
        """USD for one request; the tier is chosen by the whole prompt, never per bucket."""
        return self._usd(tokens, self._level_for(tokens.prompt).prices)

    def _usd(self, tokens: Tokens, prices: Mapping[str, Decimal | None]) -> Decimal:
        total = Decimal(0)
        for name, count in _leaves(tokens, prices).items():
            price = prices[name]
            if price is not None and count:
                total += price * count
        return total / PER_MTOK + self.per_request

    def _level_for(self, prompt: int) -> _Level:
        chosen = self._levels[0]
        for level in self._levels[1:]:
            if prompt > level.start:
                chosen = level
        return chosen


def _round_scaled(total: int) -> int:
    """A total in :data:`_SCALE` units of micro-dollars as micro-dollars, half to even."""
    whole, rest = divmod(total, _SCALE)
    if rest * 2 > _SCALE or (rest * 2 == _SCALE and whole % 2):
        whole += 1
    return whole


def _level(start: int, prices: dict[str, Decimal | None]) -> _Level:
    scaled: dict[str, int | None] = {}
    for name, price in prices.items():
        if price is None:
            scaled[name] = None
            continue
        value = price * _SCALE
        if value != value.to_integral_value():
            return _Level(start, dict(prices), None)
        scaled[name] = int(value)
    return _Level(start, dict(prices), scaled)


def _leaves(tokens: Tokens, prices: Mapping[str, Decimal | None]) -> dict[str, int]:
    """Token counts per priced bucket, by genai-prices' decomposition: a cache bucket without
    a price of its own is charged as its parent (1-hour writes as writes, reads and writes as
    plain input); uncached input is the whole prompt less the priced cache buckets."""
    prompt = tokens.prompt
    write_1h = tokens.cache_write_1h or 0
    write_all = (tokens.cache_write_5m or 0) + write_1h
    leaves: dict[str, int] = {}
    if prices["cache_write_1h"] is not None and prices["cache_write"] is not None:
        leaves["cache_write_1h"] = write_1h
        leaves["cache_write"] = write_all - write_1h
    elif prices["cache_write"] is not None:
        leaves["cache_write"] = write_all
    elif prices["cache_write_1h"] is not None:
        leaves["cache_write_1h"] = write_1h
    if prices["cache_read"] is not None:
        leaves["cache_read"] = tokens.cache_read or 0
    leaves["input"] = prompt - sum(leaves.values())
    leaves["output"] = tokens.output or 0
    return leaves


class UnsupportedPriceShape(Exception):
    """The resolved genai-prices price uses units the RateCard does not model."""


def rate_card_from_model_price(model_price: ModelPrice, version: str) -> RateCard:
    """Build a RateCard from a resolved genai-prices ``ModelPrice``."""
    from genai_prices.types import TieredPrices

    base: dict[str, Decimal | None] = {}
    tier_prices: dict[int, dict[str, Decimal]] = {}
    per_request = Decimal(0)
    for key, value in vars(model_price).items():
        if value is None or key.startswith("_") or _never_counted(key):
            continue
        if key == "requests_kcount" and isinstance(value, Decimal):
            per_request = value / 1000
            continue
        if key not in _TOKEN_PRICE_KEYS:
            raise UnsupportedPriceShape(key)
        name = key.removesuffix("_mtok")
        if isinstance(value, TieredPrices):
            base[name] = value.base
            for tier in value.tiers:
                tier_prices.setdefault(tier.start, {})[name] = tier.price
        elif isinstance(value, Decimal):
            base[name] = value
        else:
            raise UnsupportedPriceShape(key)
    if base.get("input") is None:
        raise UnsupportedPriceShape("no input price")
    return RateCard(
        input=base["input"] or Decimal(0),
        output=base.get("output"),
        cache_read=base.get("cache_read"),
        cache_write=base.get("cache_write"),
        cache_write_1h=base.get("cache_write_1h"),
        tiers=tuple(Tier(start, prices) for start, prices in sorted(tier_prices.items())),
        version=version,
        per_request=per_request,
    )


def to_micro(usd: Decimal) -> int:
    """USD as integer micro-dollars, rounded half to even."""
    return int((usd * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def cache_saving(price_fn: Callable[[Tokens], int], tokens: Tokens, micro: int) -> int | None:
    """The one rule for what cache reads saved: the request priced with its cache reads as
    plain input, less its price. None when it did not report cache reads."""
    if tokens.cache_read is None:
        return None
    if tokens.cache_read == 0:
        return 0
    uncached = Tokens(
        (tokens.input or 0) + tokens.cache_read,
        0,
        tokens.cache_write_5m,
        tokens.cache_write_1h,
        tokens.output,
        tokens.reasoning,
    )
    return price_fn(uncached) - micro
