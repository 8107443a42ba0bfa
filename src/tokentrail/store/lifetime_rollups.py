"""All-time rollups: the sums of every request ever recorded per source, model, project and
machine (and, on a team ledger, user), so a figure over all time, grouped by project above
all, reads a few hundred rows instead of every hour of the ledger's history (projects are
not kept per day, see :mod:`tokentrail.store.day_rollups`).

Filled from the 15-minute rollups by migration ``0017_lifetime_rollups`` (PostgreSQL's
``0011_lifetime_rollups``), then kept by every write in the transaction of its events, as
the other rollups. A query without a time range reads them instead of the rollups
(:func:`table_for`); any other scope (sources, models, a project, machines, users) applies
to them as it does to the rollups, whose columns they have but the time.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokentrail.store.figures import Filters

TABLE = "lifetime_rollups"


def keys(*, user: bool) -> str:
    return "source, model, project, machine" + (", user_name" if user else "")


def table_sql(
    integer: str, text: str, measures: Sequence[str], *, user: bool, options: str = ""
) -> str:
    """The table (``integer``, ``text``: the engine's types; ``measures``: the measures as the
    migration knows them), filled from the 15-minute rollups."""
    user_key = f"user_name {text} NOT NULL,\n" if user else ""
    columns = ",\n".join(f"{m} {integer} NOT NULL DEFAULT 0" for m in measures)
    key_list = keys(user=user)
    return f"""
        CREATE TABLE {TABLE} (
            source {text} NOT NULL,
            model {text} NOT NULL,
            project {text} NOT NULL,
            machine {text} NOT NULL,
            {user_key}{columns},
            PRIMARY KEY ({key_list})
        ){options};
        INSERT INTO {TABLE} ({key_list}, {", ".join(measures)})
        SELECT {key_list}, {", ".join(f"SUM({m})" for m in measures)} FROM rollups
        GROUP BY {key_list};
        """


def table_for(filters: Filters, rollups: str) -> str:
    """The lifetime rollups for a scope without a time range, else ``rollups``."""
    return TABLE if filters.since_ms is None and filters.until_ms is None else rollups
