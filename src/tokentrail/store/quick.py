"""The quick reader of a SQLite ledger: the few indexed queries the fast answers need
(``tokentrail statusline``, ``blocks --active``), without the store's write side.

It opens the file as it is (no migrations, no pragmas that write, never creating it) and
imports only the light part of the store's interface, so an answer that runs every few seconds
does not pay for the ledger's whole code. A ledger it cannot read this way (absent, not
migrated to this version's schema, damaged) raises :class:`NotQuick`: the caller takes the
full path, which creates, migrates or reports it.

The sums are the store's own: the same rollup tables and measure definitions
(:mod:`tokentrail.store.figures`), the same per-minute query (:mod:`tokentrail.store.blocks_sql`).
"""

from __future__ import annotations

import os
import sqlite3

from tokentrail.store.quick_sync import ledger_uri

TYPE_CHECKING = False  # typing is not imported: a status line's kept answer is read before it
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from tokentrail.ratelimits import RateLimitSnapshot
    from tokentrail.store.figures import Filters, MinuteRow, Totals

HOUR_MS = 3_600_000
READ_TIMEOUT_MS = 50
"""How long a read waits for a lock (a WAL reader almost never has to: only while another
process checkpoints or recovers the file)."""


def _sums() -> tuple[str, str]:
    """The measures as the per-minute query computes them, and their sums over rollup rows.
    (Imported when a figure is read: a status line answered from what it kept reads none.)"""
    from tokentrail.store.figures import MEASURE_SQL, MEASURES

    return ", ".join(MEASURE_SQL[m] for m in MEASURES), ", ".join(f"SUM({m})" for m in MEASURES)


class NotQuick(Exception):
    """This ledger cannot be read the quick way; the full path can (or says why not)."""


class QuickReader:
    """A read-only view of one SQLite ledger file. Use as a context manager."""

    def __init__(self, path: str, *, check_schema: bool = True) -> None:
        """``check_schema=False`` leaves the schema's check (which imports the migrations and
        the store's figures) to :meth:`check_schema`, for a caller that may read only the
        cursors and a kept answer: a kept answer's key names the code that kept it, so it is
        only ever found in a ledger of this version's schema."""
        if not os.path.isfile(path):
            raise NotQuick(f"{path} does not exist")
        try:
            self._conn = sqlite3.connect(ledger_uri(path), uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise NotQuick(str(exc)) from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {READ_TIMEOUT_MS}")
            if check_schema:
                self.check_schema()
        except sqlite3.Error as exc:
            self._conn.close()
            raise NotQuick(str(exc)) from None
        except NotQuick:
            self._conn.close()
            raise

    def check_schema(self) -> None:
        """Raise :class:`NotQuick` unless the ledger has this version's schema."""
        try:
            (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        except sqlite3.Error as exc:
            raise NotQuick(str(exc)) from None
        if version != _schema_version():
            raise NotQuick(f"schema version {version}: the full path migrates it")

    def __enter__(self) -> QuickReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    # -- what the blocks read (tokentrail.blocks.BlocksReader) -----------------------------

    def minute_totals(self, filters: Filters) -> list[MinuteRow]:
        from tokentrail.store import blocks_sql

        sql, params = blocks_sql.minute_totals_query(filters, "?", _sums()[0], user=None)
        return [blocks_sql.minute_row(row) for row in self._query(sql, params)]

    def rate_limits(self, filters: Filters) -> list[RateLimitSnapshot]:
        from tokentrail.store import blocks_sql

        try:
            return blocks_sql.rate_limits(self._query, "?", filters)
        except sqlite3.Error as exc:
            raise NotQuick(str(exc)) from None

    # -- the active block from the rollups (tokentrail.blocks.RollupReader) ------------------

    reads_hourly_rollups = True

    def usage_hours(self, filters: Filters) -> list[int]:
        from tokentrail.store import blocks_sql

        return blocks_sql.usage_hours(self._query, "?", filters)

    def model_totals(self, filters: Filters) -> list[tuple[str | None, Totals]]:
        from tokentrail.store import blocks_sql

        return blocks_sql.hour_model_totals(self._query, "?", filters, _sums()[1])

    def request_span(self, filters: Filters) -> tuple[int, int] | None:
        from tokentrail.store import blocks_sql

        return blocks_sql.request_span(self._query, "?", filters)

    # -- what the status line reads --------------------------------------------------------

    def totals(self, since_ms: int, until_ms: int) -> Totals:
        """Every source's usage in ``[since_ms, until_ms)`` (whole 15-minute buckets), from
        the hourly rollups when both bounds are whole hours (as the store chooses)."""
        from tokentrail.store.figures import Totals

        table = "rollups_hourly" if since_ms % HOUR_MS == until_ms % HOUR_MS == 0 else "rollups"
        sql = f"SELECT {_sums()[1]} FROM {table} WHERE bucket_ms >= ? AND bucket_ms < ?"
        (row,) = self._query(sql, [since_ms, until_ms])
        return Totals(tuple(v or 0 for v in row))

    def session_totals(self, session_key: str) -> Totals | None:
        """A session's usage with its subagents' (the sessions whose parent it is); None when
        the ledger has none of it."""
        from tokentrail.store.figures import MEASURES, Totals

        sql = (
            f"SELECT COUNT(*), {', '.join(f'SUM(t.{m})' for m in MEASURES)} "
            "FROM session_totals t JOIN sessions s ON s.session_key = t.session_key "
            "WHERE s.session_key = ? OR s.parent_key = ?"
        )
        ((count, *sums),) = self._query(sql, [session_key, session_key])
        return Totals(tuple(v or 0 for v in sums)) if count else None

    def cursor_stats(self, paths: Sequence[str]) -> dict[str, tuple[int, int, int, int]]:
        """For each path read before: the device, inode, size and modification time it had
        when it was last read."""
        if not paths:
            return {}
        marks = ", ".join("?" * len(paths))
        sql = f"SELECT path, device, inode, size, mtime_ns FROM cursors WHERE path IN ({marks})"
        return {row[0]: tuple(row[1:]) for row in self._query(sql, list(paths))}

    # -- answers kept per ledger generation (tokentrail.store.report_cache) ----------------

    def marker(self) -> str:
        """The ledger's generation now: read before the figures that are kept under it."""
        from tokentrail.store.report_cache import sqlite_marker

        try:
            return sqlite_marker(self._conn)
        except sqlite3.Error as exc:
            raise NotQuick(str(exc)) from None

    def kept(self, key: str) -> str | None:
        """What was kept under ``key`` at the ledger's current generation, if anything."""
        from tokentrail.store.report_cache import sqlite_get

        try:
            return sqlite_get(self._conn, key)
        except sqlite3.Error:
            return None

    def keep(self, key: str, marker: str, body: str) -> bool:
        """Keep ``body`` under ``key`` if the ledger is still at ``marker`` (never waiting for
        another writer: then it is simply not kept)."""
        from tokentrail.store.report_cache import sqlite_put

        try:
            # losing a kept answer to a power cut costs one computation: no sync to disk
            self._conn.execute("PRAGMA synchronous = NORMAL")
            return sqlite_put(self._conn, key, marker, body)
        except sqlite3.Error:
            return False

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise NotQuick(str(exc)) from None


def _schema_version() -> int:
    from tokentrail.store.migrations import SQLITE_MIGRATIONS

    return len(SQLITE_MIGRATIONS)
