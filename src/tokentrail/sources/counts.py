"""Token counts as more than one agent writes them, in the ledger's buckets."""

from __future__ import annotations

from tokentrail.errors import BadRecord
from tokentrail.sources.values import count_or_none
from tokentrail.usage import Tokens


def cache_inside_input(
    prompt: object,
    output: object,
    cache_read: object,
    cache_write: object,
    reasoning: object = None,
) -> Tokens:
    """Counts whose input INCLUDES the cache reads and writes (``input_tokens``,
    ``cache_read_tokens``, ``cache_write_tokens``, ``output_tokens``, ``reasoning_tokens``:
    Copilot CLI and goose), as the ledger's buckets: uncached input = input − cache read −
    cache write; reasoning is inside output. An input smaller than its cache is
    ``invalid_count``."""
    total_in = count_or_none(prompt, "input_tokens")
    read = count_or_none(cache_read, "cache_read_tokens")
    write = count_or_none(cache_write, "cache_write_tokens")
    uncached = None
    if total_in is not None:
        uncached = total_in - (read or 0) - (write or 0)
        if uncached < 0:
            raise BadRecord(
                "invalid_count", f"input={total_in} < cache read {read} + write {write}"
            )
    return Tokens(
        input=uncached,
        cache_read=read,
        cache_write_5m=write,
        output=count_or_none(output, "output_tokens"),
        reasoning=count_or_none(reasoning, "reasoning_tokens"),
    )
