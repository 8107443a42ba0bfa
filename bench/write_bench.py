"""Write cost against ledger size: does recording a batch get slower as the ledger grows?

    python bench/write_bench.py [--sizes 0,100000,400000,1000000] [--batch 100] [--rounds 20]

Fills a temporary SQLite ledger with synthetic requests (2,000 sessions, 50 runs, one model)
up to each size in ``--sizes``, then times ``--rounds`` calls of ``Ledger.record_events``
with ``--batch`` new requests each (one transaction: the events, their rollups, session and
run totals). Prints the median and the slowest call per size; a flat median is the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from tokentrail.ledger import Ledger
from tokentrail.usage import Tokens, UsageEvent

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FILL_BATCH = 20_000


def requests(start: int, count: int, sessions: int = 2000, runs: int = 50) -> list[UsageEvent]:
    return [
        UsageEvent(
            key=f"sdk:bench-{i}",
            source="sdk",
            timestamp=T0 + timedelta(seconds=i),
            tokens=Tokens(input=10, cache_read=100, output=5),
            model="claude-sonnet-4-5",
            session_key=f"session-{i % sessions}",
            run_id=f"run-{i % runs}",
        )
        for i in range(start, start + count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0,100000,400000,1000000")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    with tempfile.TemporaryDirectory() as folder, Ledger(os.path.join(folder, "l.db")) as ledger:
        recorded = 0
        print(f"record_events of {args.batch} new requests, {args.rounds} rounds per size")
        for size in sizes:
            while recorded < size:
                count = min(FILL_BATCH, size - recorded)
                ledger.record_events(requests(recorded, count))
                recorded += count
            times = []
            for _ in range(args.rounds):
                batch = requests(recorded, args.batch)
                started = time.perf_counter()
                ledger.record_events(batch)
                times.append((time.perf_counter() - started) * 1000)
                recorded += args.batch
            print(
                f"ledger of {size:>9,} requests: median {statistics.median(times):6.1f} ms, "
                f"slowest {max(times):6.1f} ms"
            )


if __name__ == "__main__":
    main()
