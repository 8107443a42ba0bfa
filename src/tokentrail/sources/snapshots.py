"""Usage from cumulative snapshots: the growth of a running total between two reads.

Some agents keep no per-request usage, only a running total they rewrite after every request
(mux's ``session-usage.json`` per model, Factory Droid's ``tokenUsage`` per session). Such a
total says how much, not when: tokentrail records its *growth* since the last read, dated when
it was seen (approximate time, exact totals). The rules every such source shares live here:

* what was last counted is kept in the parser memory of the file's cursor (see
  :func:`remember`), entry by entry (a model, or the whole session), as counts in a fixed
  bucket order and the agent's cost when it reports one;
* the growth of an entry is the difference to it, bucket by bucket, never negative;
* a bucket that shrank, or an entry that vanished, means the agent rebuilt its totals: nothing
  is counted, the new totals become the baseline of a new *generation* (part of the keys, so
  the totals of a new generation are never merged with the old ones);
* keys are deterministic (the caller puts the generation and the entry's total before the
  growth into them), so reading the same snapshot again from the same memory (a kill before the
  commit, two syncs at once) yields the same keys, and the ledger's merge keeps one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tokentrail.sources.files import open_regular
from tokentrail.sources.values import reported_cost
from tokentrail.usage import Tokens

MEM_GENERATION = "generation"
MEM_TOTALS = "totals"
MEM_COSTS = "costs"


@dataclass(frozen=True, slots=True)
class Totals:
    """One entry of a snapshot: counts in the source's bucket order, and the agent's cost."""

    tokens: tuple[int, ...]
    cost: float | None = None
    """The agent's own cumulative cost of the entry; None when it does not report one."""

    @property
    def total(self) -> int:
        return sum(self.tokens)


Growth = dict[str, tuple[list[int], float | None]]
"""Per entry: the counts that grew (bucket order) and the growth of the cost, if known."""


@dataclass(frozen=True, slots=True)
class Step:
    """What a new snapshot means against the memory: counted growth, or a rebuild."""

    previous: dict[str, Totals]
    generation: int
    growth: Growth
    rebuilt: str | None
    """Why the snapshot cannot follow the remembered one (then ``growth`` is empty and
    ``generation`` is one more than before), or None."""

    def start(self, entry: str) -> int:
        """The entry's total before the growth: with the generation, the key of its event."""
        before = self.previous.get(entry)
        return before.total if before is not None else 0


def step(memory: Mapping[str, Any], totals: Mapping[str, Totals], buckets: Sequence[str]) -> Step:
    """Compare a snapshot's ``totals`` with the ones ``memory`` says were counted."""
    previous = remembered(memory, len(buckets))
    current = generation(memory)
    reason = shrunk(previous, totals, buckets)
    if reason is not None:
        return Step(previous, current + 1, {}, reason)
    return Step(previous, current, growth(previous, totals), None)


def remember(generation: int, totals: Mapping[str, Totals]) -> dict[str, Any]:
    """The parser memory that records ``totals`` as counted (JSON-serialisable)."""
    return {
        MEM_GENERATION: generation,
        MEM_TOTALS: {entry: list(t.tokens) for entry, t in totals.items()},
        MEM_COSTS: {entry: t.cost for entry, t in totals.items()},
    }


def remembered(memory: Mapping[str, Any], width: int) -> dict[str, Totals]:
    """The totals last counted, from parser memory (anything malformed there is ignored)."""
    totals = memory.get(MEM_TOTALS)
    costs = memory.get(MEM_COSTS)
    costs = costs if isinstance(costs, dict) else {}
    found: dict[str, Totals] = {}
    for entry, counts in totals.items() if isinstance(totals, dict) else ():
        if (
            isinstance(counts, list)
            and len(counts) == width
            and all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
        ):
            found[entry] = Totals(tuple(counts), reported_cost(costs.get(entry)))
    return found


def generation(memory: Mapping[str, Any]) -> int:
    value = memory.get(MEM_GENERATION)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def shrunk(
    previous: Mapping[str, Totals], totals: Mapping[str, Totals], buckets: Sequence[str]
) -> str | None:
    """Why ``totals`` cannot be a later state of ``previous``, or None."""
    for entry, before in sorted(previous.items()):
        now = totals.get(entry)
        if now is None:
            return f"{entry} vanished"
        for bucket, old, new in zip(buckets, before.tokens, now.tokens, strict=True):
            if new < old:
                return f"{entry} {bucket} went from {old} to {new}"
    return None


def growth(previous: Mapping[str, Totals], totals: Mapping[str, Totals]) -> Growth:
    """Per entry that grew: the counts added since ``previous``, and the cost added (known
    when both costs are, or when the entry is new)."""
    grown: Growth = {}
    for entry, now in totals.items():
        before = previous.get(entry)
        old = before.tokens if before else (0,) * len(now.tokens)
        delta = [new - was for new, was in zip(now.tokens, old, strict=True)]
        if not any(delta):
            continue
        cost = None
        if now.cost is not None:
            if before is None:
                cost = now.cost
            elif before.cost is not None:
                cost = max(round(now.cost - before.cost, 9), 0.0)
        grown[entry] = (delta, cost)
    return grown


def growth_tokens(delta: Sequence[int]) -> Tokens:
    """A growth in the buckets both agents keep (uncached input, cache read, cache write,
    output, reasoning: Droid's thinking and mux's reasoning are beside output, not inside it),
    as the ledger's buckets: reasoning is billed as output, on top of it."""
    uncached, read, write, output, reasoning = delta
    return Tokens(
        input=uncached,
        cache_read=read,
        cache_write_5m=write,
        output=output + reasoning,
        reasoning=reasoning,
    )


def read_document(path: str) -> tuple[bytes, datetime]:
    """A snapshot file's bytes and when they were written (the modification time of the
    bytes read, not of a file that replaced them since). Raises ``OSError``, and
    :class:`~tokentrail.sources.files.NotRegularFile` for a FIFO, a device or a folder."""
    with open_regular(path) as handle:
        data = handle.read()
        mtime = os.fstat(handle.fileno()).st_mtime
    return data, datetime.fromtimestamp(mtime, tz=UTC)
