"""What an agent package gives ``tests/test_agents_contract.py`` (its ``contract.KIT``), so one
generic test checks every registered agent: discovery, its override, what a second read of a
grown log yields, kill-safety and bad input.

A kit writes minimal valid logs: request ``i`` has ``input`` uncached input tokens (100 unless
the test asks for a corrupt count such as ``1e20`` or ``2**63``) and :data:`OUTPUT` output
tokens, nothing cached; requests are a second apart from :data:`START`. Not used at run time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

import orjson

INPUT = 100
OUTPUT = 10
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SESSION = "0f1e2d3c-4b5a-4969-8877-665544332211"

Count = int | float
Storage = Literal["lines", "database", "document"]
Reread = Literal["added", "whole", "growth"]
"""What a second read of a log that grew yields:

* ``added`` -- only the requests added since the first read (a line offset, a database
  cursor): the default;
* ``whole`` -- every request again, each one read before with the same key and counts, so the
  ledger keeps one (a document the agent rewrites whole, or a database read whole each time);
* ``growth`` -- the growth of a running total since the last read, never negative, never twice
  (an agent that keeps no requests, only a total: see :class:`RunningTotal`)."""


def when(index: int) -> datetime:
    return START + timedelta(seconds=index)


def iso(index: int) -> str:
    return when(index).isoformat().replace("+00:00", "Z")


def millis(index: int) -> int:
    return int(when(index).timestamp() * 1000)


class ContractKit(Protocol):
    storage: Storage
    """``lines`` (an append-only JSON Lines file), ``database`` (the agent's SQLite file) or
    ``document`` (a file the agent rewrites whole, read whole again when it changes)."""

    reread: Reread
    """What a second read of the grown log yields (see :data:`Reread`)."""

    def log_path(self, root: Path) -> Path:
        """Where the minimal log goes under ``root`` (a folder the agent's override names)."""
        ...

    def add(self, path: Path, first: int, count: int, *, input: Count = INPUT) -> None:
        """Write requests ``first`` .. ``first + count - 1`` (creating the log if needed)."""
        ...

    def add_malformed(self, path: Path) -> None:
        """Add one record that cannot be read (not JSON, or not the shape of one)."""
        ...


class LinesKit:
    """A kit for an append-only JSON Lines log: a subclass says where the file goes, what
    starts it, and what one request's line is."""

    storage: Storage = "lines"
    reread: Reread = "added"

    def log_path(self, root: Path) -> Path:
        raise NotImplementedError

    def header(self) -> Sequence[object]:
        return ()

    def request(self, index: int, input: Count) -> object:
        raise NotImplementedError

    def add(self, path: Path, first: int, count: int, *, input: Count = INPUT) -> None:
        lines = [] if path.exists() else list(self.header())
        lines += [self.request(i, input) for i in range(first, first + count)]
        append_lines(path, lines)

    def add_malformed(self, path: Path) -> None:
        # a request's line with its end garbled: it has every word a reader looks for
        append_lines(path, [_dumps(self.request(99, INPUT))[:-1] + b",}"])


Statement = tuple[str, Sequence[object]]


class DatabaseKit:
    """A kit for an agent's SQLite database, read past a cursor of the rows read: a subclass
    names the file and its schema, the statements that open the session, and one request's
    row."""

    storage: Storage = "database"
    reread: Reread = "added"
    file_name: str
    schema: str
    opening: Sequence[Statement] = ()
    """What a new log starts with (idempotent: run again with every batch of requests)."""
    malformed: Sequence[Statement]
    """What :meth:`add_malformed` writes: one request the reader must skip."""

    def log_path(self, root: Path) -> Path:
        return root / self.file_name

    def request(self, index: int, input: Count) -> Statement:
        raise NotImplementedError

    def add(self, path: Path, first: int, count: int, *, input: Count = INPUT) -> None:
        requests = [self.request(i, input) for i in range(first, first + count)]
        execute(path, self.schema, [*self.opening, *requests])

    def add_malformed(self, path: Path) -> None:
        execute(path, self.schema, self.malformed)


def sqlite_count(value: Count) -> Count:
    """A count as SQLite can hold it: past its 64-bit integers, a REAL."""
    return float(value) if value >= 2**63 else value


class CostOnly:
    """Marks the kit of an agent that reports a cost and no token counts (Crush): request
    ``i`` costs ``input`` micro-dollars, its token buckets are not reported (NULL), and a
    corrupt cost is skipped as ``invalid_cost``."""

    cost_only = True
    bad_count_reason = "invalid_cost"


class RunningTotal:
    """Marks the kit of an agent that keeps a running total rather than requests (Factory
    Droid's ``tokenUsage``): :meth:`write_total` rewrites one session's total, and a read
    records the growth since the last read, never negative, never twice."""

    reread: Reread = "growth"

    def write_total(self, path: Path, requests: int) -> None:
        """Rewrite the running total at ``path`` as ``requests`` requests' worth:
        ``requests * INPUT`` uncached input and ``requests * OUTPUT`` output tokens."""
        raise NotImplementedError


class UpdatedInPlace(Protocol):
    """A kit whose agent updates a request's record in place as it grows (Crush adds each
    call's cost to its session's row): the record keeps its key and takes the new value."""

    def update(self, path: Path, index: int, *, input: Count) -> None:
        """Rewrite request ``index`` in place as if it had ``input`` (see :data:`INPUT`)."""
        ...


def dumps(value: object) -> bytes:
    """JSON, with counts of any size (``2**63`` is past what orjson writes)."""
    return _dumps(value)


def append_lines(path: Path, lines: Sequence[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else _dumps(line))
            handle.write(b"\n")


def _dumps(value: object) -> bytes:
    """JSON, with counts of any size (``2**63`` is past what orjson writes)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        import json

        return json.dumps(value).encode()


def execute(path: Path, script: str, statements: Sequence[Statement]) -> None:
    """Run ``script`` once (when the database is new), then ``statements``, and commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with closing(sqlite3.connect(path)) as db:
        if new:
            db.executescript(script)
        for sql, params in statements:
            db.execute(sql, params)
        db.commit()
