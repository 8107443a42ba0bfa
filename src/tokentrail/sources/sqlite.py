"""Reading an agent's own SQLite database: read-only and never in its writer's way, a read that
goes on from the last row read, and what a database that cannot be read now turns into.

Only the agents' own files are read here; tokentrail's ledger is the store's alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tokentrail.sources.files import ParseResult, ParseState, open_regular
from tokentrail.usage import Skip

IN_CLAUSE_BATCH = 500
"""Ids asked for in one ``IN (...)`` (SQLite allows 999 parameters before 3.32)."""


class SchemaError(Exception):
    """An agent's database does not have the tables and columns a parser reads."""


def open_sqlite_read_only(path: str, timeout: float) -> sqlite3.Connection:
    """Open an agent's SQLite database without ever writing to it.

    ``mode=ro`` writes nothing (no journal, no schema, no WAL checkpoint) and still reads the
    rows its writer keeps in the ``-wal`` file; ``timeout`` bounds the wait for a writer that
    holds a lock, so the agent is never locked out by us for longer than one read. The path
    is checked with :func:`open_regular` first, like every other log file.
    """
    with open_regular(path):
        pass  # a FIFO or a device named like a database: NotRegularFile, never a hang
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=timeout)
    connection.execute("PRAGMA query_only = ON")
    return connection


def database_failure(path: str, state: ParseState, error: Exception) -> ParseResult:
    """A database that could not be read now: reported, nothing consumed, read again next
    sync (the incoming ``state`` is returned unchanged)."""
    if isinstance(error, SchemaError):
        reason = "unexpected_schema"
    elif isinstance(error, sqlite3.OperationalError) and any(
        word in str(error) for word in ("locked", "busy")
    ):
        reason = "database_busy"  # its writer held it longer than the parser's timeout
    else:
        reason = "database_unreadable"  # corrupt, not a database, permission denied, ...
    return ParseResult(state=state, skips=[Skip(reason, path, None, str(error))], retry=True)


def table_columns(connection: sqlite3.Connection, tables: Sequence[str]) -> dict[str, set[str]]:
    """The columns of each of ``tables`` that exists (a missing table is left out)."""
    marks = ", ".join("?" * len(tables))
    present = [
        row[0]
        for row in connection.execute(
            f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",
            list(tables),
        )
    ]
    return {
        table: {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        for table in present
    }


def read_database(
    path: str,
    state: ParseState,
    timeout: float,
    read: Callable[[sqlite3.Connection], ParseResult],
) -> ParseResult:
    """What ``read`` finds in the database at ``path``, opened read-only (waiting ``timeout``
    seconds at most for its writer). A database that cannot be read now (busy, corrupt, not
    the schema ``read`` knows: :class:`SchemaError`) is :func:`database_failure`: reported,
    and read again next sync. A path that is no regular file raises, as any log's would."""
    try:
        connection = open_sqlite_read_only(path, timeout)
    except sqlite3.Error as error:
        return database_failure(path, state, error)
    try:
        return read(connection)
    except (SchemaError, sqlite3.Error) as error:
        return database_failure(path, state, error)
    finally:
        connection.close()


def optional_columns(columns: Collection[str], names: Iterable[str], prefix: str = "") -> str:
    """A ``SELECT`` list of ``names``, ``NULL`` for each column this schema does not have
    (older versions of an agent's database lack the newer columns)."""
    return ", ".join(f"{prefix}{name}" if name in columns else "NULL" for name in names)


def rows_for_ids(
    connection: sqlite3.Connection, query: str, ids: Sequence[object]
) -> Iterator[tuple[Any, ...]]:
    """The rows of ``query`` for ``ids``, asked :data:`IN_CLAUSE_BATCH` at a time: ``query``
    holds ``{marks}`` where the ``IN`` list's placeholders go."""
    for start in range(0, len(ids), IN_CLAUSE_BATCH):
        batch = ids[start : start + IN_CLAUSE_BATCH]
        yield from connection.execute(query.format(marks=", ".join("?" * len(batch))), batch)


@dataclass(slots=True)
class RowCursor:
    """How far a table whose row ids only grow has been read: the highest id read, and the
    identity of that row (kept in the file's cursor memory as ``last_id`` and ``last_row``).

    A table rebuilt from scratch numbers its rows from 1 again, which the row remembered as
    the last one read no longer being there (or being another row) gives away: then it is
    read whole again, and the ledger merges the rows it already has.
    """

    last_id: int = 0
    last_row: str | None = None

    @classmethod
    def resume(
        cls, connection: sqlite3.Connection, identity_query: str, memory: Mapping[str, Any]
    ) -> RowCursor:
        """The cursor kept in ``memory``, if its row is still the same (``identity_query``
        selects, for the id ``?``, the values :meth:`advance` was given); else from the start."""
        last_id = memory.get("last_id")
        if not isinstance(last_id, int) or isinstance(last_id, bool) or last_id <= 0:
            return cls()
        row = connection.execute(identity_query, (last_id,)).fetchone()
        last_row = memory.get("last_row")
        if row is None or _identity(row) != last_row:
            return cls()  # another table now: its ids started again
        return cls(last_id, _identity(row))

    def advance(self, row_id: object, *identity: object) -> None:
        """Past the row ``row_id``, whose identity is made of ``identity``."""
        if isinstance(row_id, int) and row_id > self.last_id:
            self.last_id, self.last_row = row_id, _identity(identity)

    def to_memory(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "last_row": self.last_row}


def _identity(values: Iterable[object]) -> str:
    return "|".join(str(value) for value in values)
