"""``runs`` and ``sessions``: the orchestrator runs and the most recently active sessions,
newest first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import (
    PROJECT,
    SOURCE,
    Scope,
    database_option,
    no_sync_option,
    output_options,
)

RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Run", "run_id"),
    ("App", "app"),
    ("Started", "started_at"),
    ("Stopped", "stopped_at"),
    ("State", "state"),
    ("Reason", "reason"),
    ("Peak", "peak_concurrency"),
    ("Sessions", "sessions_launched"),
    ("Tokens", "total_tokens"),
    ("Cost", "cost_usd"),
)
SESSION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Session", "session_key"),
    ("Name", "name"),
    ("Agent", "source"),
    ("Issue", "identifier"),
    ("State", "state"),
    ("Model", "model"),
    ("Last active", "last_activity"),
    ("Span", "runtime_seconds"),
    ("Active", "active_seconds"),
    ("Tokens", "total_tokens"),
    ("Cost", "cost_usd"),
)


@click.command(cls=TokentrailCommand)
@database_option
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N runs.")
@output_options
def runs(database: str | None, limit: int | None, as_json: bool, as_csv: bool) -> None:
    """One row per orchestrator run: started, stopped, state, peak concurrency, spend."""
    from tokentrail.cli.common import check_format, open_ledger
    from tokentrail.output import new_console, print_rows, render_csv, render_json
    from tokentrail.reports.runs import runs_report

    check_format(as_json, as_csv)
    with open_ledger(database) as ledger:
        rows = [row.as_dict() for row in runs_report(ledger.store, limit)]
    if as_json:
        click.echo(render_json({"rows": rows}))
    elif as_csv:
        click.echo(render_csv(rows, blank=_blank_run_row()), nl=False)
    else:
        print_rows("Runs", rows, RUN_COLUMNS, console=new_console(), empty="No runs recorded yet.")


@click.command(cls=TokentrailCommand)
@database_option
@SOURCE
@PROJECT
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@no_sync_option("List from the ledger without syncing.")
@click.option(
    "--summary",
    "summaries",
    is_flag=True,
    help="One line of text per session instead of the table (requests, models, time, cost, "
    "cache, lines changed, failed tool calls).",
)
@output_options
def sessions(
    database: str | None,
    sources: tuple[str, ...],
    project: str | None,
    limit: int,
    no_sync: bool,
    summaries: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The most recently active sessions, newest first, with state, runtime and spend (and
    each one's summary in JSON and CSV)."""
    from tokentrail.cli.common import build_query, check_format, open_ledger, sync_first
    from tokentrail.insights.sessions import list_summaries
    from tokentrail.output import new_console, print_rows, render_csv, render_json
    from tokentrail.reports.sessions import recent_sessions

    check_format(as_json, as_csv)
    scope = Scope(
        database=database, since=None, until=None, tz=None, sources=sources, project=project
    )
    query = build_query(scope)
    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            sync_first(ledger, machine_readable=as_json or as_csv)
        found = recent_sessions(ledger.store, query, limit=limit)
        texts = list_summaries(ledger.store, found)
    rows = [{**row.as_dict(), "summary": texts.get(row.session.key)} for row in found]
    if as_json:
        click.echo(render_json({"rows": rows}))
    elif as_csv:
        click.echo(render_csv(rows, blank=_blank_session_list_row()), nl=False)
    elif summaries:
        for row in found:
            click.echo(f"{row.session.key}  {texts.get(row.session.key) or ''}".rstrip())
        if not found:
            click.echo("No sessions recorded.")
    else:
        print_rows(
            "Sessions", rows, SESSION_COLUMNS, console=new_console(), empty="No sessions recorded."
        )


def _blank_run_row() -> Mapping[str, Any]:
    """A row of the runs' shape: the header of an empty CSV table."""
    from datetime import UTC, datetime

    from tokentrail.cli.common import zero_figures
    from tokentrail.reports.runs import RunRow

    epoch = datetime.fromtimestamp(0, UTC)
    return RunRow("", "", epoch, None, "", None, 0, 0, None, zero_figures()).as_dict()


def _blank_session_list_row() -> dict[str, Any]:
    """A row of the session list's shape: the header of an empty CSV table."""
    from tokentrail.cli.common import zero_figures
    from tokentrail.reports.sessions import SessionListRow
    from tokentrail.usage import Session

    return {**SessionListRow(Session("", ""), zero_figures(), None).as_dict(), "summary": None}
