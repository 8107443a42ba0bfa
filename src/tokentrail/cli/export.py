"""``export``: a table of the ledger as CSV, JSON Lines or Parquet."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import (
    PROJECT,
    SINCE,
    SOURCE,
    TZ,
    UNTIL,
    Scope,
    database_option,
    no_sync_option,
)
from tokentrail.errors import OptionError


@click.command(cls=TokentrailCommand)
@database_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("csv", "jsonl", "parquet")),
    default="csv",
    show_default=True,
    help="parquet needs pyarrow: from the clone, ~/.tokentrail/bin/pip install '.[parquet]' "
    "(the pip tokentrail was installed with).",
)
@click.option(
    "--what",
    type=click.Choice(("events", "daily", "weekly", "monthly", "sessions", "runs")),
    default="events",
    show_default=True,
    help="events: one row per request; daily/weekly/monthly: per period and model; sessions: "
    "subagents rolled up; runs: per orchestrator run.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output; required for parquet).",
)
@SINCE
@UNTIL
@TZ
@SOURCE
@PROJECT
@click.option("--model", "models", multiple=True, metavar="NAME", help="Only this model.")
@click.option(
    "--without-usage",
    is_flag=True,
    help="sessions: also the sessions that made no request (counted apart; docs/counting.md).",
)
@no_sync_option("Export the ledger without syncing first.")
def export(
    database: str | None,
    fmt: str,
    what: str,
    output: Path | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    models: tuple[str, ...],
    without_usage: bool,
    no_sync: bool,
) -> None:
    """Write a table of the ledger as CSV, JSON Lines or Parquet (an empty cell or null is
    unknown: not reported, or not priced)."""
    from tokentrail.cli.common import build_query, open_ledger, run_sync
    from tokentrail.export import table, write

    if fmt == "parquet" and output is None:
        raise OptionError("--format parquet writes a binary file: give one with -o/--output")
    scope = Scope(
        database=database, since=since, until=until, tz=tz, sources=sources, project=project
    )
    query = build_query(scope)
    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            run_sync(ledger, (), show_progress=sys.stderr.isatty() and output is not None)
        exported = table(ledger, what, query, models=models, without_usage=without_usage)
        assert exported is not None  # only a session's requests can be missing
        rows = write(exported, fmt, output if output is not None else sys.stdout.buffer)
    if output is not None:
        click.echo(f"Wrote {rows:,} {what} rows to {output} ({fmt}).", err=True)
