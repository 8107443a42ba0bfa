"""Codex's token counts: the ``last_token_usage`` and ``total_token_usage`` of a
``token_count`` event, a running total, the difference of two, and the ledger's buckets
(cache reads and writes come out of input; reasoning is inside output)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail.errors import BadRecord
from tokentrail.sources.values import count_or_none
from tokentrail.usage import Tokens

USAGE_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)
"""The counters of a Codex usage object, in the order we read them."""

Counts = dict[str, int | None]


@dataclass(frozen=True, slots=True)
class InfoUsage:
    """The two usage objects of a ``token_count`` info, raw and read."""

    last_raw: dict[str, Any] | None
    total_raw: dict[str, Any] | None
    last: Counts | None
    total: Counts | None


def read_info(info: object) -> InfoUsage:
    if not isinstance(info, dict):
        raise BadRecord("invalid_usage", "token_count info is not an object")
    last_raw = _usage_object(info.get("last_token_usage"), "last_token_usage")
    total_raw = _usage_object(info.get("total_token_usage"), "total_token_usage")
    if last_raw is None and total_raw is None:
        raise BadRecord("invalid_usage", "token_count info without usage")
    return InfoUsage(
        last_raw=last_raw,
        total_raw=total_raw,
        last=_read_counts(last_raw, "last") if last_raw is not None else None,
        total=_read_counts(total_raw, "total") if total_raw is not None else None,
    )


def _usage_object(value: object, name: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise BadRecord("invalid_usage", f"{name} is not an object")


def _read_counts(usage: Mapping[str, Any], prefix: str) -> Counts:
    return {name: count_or_none(usage.get(name), f"{prefix}.{name}") for name in USAGE_FIELDS}


def usage_total(counts: Counts) -> int | None:
    """``total_tokens``, or input + output for older records that omit it.

    Never input + output + reasoning: reasoning is already inside output (ccusage #1460).
    """
    total = counts.get("total_tokens")
    if total is not None:
        return total
    input_tokens, output = counts.get("input_tokens"), counts.get("output_tokens")
    if input_tokens is None or output is None:
        return None
    return input_tokens + output


def difference(current: Counts | None, previous: Counts | None) -> Counts:
    """This request's counts from two running totals (when ``last_token_usage`` is absent)."""
    if current is None:
        raise BadRecord("invalid_usage", "token_count without last or total usage")
    if previous is None:
        return dict(current)
    request: Counts = {}
    for name in USAGE_FIELDS:
        now = current.get(name)
        if now is None:
            request[name] = None
            continue
        delta = now - (previous.get(name) or 0)
        if delta < 0:
            raise BadRecord("invalid_count", f"running {name} went down to {now}")
        request[name] = delta
    return request


def ledger_tokens(request: Counts) -> Tokens:
    """Codex counts -> ledger buckets: cache reads and writes come out of input."""
    input_tokens = request.get("input_tokens")
    cached = request.get("cached_input_tokens")
    cache_write = request.get("cache_write_input_tokens")
    output = request.get("output_tokens")
    reasoning = request.get("reasoning_output_tokens")
    uncached = input_tokens
    if input_tokens is not None:
        inside = (cached or 0) + (cache_write or 0)
        if inside > input_tokens:
            raise BadRecord(
                "invalid_count",
                f"cached_input_tokens={cached} + cache_write_input_tokens={cache_write}"
                f" > input_tokens={input_tokens}",
            )
        uncached = input_tokens - inside
    if reasoning is not None and output is not None and reasoning > output:
        raise BadRecord(
            "invalid_count", f"reasoning_output_tokens={reasoning} > output_tokens={output}"
        )
    return Tokens(
        input=uncached,
        cache_read=cached,
        # OpenAI reports one cache-write figure with no TTL split; it goes to the
        # short-lived bucket. Absent in rollouts before Codex 0.145 -> not reported.
        cache_write_5m=cache_write,
        output=output,
        reasoning=reasoning,
    )
