"""A real PostgreSQL server for tests.

The server's URL comes from ``TOKENTRAIL_TEST_POSTGRES_URL`` (for example
``postgresql://postgres@127.0.0.1:5432/test``); without it the PostgreSQL tests are skipped
with that reason. Each test gets a database of its own, created through the server's
``postgres`` maintenance database and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "TOKENTRAIL_TEST_POSTGRES_URL"
EXAMPLE_URL = "postgresql://postgres@127.0.0.1:5432/test"
"""A local server with trust authentication, as the README's "Run the tests" shows it."""
SKIP_REASON = (
    f"{ENV} is not set: the PostgreSQL tests need a server, e.g. {ENV}={EXAMPLE_URL} pytest "
    "(see README: Run the tests)"
)


def server_url() -> str | None:
    return os.environ.get(ENV) or None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(with_database(url, "postgres"), autocommit=True, connect_timeout=10)


@contextmanager
def fresh_database(prefix: str = "tokentrail_test") -> Iterator[str]:
    """The URL of a new, empty database, dropped (with any connection left) afterwards."""
    url = server_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    with _admin(url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(url, name)
    finally:
        with _admin(url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Rows of one statement on a test database (tests check the tables themselves)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


BACKENDS = ("sqlite", "postgres")
"""The engines a store test runs on (the PostgreSQL runs skip without a server)."""


@contextmanager
def ledger_on(kind: str, db_path: Any) -> Iterator[Any]:
    """An open ledger: on the SQLite file ``db_path``, or in a fresh PostgreSQL database."""
    from tokentrail.ledger import Ledger

    if kind == "sqlite":
        with Ledger(db_path) as ledger:
            yield ledger
        return
    with fresh_database() as url, Ledger(url) as ledger:
        yield ledger
