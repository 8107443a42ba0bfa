"""The embedded SQLite store: WAL mode, one transaction per batch, migrations on open.

The SQL it shares with the PostgreSQL store is in :mod:`tokentrail.store.sql_reads` and
:mod:`tokentrail.store.sql_write`; what is here is SQLite's own: the connection and its
retries, BEGIN IMMEDIATE, typed errors, rows appended by id, the hourly rollups, backups and
integrity checks, and the dashboard's in-memory session index.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tokentrail.errors import (
    LedgerBusy,
    LedgerDamaged,
    LedgerFull,
    LedgerTooNew,
    StoreError,
)
from tokentrail.store import day_rollups, lifetime_rollups, report_cache
from tokentrail.store.base import (
    BUCKET_MS,
    DAMAGED_ADVICE,
    MEASURE_SQL,
    MEASURES,
    Cursor,
    Entry,
    Filters,
    SessionTotalsRow,
    newer_schema_error,
)
from tokentrail.store.dialect import HOUR_MS, SQLITE
from tokentrail.store.migrations import SQLITE_MIGRATIONS
from tokentrail.store.rows import cursor_from_row, cursor_to_row, entry_to_row
from tokentrail.store.scope_sql import marks
from tokentrail.store.sql_reads import SQLReads
from tokentrail.store.sql_write import SQLWrite

if TYPE_CHECKING:
    from tokentrail.store import sqlite_dashboard

_BUSY_TIMEOUT_S = 60.0
BULK_CHECKPOINT_PAGES = 10_000
"""Pages of write-ahead log between checkpoints while a sync's worker writes (see
:meth:`SQLiteStore.expect_bulk_writes`); SQLite's default is 1,000."""

_MEASURE_LIST = ", ".join(MEASURES)
_MEASURE_ADD = ", ".join(f"{m} = {m} + excluded.{m}" for m in MEASURES)
_CURSOR_COLUMNS = (
    "path, source, device, inode, size, mtime_ns, offset, line_no, parser_version, head_hash, "
    "memory"
)


class SQLiteStore(SQLReads):
    """A ledger in one SQLite file (or ``:memory:``)."""

    dialect = SQLITE

    def __init__(self, path: Path | str, *, busy_timeout_s: float = _BUSY_TIMEOUT_S) -> None:
        """``busy_timeout_s``: how long a write waits for another process's write to end."""
        self.busy_timeout_s = busy_timeout_s
        self.location = str(path)
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the ledger {self.path}: {exc.strerror}; "
                    "choose another location with -d/--database or TOKENTRAIL_DB"
                ) from exc
        self._too_new: LedgerTooNew | None = None
        try:
            self._conn = self._open_with_retry()
        except sqlite3.DatabaseError as exc:
            translated = translate_error(exc, self.location)
            if translated is not exc:
                raise translated from exc
            raise StoreError(
                f"cannot open the ledger {self.location}: {exc}; if it is not a tokentrail "
                "ledger, point -d/--database or TOKENTRAIL_DB at another file (if it is one, "
                "'tokentrail db check' says what is damaged)"
            ) from exc

    # -- lifecycle -----------------------------------------------------------------------

    def _open_with_retry(self) -> sqlite3.Connection:
        """Connect, switch to WAL and migrate. Two processes opening a new ledger at once can
        get SQLITE_BUSY without the busy handler being consulted (switching to WAL, or a lock
        upgrade SQLite refuses to wait for): those are retried until the timeout."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.01
        while True:
            conn = sqlite3.connect(
                self.location,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,  # the ledger serialises threads with its own lock
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                self._conn = conn
                self._migrate()
            except sqlite3.OperationalError as exc:
                conn.close()
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            return conn

    def close(self) -> None:
        self._conn.close()

    def expect_bulk_writes(self) -> None:
        # A write rewrites every index page it touches into the log, and each checkpoint
        # copies them into the file and syncs it: at the default (1,000 pages) a first sync
        # of 1 GiB checkpointed about 150 times. Every 10,000 pages (40 MB of log) it does so
        # 37 times, writing a tenth fewer pages. The log is removed when the last
        # connection closes.
        self._conn.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
            "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        known = len(SQLITE_MIGRATIONS)
        # a newer tokentrail's migrations are unknown here; it also raises user_version
        unknown = applied - {name for name, _ in SQLITE_MIGRATIONS}
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if unknown or version > known:
            theirs = max(version, known + len(unknown))
            self._too_new = newer_schema_error(self.location, theirs, known)
            return  # read it as it is; never migrate or write it
        for name, sql in SQLITE_MIGRATIONS:
            if name in applied:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                # another process may have applied it while we waited for the lock
                if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    conn.execute("COMMIT")
                    continue
                for statement in split_statements(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        if version < known:
            conn.execute(f"PRAGMA user_version = {known}")

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[_SQLiteWrite]:
        if self._too_new is not None:
            raise self._too_new
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            self._raise_typed(exc)
        try:
            yield _SQLiteWrite(conn)
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            self._raise_typed(exc)
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            self._raise_typed(exc)

    def _raise_typed(self, exc: sqlite3.DatabaseError) -> NoReturn:
        typed = self._translate(exc)
        if typed is exc:  # nothing more to say than SQLite's own words
            raise StoreError(f"the ledger {self.location} failed: {exc}") from exc
        raise typed from exc

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as the store's typed ones (as the PostgreSQL store raises)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            self._raise_typed(exc)

    def _translate(self, exc: sqlite3.DatabaseError) -> Exception:
        if _code(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return LedgerBusy(
                f"the ledger {self.location} stayed locked by another writer for over "
                f"{self.busy_timeout_s:g} s; nothing was written, retry (a long sync or a stuck "
                "process may hold it)"
            )
        return translate_error(exc, self.location)

    def check(self) -> list[str]:
        """What SQLite's integrity check finds wrong in the file (empty: nothing)."""
        return _integrity_problems(self._conn)

    # -- reading -------------------------------------------------------------------------

    def _rows(
        self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None
    ) -> list[tuple[Any, ...]]:
        with self._errors():  # SQLite plans every statement for its values
            return self._conn.execute(sql, params).fetchall()

    def cursors(self, paths: Sequence[str] | None = None) -> dict[str, Cursor]:
        select = f"SELECT {_CURSOR_COLUMNS} FROM cursors"
        rows = (
            self._rows(select)
            if paths is None
            else SQLITE.select_in(self._rows, select, "path", paths)
        )
        return {row[0]: cursor_from_row(row) for row in rows}

    def _session_totals_from(self, filters: Filters) -> tuple[str, list[Any], list[str], list[Any]]:
        if not (filters.machines or filters.users):
            return "session_totals", [], [], []
        # A local ledger keeps session totals per session and model only; usage of some
        # machines (rare here: a local ledger is mostly one machine) is summed from its
        # events, with the same measure definitions. A local ledger has no users.
        scope = [f"machine IN ({marks('?', len(filters.machines))})"] if filters.machines else []
        scope += ["0"] if filters.users else []
        table = (
            "(SELECT session_key, COALESCE(model, '') AS model, MIN(ts_ms) AS first_ms, "
            "MAX(ts_ms) AS last_ms, "
            + ", ".join(f"{MEASURE_SQL[m]} AS {m}" for m in MEASURES)
            + f" FROM events WHERE session_key IS NOT NULL AND {' AND '.join(scope)} "
            "GROUP BY 1, 2)"
        )
        return table, list(filters.machines), [], []

    def _size_bytes(self) -> int | None:
        if self.path is None or not self.path.exists():
            return None
        return sum(
            p.stat().st_size
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if p.exists()
        )

    def backup(self, destination: Path) -> None:
        with self._errors():
            _backup(self._conn, destination)

    def _keep_offset(self, offset_ms: int) -> bool:
        conn = self._conn
        if self._too_new is not None or conn.in_transaction:
            return False  # a newer tokentrail's ledger is never written; nor mid-read
        if not report_cache.begin_without_waiting(conn):
            return False  # a report never queues behind a sync
        try:
            day_rollups.keep_offset(conn.execute, offset_ms, user=False)
            conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            _rollback(conn)  # read-only file, disk full: the hourly rollups answer
            return False
        except BaseException:
            _rollback(conn)
            raise
        return True

    def report_marker(self) -> str | None:
        with self._errors():
            return report_cache.sqlite_marker(self._conn)

    def cached_report(self, key: str) -> str | None:
        with self._errors():
            return report_cache.sqlite_get(self._conn, key)

    def keep_report(self, key: str, marker: str, body: str) -> bool:
        if self._too_new is not None:
            return False  # a newer tokentrail's ledger is read, never written
        try:
            return report_cache.sqlite_put(self._conn, key, marker, body)
        except sqlite3.DatabaseError:
            return False  # read-only file, disk full: the answer is printed all the same

    def walk_record(self) -> bytes | None:
        with self._errors():
            row = self._conn.execute("SELECT record FROM sync_walk WHERE id = 1").fetchone()
        return bytes(row[0]) if row is not None else None

    def keep_walk_record(self, record: bytes | None) -> None:
        if self._too_new is not None:
            return  # a newer tokentrail's ledger is read, never written
        with self.write():
            if record is None:
                self._conn.execute("DELETE FROM sync_walk")
            else:
                self._conn.execute(
                    "INSERT OR REPLACE INTO sync_walk (id, record) VALUES (1, ?)", (record,)
                )

    _dashboard_index: sqlite_dashboard.SessionIndex | None = None

    def session_totals(
        self, filters: Filters, by_model: bool, family: Sequence[str] | None = None
    ) -> list[SessionTotalsRow]:
        if family is not None:
            return super().session_totals(filters, by_model, family)
        # every session of the scope: kept in memory until the ledger changes
        return self._session_views().session_totals(
            self._rows,
            filters,
            by_model,
            lambda: super(SQLiteStore, self).session_totals(filters, by_model),
        )

    def _session_views(self) -> sqlite_dashboard.SessionIndex:
        """Sessions listed from memory (see :mod:`tokentrail.store.sqlite_dashboard`)."""
        if self._dashboard_index is None:
            # imported here: a sync or a report never lists sessions from memory
            from tokentrail.store import sqlite_dashboard

            self._dashboard_index = sqlite_dashboard.SessionIndex()
        return self._dashboard_index


class _SQLiteWrite(SQLWrite):
    """The operations allowed inside one write transaction (BEGIN IMMEDIATE is held)."""

    dialect = SQLITE

    _conn: sqlite3.Connection

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def _entry_row(self, entry: Entry) -> tuple[Any, ...]:
        if entry.user is not None:
            raise StoreError(
                f"request {entry.event.key!r} is attributed to user {entry.user!r}, but a "
                "local (SQLite) ledger keeps no users; push to a team (PostgreSQL) ledger "
                "with 'tokentrail push --user NAME'"
            )
        return entry_to_row(entry)

    def insert_entries(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        rows = sorted((self._entry_row(entry) for entry in entries), key=itemgetter(0))
        (last_id,) = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        # in key order: the key index then grows at few places instead of one random page per
        # row, which is most of what inserting costs once the ledger outgrows the page cache
        self._conn.executemany(
            f"INSERT INTO events ({SQLITE.event_columns}) VALUES ({marks('?', len(rows[0]))})",
            rows,
        )
        # rows are appended with growing ids inside this exclusive transaction
        self._add_totals("id > ?", [last_id], sign=1, by_id=True)

    def put_cursors(self, cursors: Sequence[Cursor]) -> None:
        if not cursors:
            return
        self._conn.executemany(
            f"INSERT OR REPLACE INTO cursors ({_CURSOR_COLUMNS}) VALUES ({marks('?', 11)})",
            [cursor_to_row(c) for c in cursors],
        )

    def _add_totals(
        self, where: str, params: Sequence[Any], sign: int, *, by_id: bool = False
    ) -> None:
        """Add (``sign=1``) or take away (``-1``) the events matching ``where`` from the
        rollups, session totals and run totals. The database does the arithmetic: the rows
        are summed once, per quarter hour and every dimension a total is kept by, into
        :data:`_BATCH_TOTALS` (a few rows per session and quarter hour), and each total is
        summed from those, so the measures are computed over the events once, not once per
        table.

        ``by_id``: ``where`` selects new rows by id. The planner would otherwise walk the
        session or run index over the whole ledger (their ``IS NOT NULL`` looks selective), so
        every write would cost more as the ledger grows; the rowid range is what is cheap."""
        sums = ", ".join(f"{sign} * {MEASURE_SQL[m]}" for m in MEASURES)
        events = "events NOT INDEXED" if by_id else "events"
        span = "MIN(ts_ms), MAX(ts_ms)" if sign > 0 else "NULL, NULL"
        conn = self._conn
        conn.execute(_CREATE_BATCH_TOTALS)
        conn.execute(f"DELETE FROM {_BATCH_TOTALS}")
        conn.execute(
            f"INSERT INTO {_BATCH_TOTALS} SELECT ts_ms - ts_ms % {BUCKET_MS}, source, "
            "COALESCE(model, ''), COALESCE(project, ''), machine, session_key, run_id, "
            f"{span}, {sums} FROM {events} WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7",
            params,
        )
        for statement in _TOTALS_FROM_BATCH:
            conn.execute(statement)
        # the same sums per local day of each UTC offset kept (see store.day_rollups): the
        # offsets kept are whole quarter hours, so each quarter hour lies in one local day
        conn.execute(
            day_rollups.add_sql(_BATCH_QUARTERS, "1 = 1", _BATCH_SUMS, _MEASURE_ADD, user=False)
        )


_BATCH_TOTALS = "temp.batch_totals"
"""The measures of the events a write adds or takes away, per quarter hour, source, model,
project, machine, session and run: what every total of that write is summed from."""
_CREATE_BATCH_TOTALS = (
    f"CREATE TABLE IF NOT EXISTS {_BATCH_TOTALS} (bucket_ms, source, model, project, machine, "
    f"session_key, run_id, first_ms, last_ms, {_MEASURE_LIST})"
)
_BATCH_SUMS = ", ".join(f"SUM({m})" for m in MEASURES)
_BATCH_QUARTERS = f"(SELECT bucket_ms AS ts_ms, * FROM {_BATCH_TOTALS})"
"""The batch's sums with each quarter hour's start as their time, for the day rollups."""
_SPAN_UPDATE = (
    "first_ms = MIN(COALESCE(first_ms, excluded.first_ms), COALESCE(excluded.first_ms, first_ms)), "
    "last_ms = MAX(COALESCE(last_ms, excluded.last_ms), COALESCE(excluded.last_ms, last_ms))"
)
_LIFETIME_KEYS = lifetime_rollups.keys(user=False)
_TOTALS_FROM_BATCH = (
    f"INSERT INTO rollups (bucket_ms, source, model, project, machine, {_MEASURE_LIST}) "
    f"SELECT bucket_ms, source, model, project, machine, {_BATCH_SUMS} FROM {_BATCH_TOTALS} "
    "GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (bucket_ms, source, model, project, machine) "
    f"DO UPDATE SET {_MEASURE_ADD}",
    # the same sums per UTC hour (see migration 0006_hourly_rollups)
    f"INSERT INTO rollups_hourly (bucket_ms, source, model, project, machine, {_MEASURE_LIST}) "
    f"SELECT bucket_ms - bucket_ms % {HOUR_MS}, source, model, project, machine, {_BATCH_SUMS} "
    f"FROM {_BATCH_TOTALS} GROUP BY 1, 2, 3, 4, 5 "
    "ON CONFLICT (bucket_ms, source, model, project, machine) "
    f"DO UPDATE SET {_MEASURE_ADD}",
    # the same sums over all time (see store.lifetime_rollups)
    f"INSERT INTO {lifetime_rollups.TABLE} ({_LIFETIME_KEYS}, {_MEASURE_LIST}) "
    f"SELECT {_LIFETIME_KEYS}, {_BATCH_SUMS} FROM {_BATCH_TOTALS} GROUP BY 1, 2, 3, 4 "
    f"ON CONFLICT ({_LIFETIME_KEYS}) DO UPDATE SET {_MEASURE_ADD}",
    f"INSERT INTO session_totals (session_key, model, first_ms, last_ms, {_MEASURE_LIST}) "
    f"SELECT session_key, model, MIN(first_ms), MAX(last_ms), {_BATCH_SUMS} "
    f"FROM {_BATCH_TOTALS} WHERE session_key IS NOT NULL GROUP BY 1, 2 "
    f"ON CONFLICT (session_key, model) DO UPDATE SET {_SPAN_UPDATE}, {_MEASURE_ADD}",
    f"INSERT INTO run_totals (run_id, first_ms, last_ms, {_MEASURE_LIST}) "
    f"SELECT run_id, MIN(first_ms), MAX(last_ms), {_BATCH_SUMS} FROM {_BATCH_TOTALS} "
    "WHERE run_id IS NOT NULL GROUP BY 1 "
    f"ON CONFLICT (run_id) DO UPDATE SET {_SPAN_UPDATE}, {_MEASURE_ADD}",
)


def check_file(path: Path) -> list[str]:
    """SQLite's integrity check of a ledger file too damaged to open as a store (read-only:
    nothing is migrated or written)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        return _integrity_problems(conn)
    finally:
        conn.close()


def backup_file(path: Path, destination: Path) -> None:
    """Copy a ledger file too damaged to open as a store, page by page as it is (read-only)."""
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
    try:
        _backup(source, destination)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot copy {path}: {exc}; nothing readable is left") from exc
    finally:
        source.close()


def _backup(source: sqlite3.Connection, destination: Path) -> None:
    if destination.exists():
        raise StoreError(f"backup destination {destination} already exists; choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(destination)
    try:
        source.backup(target)
    finally:
        target.close()


def _integrity_problems(conn: sqlite3.Connection) -> list[str]:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [str(row[0]) for row in rows if row[0] != "ok"]


def _code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of an error (its extended code's low byte)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any: SQLite has already rolled it back itself
    after some errors (a full disk), and a second ROLLBACK would hide the first error."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def translate_error(exc: sqlite3.Error, location: str) -> Exception:
    """The typed error that says what a SQLite error means for the ledger at ``location``,
    or ``exc`` itself when it has nothing more to say."""
    code = _code(exc)
    if code == sqlite3.SQLITE_FULL:
        return LedgerFull(
            f"the disk holding the ledger {location} is full ({exc}); nothing of this write "
            "was recorded and the ledger is as it was: free some space and run it again"
        )
    if code == sqlite3.SQLITE_CORRUPT or "malformed" in str(exc):
        return LedgerDamaged(
            f"the ledger {location} is damaged ({exc}); 'tokentrail db check' lists what is "
            f"wrong. To recover: {DAMAGED_ADVICE}"
        )
    return exc


def split_statements(script: str) -> list[str]:
    """The statements of a migration, split where SQLite says a statement is complete (so a
    ";" inside a string, a comment or a trigger's body does not end one)."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece
        if sqlite3.complete_statement(pending + ";"):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
        else:
            pending += ";"
    if pending.strip():
        statements.append(pending.strip())
    return statements
