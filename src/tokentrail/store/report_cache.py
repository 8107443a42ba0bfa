"""Reports kept per ledger generation: the printed answer of a report, valid while nothing it
reads has changed.

A report reads rollups, sessions and tool calls; every write to them moves one of the
ever-growing sequences the marker reads (a new or changed request, a session or run written, a
tool call or result written, a retraction). A cached answer is served only while the ledger's
marker equals the one it was computed at, so it is always what computing it again would print.
The first report after a change computes and stores it again (one row per report key; rows of
an older marker are dropped then).

SQLite only: its writers take turns, so the newest value of each sequence is a true generation.
On PostgreSQL a transaction can commit a row numbered below one already committed, so the same
marker could hide a change; a team ledger's reports are computed each time.

This module imports nothing of tokentrail's: ``tokentrail <report> --no-sync`` looks a cached
answer up before the rest of tokentrail (the reports, the store, the pricing) is imported.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing is not imported: a kept answer is printed before it would be
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Sequence
    from typing import Any

MAX_BODY_CHARS = 64_000_000
"""Answers larger than this are not kept (a ledger is not a file store)."""

CHUNK_BYTES = 1 << 18
"""How much of a kept answer is read and written at a time when it is streamed."""

READ_MMAP_BYTES = 1 << 30
"""How much of the ledger file the lookup of a kept answer may read through a memory map."""

SQLITE_MARKER = (
    "SELECT (SELECT MAX(id) FROM events), "
    "(SELECT MAX(changed_seq) FROM events WHERE changed_seq IS NOT NULL), "
    "(SELECT MAX(change_seq) FROM session_changes), "
    "(SELECT MAX(change_seq) FROM run_changes), "
    "(SELECT COUNT(*) FROM retractions), "
    "(SELECT MAX(change_seq) FROM tool_calls), "
    "(SELECT MAX(change_seq) FROM tool_results)"
)
"""The SQLite ledger's generation: a few index lookups (each part an indexed sequence)."""


def marker_text(values: Sequence[Any]) -> str:
    return ".".join(str(value or 0) for value in values)


def sqlite_marker(conn: sqlite3.Connection) -> str:
    return marker_text(conn.execute(SQLITE_MARKER).fetchone())


def sqlite_get(conn: sqlite3.Connection, key: str) -> str | None:
    """The answer kept under ``key`` if it is of the ledger as it is now. Marker and answer
    are read in one snapshot, so a write in between cannot pair an old answer with a new
    marker."""
    body: str | None = _kept_body(conn, key, "body")
    return body


def sqlite_get_utf8(conn: sqlite3.Connection, key: str) -> bytes | None:
    """:func:`sqlite_get`'s answer as the UTF-8 bytes the ledger holds, never decoded (a
    session list can be megabytes, printed as they are); None also when the ledger's text is
    not UTF-8."""
    (encoding,) = conn.execute("PRAGMA encoding").fetchone()
    if encoding != "UTF-8":
        return None
    body: bytes | None = _kept_body(conn, key, "CAST(body AS BLOB)")
    return body


def _kept_body(conn: sqlite3.Connection, key: str, body_sql: str) -> Any:
    conn.execute("BEGIN")
    try:
        row = conn.execute(
            f"SELECT marker, {body_sql} FROM report_cache WHERE key = ?", (key,)
        ).fetchone()
        current = sqlite_marker(conn) if row is not None else None
    finally:
        conn.execute("COMMIT")
    if row is None or row[0] != current:
        return None
    return row[1]


def sqlite_write_utf8(conn: sqlite3.Connection, key: str, write: Callable[[bytes], object]) -> bool:
    """Write the answer kept under ``key`` through ``write`` as the UTF-8 bytes the ledger
    holds, a chunk at a time (:data:`CHUNK_BYTES`), if it is of the ledger as it is now;
    False, nothing written, when it is not. A list of every session is megabytes: read
    whole, it is copied twice (SQLite's buffer, then Python's bytes), each copy a page fault
    per 4 KiB, which cost more than reading it. Marker and answer are read in one snapshot.
    A failure once writing has begun is raised (the output is incomplete), never False."""
    (encoding,) = conn.execute("PRAGMA encoding").fetchone()
    if encoding != "UTF-8":
        return False
    conn.execute("BEGIN")
    try:
        row = conn.execute("SELECT rowid, marker FROM report_cache WHERE key = ?", (key,))
        found = row.fetchone()
        if found is None or found[1] != sqlite_marker(conn):
            return False
        with conn.blobopen("report_cache", "body", found[0], readonly=True) as body:
            chunk = body.read(CHUNK_BYTES)
            while chunk:
                write(chunk)
                chunk = body.read(CHUNK_BYTES)
        return True
    finally:
        conn.execute("COMMIT")


def begin_without_waiting(conn: sqlite3.Connection) -> bool:
    """Begin a write transaction if no other writer holds the ledger, else return False at
    once: an answer that also keeps something never queues behind a sync."""
    import sqlite3

    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return True


def sqlite_put(conn: sqlite3.Connection, key: str, marker: str, body: str) -> bool:
    """Keep ``body`` under ``key`` if the ledger is still at ``marker``; never waits for
    another writer (a report must not queue behind a sync: it is simply not kept then).
    Returns whether it was kept."""

    if len(body) > MAX_BODY_CHARS:
        return False
    if not begin_without_waiting(conn):
        return False
    # SQLite built with SECURE_DELETE (Debian's, for one) zeroes every page it frees: dropping
    # a list of every session kept before wrote 11 MB of zeros (a third of a second). What is
    # dropped here is a copy of what the ledger holds anyway; the connection's setting is
    # restored after.
    (secure,) = conn.execute("PRAGMA secure_delete").fetchone()
    conn.execute("PRAGMA secure_delete = 0")
    try:
        if sqlite_marker(conn) != marker:
            conn.execute("ROLLBACK")
            return False
        conn.execute("DELETE FROM report_cache WHERE marker <> ?", (marker,))
        conn.execute(
            "INSERT OR REPLACE INTO report_cache (key, marker, body) VALUES (?, ?, ?)",
            (key, marker, body),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(secure)}")
    return True


def read_sqlite_file(path: str, key: str) -> str | None:
    """The cached answer from the SQLite ledger at ``path``, without opening it as a store
    (no migrations, no pragmas: nothing is written). None when there is none, or when the
    file cannot answer this way (absent, not migrated yet, locked): the caller computes."""
    body: str | None = _read_file(path, key, sqlite_get)
    return body


def read_sqlite_file_utf8(path: str, key: str) -> bytes | None:
    """:func:`read_sqlite_file`'s answer as UTF-8 bytes (:func:`sqlite_get_utf8`)."""
    body: bytes | None = _read_file(path, key, sqlite_get_utf8)
    return body


def write_sqlite_file_utf8(path: str, key: str, write: Callable[[bytes], object]) -> bool:
    """:func:`sqlite_write_utf8` on the SQLite ledger at ``path``, opened as
    :func:`read_sqlite_file` opens it; False (nothing written) when the answer is not there
    or the file cannot answer this way before anything was written."""
    written = [False]

    def counted(chunk: bytes) -> object:
        written[0] = True
        return write(chunk)

    done = _read_file(
        path,
        key,
        lambda conn, found: sqlite_write_utf8(conn, found, counted),
        raise_if=lambda: written[0],
    )
    return bool(done)


def _read_file(
    path: str,
    key: str,
    get: Callable[[sqlite3.Connection, str], Any],
    raise_if: Callable[[], bool] = lambda: False,
) -> Any:
    """``get``'s answer from the ledger at ``path``; None when the file cannot answer (a
    SQLite error is raised only when ``raise_if()`` says so)."""
    import sqlite3

    if not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute("PRAGMA busy_timeout = 50")
        # a list of every session is megabytes in a chain of overflow pages: read through a
        # memory map, not one read() per page (a third less time for 11 MB); this connection
        # only reads, and lives for one answer
        conn.execute(f"PRAGMA mmap_size = {READ_MMAP_BYTES}")
        return get(conn, key)
    except sqlite3.Error:
        if raise_if():
            raise
        return None
    finally:
        conn.close()
