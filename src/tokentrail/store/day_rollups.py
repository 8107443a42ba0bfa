"""Per-local-day rollups: the sums of each local day (per source, model, machine and, on a
team ledger, user), kept for a few UTC offsets, so a year of daily figures is a few thousand
rows instead of tens of thousands of hourly ones.

A local day depends on the zone, which a report chooses (``--tz``, the machine's zone, the
dashboard's ``tz``) and may change; the days of one UTC offset serve every zone while that
offset holds. So ``rollups_daily`` is keyed by offset, and ``day_offsets`` lists the offsets
kept: UTC (every ledger, from migration 0015_day_rollups) and each offset a report asked for,
registered on first use (filled from the 15-minute rollups in the same transaction, then kept
by every write in the transaction of its events, as the other rollups), at most
:data:`MAX_OFFSETS` of them.

A query over local days (:func:`tokentrail.store.day_reads.day_union`) takes, per stretch of
its zone's offsets, the whole local days inside the stretch from the kept days of that offset
and the rest (the hours around a change of offset, the ends of a range that are not whole
days, an offset not kept) from the hourly or 15-minute rollups, which give every zone's days:
the sums are the same.
A project filter or grouping needs the fine rollups (projects are not kept per day: with them
the days of a busy ledger are several times as many rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tokentrail.store.figures import BUCKET_MS, MEASURES

DAY_MS = 86_400_000
TABLE = "rollups_daily"
OFFSETS = "day_offsets"
MAX_OFFSETS = 8
"""Offsets kept at most: each is one more row per day and group for every write to add to."""
FIRST_DAY = 2
"""Kept days start here: a day number is a truncated division, exact for non-negative local
times only (usage before 1970-01-03 is read from the fine rollups)."""


def table_sql(
    integer: str, text: str, measures: Sequence[str], *, user: bool, options: str = ""
) -> str:
    """The two tables (``integer``, ``text``: the engine's types; ``measures``: the measures
    as the migration knows them), UTC registered and its days filled from the 15-minute
    rollups (as every later offset is, by :func:`backfill_sql`)."""
    user_key = f"user_name {text} NOT NULL,\n" if user else ""
    columns = ",\n".join(f"{m} {integer} NOT NULL DEFAULT 0" for m in measures)
    return f"""
        CREATE TABLE {OFFSETS} (
            offset_ms {integer} PRIMARY KEY
        );
        CREATE TABLE {TABLE} (
            offset_ms {integer} NOT NULL,
            day {integer} NOT NULL,
            source {text} NOT NULL,
            model {text} NOT NULL,
            machine {text} NOT NULL,
            {user_key}{columns},
            PRIMARY KEY (offset_ms, day, {_keys(user)})
        ){options};
        INSERT INTO {OFFSETS} (offset_ms) VALUES (0);
        {backfill_sql(0, measures, user=user)};
        """


def _keys(user: bool) -> str:
    return "source, model, machine" + (", user_name" if user else "")


def keepable(offset_ms: int) -> bool:
    """Offsets whose days are unions of 15-minute buckets (every zone in use today)."""
    return offset_ms % BUCKET_MS == 0


def backfill_sql(offset_ms: int, measures: Sequence[str] = MEASURES, *, user: bool) -> str:
    """Fill the days of ``offset_ms`` from the 15-minute rollups (each bucket lies in one
    local day of a :func:`keepable` offset)."""
    offset = int(offset_ms)
    keys = _keys(user)
    sums = ", ".join(f"SUM({m})" for m in measures)
    return (
        f"INSERT INTO {TABLE} (offset_ms, day, {keys}, {', '.join(measures)}) "
        f"SELECT {offset}, (bucket_ms + {offset}) / {DAY_MS}, {keys}, {sums} FROM rollups "
        f"WHERE bucket_ms + {offset} >= {FIRST_DAY * DAY_MS} GROUP BY 2, {keys}"
    )


def keep_offset(execute: Callable[..., Any], offset_ms: int, *, user: bool) -> None:
    """Inside a write transaction: keep the days of ``offset_ms`` from now on (unless already
    kept, or :data:`MAX_OFFSETS` are), filled from the rollups."""
    offset = int(offset_ms)
    kept = {row[0] for row in execute(f"SELECT offset_ms FROM {OFFSETS}", ()).fetchall()}
    if offset in kept or len(kept) >= MAX_OFFSETS or not keepable(offset):
        return
    execute(f"INSERT INTO {OFFSETS} (offset_ms) VALUES ({offset})", ())
    execute(backfill_sql(offset, user=user), ())


def add_sql(source: str, where: str, sums: str, add: str, *, user: bool) -> str:
    """The statement a write runs beside the other rollups' (one per batch): the events of
    ``source`` matching ``where``, as ``sums`` (each measure of them, signed), added (``add``:
    the ON CONFLICT assignments) to the days of every offset kept (``user``: a team ledger's,
    kept per user too)."""
    keys = _keys(user)
    user_value = ", COALESCE(user_name, '')" if user else ""
    return (
        f"INSERT INTO {TABLE} (offset_ms, day, {keys}, {', '.join(MEASURES)}) "
        f"SELECT {OFFSETS}.offset_ms, (ts_ms + {OFFSETS}.offset_ms) / {DAY_MS}, source, "
        f"COALESCE(model, ''), machine{user_value}, {sums} FROM {source} CROSS JOIN {OFFSETS} "
        f"WHERE ({where}) AND ts_ms + {OFFSETS}.offset_ms >= {FIRST_DAY * DAY_MS} "
        f"GROUP BY 1, 2, {keys} "
        f"ON CONFLICT (offset_ms, day, {keys}) DO UPDATE SET {add}"
    )
