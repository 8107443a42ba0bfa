from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tokentrail.pricing import PRICED, UNPRICED, PriceOverride, Pricer, genai_usage
from tokentrail.rate_card import to_micro
from tokentrail.usage import Tokens, UsageEvent

WHEN = datetime(2026, 3, 1, 12, tzinfo=UTC)


def event(model: str | None, tokens: Tokens, when: datetime = WHEN, **kw: object) -> UsageEvent:
    return UsageEvent(key="k", source="test", timestamp=when, tokens=tokens, model=model, **kw)  # type: ignore[arg-type]


def reference_micro(
    model: str,
    tokens: Tokens,
    when: datetime,
    provider: str | None = None,
    context: dict[str, str] | None = None,
) -> int:
    result = genai_prices.calc_price(
        genai_usage(tokens),
        model,
        provider_id=provider,
        genai_request_timestamp=when,
        price_context=context,
    )
    return to_micro(result.total_price)


def _models() -> list[tuple[str, str]]:
    snapshot = genai_prices.data_snapshot.get_snapshot()
    found = []
    for provider in snapshot.providers:
        if provider.id not in ("anthropic", "openai", "google"):
            continue
        for model in provider.models:
            try:
                _, resolved = snapshot.find_provider_model(model.id, None, provider.id, None)
            except LookupError:
                continue  # ids such as "ft:gpt-4o" are not matched by their own rules
            if resolved is model:
                found.append((provider.id, model.id))
    return found


MODELS = _models()

token_counts = st.one_of(st.none(), st.integers(min_value=0, max_value=400_000))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODELS),
    tokens=st.builds(Tokens, token_counts, token_counts, token_counts, token_counts, token_counts),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 11, 1)),
    fast=st.booleans(),
)
def test_rate_card_equals_genai_prices(
    model: tuple[str, str], tokens: Tokens, day: date, fast: bool
) -> None:
    assume(not tokens.is_empty)
    provider, model_id = model
    when = datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC)
    context = (("speed", "fast"),) if fast else ()
    cost = Pricer().price(event(model_id, tokens, when, provider=provider, pricing_context=context))
    expected = reference_micro(model_id, tokens, when, provider, dict(context) or None)
    assert cost.status == PRICED
    assert cost.micro_usd == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODELS),
    tokens=st.builds(Tokens, token_counts, token_counts, token_counts, token_counts, token_counts),
    day=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 11, 1)),
)
def test_cache_saving_from_one_evaluation_equals_pricing_the_reads_as_input(
    model: tuple[str, str], tokens: Tokens, day: date
) -> None:
    # the rule: the request priced with its cache reads as plain input, less its price
    assume(not tokens.is_empty)
    provider, model_id = model
    when = datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC)
    cost = Pricer().price(event(model_id, tokens, when, provider=provider))
    if tokens.cache_read is None:
        assert cost.cache_saving_micro is None
        return
    as_input = Tokens(
        (tokens.input or 0) + tokens.cache_read,
        0,
        tokens.cache_write_5m,
        tokens.cache_write_1h,
        tokens.output,
    )
    expected = reference_micro(model_id, as_input, when, provider) - reference_micro(
        model_id, tokens, when, provider
    )
    assert cost.cache_saving_micro == expected


def test_long_context_switches_the_whole_request() -> None:
    # Sonnet 4.5 charges every bucket at the >200k rate once the whole prompt passes 200k,
    # even though no single bucket does.
    small = Tokens(input=50_000, cache_read=100_000, cache_write_5m=40_000, output=1_000)
    large = Tokens(input=50_000, cache_read=100_000, cache_write_5m=60_000, output=1_000)
    pricer = Pricer()
    below = pricer.price(event("claude-sonnet-4-5", small)).micro_usd
    above = pricer.price(event("claude-sonnet-4-5", large)).micro_usd
    # base: $3 in, $0.30 read, $3.75 write, $15 out; >200k: $6, $0.60, $7.50, $22.50
    assert below == to_micro(Decimal("0.15") + Decimal("0.03") + Decimal("0.15") + Decimal("0.015"))
    assert above == to_micro(
        Decimal("0.30") + Decimal("0.06") + Decimal("0.45") + Decimal("0.0225")
    )


def test_cache_savings_are_priced_at_the_requests_own_rate_and_tier() -> None:
    pricer = Pricer()
    small = Tokens(input=1_000, cache_read=100_000, output=1_000)
    # Sonnet 4.5 below 200k: each cache read costs $0.30/M instead of $3/M
    assert pricer.price(event("claude-sonnet-4-5", small)).cache_saving_micro == 270_000
    # past 200k the whole request is at the long-context rates, its savings too ($6 - $0.60)
    large = Tokens(input=1_000, cache_read=250_000, output=1_000)
    assert pricer.price(event("claude-sonnet-4-5", large)).cache_saving_micro == 1_350_000
    no_reads = Tokens(input=1_000, cache_read=0, output=10)
    assert pricer.price(event("claude-sonnet-4-5", no_reads)).cache_saving_micro == 0
    not_reported = Tokens(input=1_000, output=10)
    assert pricer.price(event("claude-sonnet-4-5", not_reported)).cache_saving_micro is None
    assert pricer.price(event("acme-coder-9000", small)).cache_saving_micro is None


def test_one_hour_cache_writes_cost_more_than_five_minute_ones() -> None:
    pricer = Pricer()
    five = pricer.price(event("claude-opus-4-5", Tokens(cache_write_5m=1_000_000))).micro_usd
    hour = pricer.price(event("claude-opus-4-5", Tokens(cache_write_1h=1_000_000))).micro_usd
    assert (five, hour) == (6_250_000, 10_000_000)


def test_fast_mode_uses_its_own_price() -> None:
    tokens = Tokens(input=1_000_000, output=0)
    normal = Pricer().price(event("claude-opus-4-8", tokens)).micro_usd
    fast = Pricer().price(event("claude-opus-4-8", tokens, pricing_context=(("speed", "fast"),)))
    assert normal == 5_000_000
    assert fast.micro_usd == 10_000_000


def test_unknown_model_is_unpriced_never_zero_or_borrowed() -> None:
    cost = Pricer().price(event("acme-coder-9000", Tokens(input=10, output=10)))
    assert cost.status == UNPRICED
    assert cost.micro_usd is None
    assert Pricer().price(event(None, Tokens(input=10))).status == UNPRICED


def test_price_is_taken_at_the_events_own_timestamp() -> None:
    override_old = PriceOverride(model="house-model", input=Decimal(1), output=Decimal(2))
    override_new = PriceOverride(
        model="house-*", input=Decimal(10), output=Decimal(20), since=date(2026, 6, 1)
    )
    pricer = Pricer([override_old, override_new])
    tokens = Tokens(input=1_000_000, output=1_000_000)
    before = pricer.price(event("house-model", tokens, datetime(2026, 5, 31, 23, tzinfo=UTC)))
    after = pricer.price(event("house-model", tokens, datetime(2026, 6, 1, 0, 1, tzinfo=UTC)))
    assert before.micro_usd == 3_000_000
    assert after.micro_usd == 30_000_000
    assert after.version is not None and "house-*" in after.version


def test_override_beats_genai_prices_and_uncached_input_rule() -> None:
    override = PriceOverride(
        model="claude-sonnet-4-5*", input=Decimal(1), output=Decimal(1), cache_read=Decimal("0.5")
    )
    # no cache-write price in the override: writes are charged as plain input
    tokens = Tokens(input=1_000_000, cache_read=1_000_000, cache_write_5m=1_000_000, output=0)
    cost = Pricer([override]).price(event("claude-sonnet-4-5-20250929", tokens))
    assert cost.micro_usd == 2_500_000


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-sonnet-4-20250514", "anthropic"),
        ("gpt-5-codex", "openai"),
        ("gemini-2.5-pro", "google"),
    ],
)
def test_agent_model_names_resolve(model: str, provider: str) -> None:
    cost = Pricer().price(event(model, Tokens(input=1000, output=1000), provider=provider))
    assert cost.status == PRICED and cost.micro_usd and cost.micro_usd > 0


def test_a_kept_rate_card_serves_every_day_until_the_models_next_price_change(
    tmp_path: Path,
) -> None:
    """A card resolved for one day prices a request of another day between the same two
    price changes without loading genai-prices' data (a small sync meets new days all the
    time); a request past the change resolves its own card. Every cost is genai-prices'."""
    import subprocess
    import sys
    from datetime import timedelta

    from genai_prices import data_snapshot
    from genai_prices.types import StartDateConstraint

    model = "claude-sonnet-4-6"  # its price changes once (genai-prices' data)
    _, info = data_snapshot.get_snapshot().find_provider_model(model, None, "anthropic", None)
    assert isinstance(info.prices, list)
    (change,) = (
        c.constraint.start_date
        for c in info.prices
        if isinstance(c.constraint, StartDateConstraint)
    )
    noon = datetime(change.year, change.month, change.day, 12, tzinfo=UTC)
    days = [noon - timedelta(days=90), noon - timedelta(days=1), noon, noon + timedelta(days=30)]
    tokens = Tokens(input=1200, cache_read=250_000, cache_write_5m=900, output=700)
    script = """
import sys, orjson
from datetime import datetime
from tokentrail.pricing import Pricer
from tokentrail.usage import Tokens, UsageEvent
when = datetime.fromisoformat(sys.argv[1])
tokens = Tokens(input=1200, cache_read=250_000, cache_write_5m=900, output=700)
usage = UsageEvent(key="k", source="t", timestamp=when, tokens=tokens, model=sys.argv[2])
micro = Pricer().price(usage).micro_usd
print(orjson.dumps({"micro": micro, "loaded": "genai_prices.data" in sys.modules}).decode())
"""

    def run(when: datetime) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", script, when.isoformat(), model],
            env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
            capture_output=True,
            check=True,
        )
        return orjson.loads(done.stdout)  # type: ignore[no-any-return]

    runs = [run(when) for when in days]
    assert [r["loaded"] for r in runs] == [True, False, True, False]
    assert [r["micro"] for r in runs] == [reference_micro(model, tokens, when) for when in days]


def test_rate_cards_kept_between_processes_price_exactly_as_genai_prices(
    tmp_path: Path,
) -> None:
    """A process that finds the rate card in the cache file prices without loading
    genai-prices' data, and gets the same micro-dollars and version as one that did."""
    import subprocess
    import sys

    cache = tmp_path / "cache"
    script = """
import sys, orjson
from datetime import datetime
from tokentrail.pricing import Pricer
from tokentrail.usage import Tokens, UsageEvent
when = datetime.fromisoformat("2026-03-01T12:00:00+00:00")
tokens = Tokens(input=1200, cache_read=250_000, cache_write_5m=900, cache_write_1h=100, output=700)
costs = []
for model in ("claude-sonnet-4-5-20250929", "gpt-5-codex", "no-such-model-anywhere"):
    usage = UsageEvent(key="k", source="t", timestamp=when, tokens=tokens, model=model)
    cost = Pricer().price(usage)
    costs.append([cost.status, cost.micro_usd, cost.version, cost.cache_saving_micro])
print(orjson.dumps({"costs": costs, "loaded": "genai_prices.data" in sys.modules}).decode())
"""

    def run() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "XDG_CACHE_HOME": str(cache)},
            capture_output=True,
            check=True,
        )
        return orjson.loads(done.stdout)  # type: ignore[no-any-return]

    first, second = run(), run()
    assert (cache / "tokentrail" / "rate-cards.json").exists()
    assert first["loaded"] and not second["loaded"]
    assert first["costs"] == second["costs"]
    assert first["costs"][0][0] == PRICED and first["costs"][2][0] == UNPRICED
    tokens = Tokens(
        input=1200, cache_read=250_000, cache_write_5m=900, cache_write_1h=100, output=700
    )
    assert second["costs"][0][1] == reference_micro("claude-sonnet-4-5-20250929", tokens, WHEN)
