"""``tokentrail live``: a terminal view that follows the agents' logs as they grow.

A :class:`tokentrail.watch.BackgroundSync` thread syncs whenever a log changes, which reads
only the bytes not read before; the screen is recomputed from the ledger every
``refresh_s`` seconds (a bounded read: the last hours of requests and today's rollups), never
from the logs. Ctrl-C stops both and leaves the terminal clean.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tokentrail.blocks import BlocksQuery, active_block
from tokentrail.figures import UsageFigures
from tokentrail.periods import period_bounds_ms
from tokentrail.watch import BackgroundSync

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from tokentrail.ledger import Ledger


def screen(ledger: Ledger, query: BlocksQuery, *, status: str) -> RenderableType:
    """The live view's content, from the ledger as it stands."""
    from tokentrail.blocks_view import live_screen

    now = datetime.now(UTC)
    with ledger.reading() as store:
        report = active_block(store, query, now=now)
        now_ms = int(now.timestamp() * 1000)
        since_ms, until_ms = period_bounds_ms(now_ms, query.zone, "day")
        today = query.filters()._replace(since_ms=since_ms, until_ms=until_ms)
        figures = UsageFigures.from_totals(store.totals(today))
    return live_screen(report, figures, updated_ms=now_ms, status=status)


def run_live(
    ledger: Ledger,
    query: BlocksQuery,
    *,
    console: Console,
    refresh_s: float = 1.0,
    exit_after_s: float | None = None,
    interval_s: float = 30.0,
) -> None:
    """Show the live view until Ctrl-C (or ``exit_after_s`` seconds, for scripts and tests)."""
    from rich.live import Live

    follower = BackgroundSync(ledger, interval_s=interval_s, sync=_sync_in_turn, log=False)
    follower.start()
    deadline = None if exit_after_s is None else time.monotonic() + exit_after_s
    try:
        with Live(
            _status_screen(ledger, query, follower), console=console, auto_refresh=False
        ) as live:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(refresh_s)
                live.update(_status_screen(ledger, query, follower), refresh=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the view is meant to end
    finally:
        follower.stop(timeout=10)


def _sync_in_turn(ledger: Ledger) -> None:
    """One sync, on one core, holding the ledger: the screen's read waits for the write."""
    from tokentrail.sync import sync

    with ledger.reading():
        sync(ledger, workers=1)


def _status_screen(ledger: Ledger, query: BlocksQuery, follower: BackgroundSync) -> Any:
    if follower.last_error is not None:
        status = f"sync failed (retrying on the next change): {follower.last_error}"
    elif follower.rounds == 0:
        status = "reading the logs…"
    else:
        status = f"following the logs ({follower.rounds} syncs)"
    return screen(ledger, query, status=status)
