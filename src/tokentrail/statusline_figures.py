"""The status line's figures, computed: read from the ledger by the quick reader (or a store,
for a team ledger), after recording what is new in the session's files; and kept for the
next call (:mod:`tokentrail.statusline` answers from them while nothing changed).

Imported only when a status line has to compute: its imports (the blocks, the store's
figures, the periods) are what a call answered from kept figures does without.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from tokentrail.statusline import BUSY_TIMEOUT_S, SOURCE, LineFigures, transcript_paths

if TYPE_CHECKING:
    from tokentrail.blocks import BlockRow
    from tokentrail.config import Config
    from tokentrail.figures import UsageFigures
    from tokentrail.ledger import Ledger
    from tokentrail.store.base import Store
    from tokentrail.store.quick import QuickReader


class StatusFigures(NamedTuple):
    """What the line shows, read from the ledger."""

    session: UsageFigures | None
    today: UsageFigures
    block: BlockRow | None
    now_ms: int

    def line(self) -> LineFigures:
        """The numbers of these figures the line shows."""
        session = self.session
        block = self.block
        rate = None if block is None else block.burn_rate
        return LineFigures(
            session=None if session is None else (session.cost_usd, session.total_tokens),
            today_cost_usd=self.today.cost_usd,
            today_requests=self.today.requests,
            block_end_ms=None if block is None else block.end_ms,
            block_cost_usd_per_hour=None if rate is None else rate.cost_usd_per_hour,
            now_ms=self.now_ms,
        )


# -- catching up --------------------------------------------------------------------------


def transcript_roots(transcript: str) -> list[Path]:
    """The session's transcript and the folder of its subagents' transcripts, as paths."""
    return [Path(path) for path in transcript_paths(transcript)]


def catch_up(ledger: Ledger, transcript: str) -> bool:
    """Read what is new in one session's files into the ledger, with the cursors and writes a
    full sync uses (so a later ``tokentrail sync`` goes on from here and counts nothing twice).
    Returns False when another process held the ledger's write lock: nothing was written."""
    from tokentrail.agents.claude_code.reader import ClaudeCodeSource
    from tokentrail.errors import LedgerBusy
    from tokentrail.sync import SyncSummary, plan_tasks, run_job

    source = ClaudeCodeSource()
    files = [(source, file) for file in source.discover(transcript_roots(transcript))]
    if not files:
        return True
    cursors = ledger.store.cursors([file.path for _, file in files])
    tasks = plan_tasks(files, cursors, SyncSummary(), machine=ledger.machine)
    if not tasks:
        return True
    try:
        run_job(ledger, tasks)
    except LedgerBusy:
        return False
    return True


# -- reading ------------------------------------------------------------------------------


def quick_figures(
    reader: QuickReader, session_id: str | None, zone: tzinfo, zone_name: str, now: datetime
) -> StatusFigures:
    """The figures from the quick reader: the same rollups, session totals and block rules
    as :func:`read_figures` on a store, with a fraction of the imports."""
    from tokentrail.blocks import BlocksQuery, active_block
    from tokentrail.figures import UsageFigures
    from tokentrail.periods import local_midnight_ms

    session_totals = reader.session_totals(session_id) if session_id is not None else None
    day = now.astimezone(zone).date()
    today = reader.totals(
        local_midnight_ms(day, zone), local_midnight_ms(day + timedelta(days=1), zone)
    )
    blocks = active_block(
        reader, BlocksQuery(zone=zone, zone_name=zone_name, sources=(SOURCE,)), now=now
    )
    return StatusFigures(
        session=None if session_totals is None else UsageFigures.from_totals(session_totals),
        today=UsageFigures.from_totals(today),
        block=next((row for row in blocks.rows if row.active), None),
        now_ms=int(now.timestamp() * 1000),
    )


def read_figures(
    store: Store, session_id: str | None, zone: tzinfo, zone_name: str, now: datetime
) -> StatusFigures:
    from tokentrail.blocks import BlocksQuery, active_block
    from tokentrail.figures import UsageFigures
    from tokentrail.periods import local_midnight_ms
    from tokentrail.store.base import Filters, Totals

    session = None
    if session_id is not None:
        rows = store.session_totals(Filters(), by_model=False, family=[session_id])
        if rows:
            session = UsageFigures.from_totals(sum((r.totals for r in rows), Totals.zero()))
    day = now.astimezone(zone).date()
    today = Filters(
        since_ms=local_midnight_ms(day, zone),
        until_ms=local_midnight_ms(day + timedelta(days=1), zone),
    )
    blocks = active_block(
        store, BlocksQuery(zone=zone, zone_name=zone_name, sources=(SOURCE,)), now=now
    )
    active = next((row for row in blocks.rows if row.active), None)
    return StatusFigures(
        session=session,
        today=UsageFigures.from_totals(store.totals(today)),
        block=active,
        now_ms=int(now.timestamp() * 1000),
    )


def read_and_keep(
    reader: QuickReader, session_id: str | None, key: str | None, now: datetime
) -> LineFigures:
    """The line's figures from the quick reader, kept under ``key`` (when given) at the
    ledger's generation read before them: a write in between leaves them not kept."""
    from tokentrail.periods import resolve_timezone

    reader.check_schema()
    marker = reader.marker() if key is not None else None
    zone, zone_name = resolve_timezone(None)
    figures = quick_figures(reader, session_id, zone, zone_name, now).line()
    kept = figures.kept_text()
    if key is not None and marker is not None and kept is not None:
        reader.keep(key, marker, kept)
    return figures


def full_way(
    session_id: str | None,
    database: str | None,
    config: Config | None,
    transcript: str | None,
    key: str | None,
    now: datetime,
) -> tuple[LineFigures, bool]:
    """Catch up with the ledger's write side (creating or migrating the ledger if need be),
    then read the figures; also whether what was new got written (False: the ledger was
    busy)."""
    from tokentrail.config import load_config
    from tokentrail.ledger import Ledger
    from tokentrail.periods import resolve_timezone

    with Ledger(database, config=config or load_config(), busy_timeout_s=BUSY_TIMEOUT_S) as ledger:
        written = catch_up(ledger, transcript) if transcript is not None else True
        reader = _quick_reader(ledger.database)
        if reader is None:  # a team ledger
            zone, zone_name = resolve_timezone(None)
            return read_figures(ledger.store, session_id, zone, zone_name, now).line(), written
        # what was just written, read as the quick way reads it; while the ledger is still
        # open, so that only its closing checkpoints the file (once, not after each)
        with reader:
            return read_and_keep(reader, session_id, key, now), written


def _quick_reader(location: str) -> QuickReader | None:
    if "://" in location:
        return None  # a team ledger: the full way
    from tokentrail.store.quick import NotQuick, QuickReader

    try:
        return QuickReader(location)
    except NotQuick:
        return None
