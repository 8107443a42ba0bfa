"""The quick reader of what the last full sync saw: the record :mod:`tokentrail.sync_walk`
keeps, and every file's cursor, from a SQLite ledger as it is.

Beside :mod:`tokentrail.store.quick` (the status line's and the active block's reader) and
opened the same way (never created, migrated or written; a lock waited for 50 ms at most),
but with the standard library alone: the quick answer of ``tokentrail sync --quiet`` must not
pay for the report queries' modules, nor for the migrations' (whose schema version
:mod:`tokentrail.store.quick` checks). A ledger it cannot read this way (absent, without the
record's table, locked, damaged) gives None: the full sync then opens, migrates or reports it.
Which tokentrail wrote the record, and so the schema it left, the record itself says (its
package folder and every module's stat: see :mod:`tokentrail.sync_walk`).
"""

from __future__ import annotations

import os
import sqlite3

READ_TIMEOUT_MS = 50

FileCursor = tuple[int, int, int, int, int]
"""A file's device, inode, size, modification time and parser version when it was last read."""


def read_sync_walk(path: str) -> tuple[bytes, dict[str, FileCursor]] | None:
    """The record the last full sync kept and every file's cursor; None when the ledger at
    ``path`` has none or cannot be read the quick way."""
    if not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(ledger_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        conn.execute(f"PRAGMA busy_timeout = {READ_TIMEOUT_MS}")
        conn.execute("BEGIN")  # the record and the cursors from one snapshot
        row = conn.execute("SELECT record FROM sync_walk WHERE id = 1").fetchone()
        if row is None:
            return None
        sql = "SELECT path, device, inode, size, mtime_ns, parser_version FROM cursors"
        cursors = {found[0]: found[1:] for found in conn.execute(sql)}
        return bytes(row[0]), cursors
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def ledger_uri(path: str) -> str:
    """A URI opening the existing file read-write (here and in :mod:`tokentrail.store.quick`,
    so a WAL ledger is read without the write side's help); the characters a SQLite URI
    gives a meaning to are escaped (without urllib, whose import a status line would pay)."""
    escaped = os.path.abspath(path).replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{escaped}?mode=rw"
