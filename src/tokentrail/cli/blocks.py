"""``blocks`` (5-hour blocks: tokens, cost, burn rate, projection) and ``live`` (the active
block on screen, following the logs)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import blocks_options, output_options
from tokentrail.cli_types import DAY
from tokentrail.errors import OptionError

if TYPE_CHECKING:
    from tokentrail.blocks import BlocksQuery, BlocksReport


@click.command(cls=TokentrailCommand)
@blocks_options
@click.option(
    "--since",
    type=DAY,
    help="List blocks ending after this local day's start (default: the last 7 days).",
)
@click.option("--until", type=DAY, help="List blocks starting on or before this local day.")
@click.option("--active", is_flag=True, help="Only the block in progress.")
@click.option("--live", is_flag=True, help="Keep the active block on screen, following the logs.")
@click.option(
    "--token-limit",
    metavar="N|max",
    help="Add a '% of limit' column: the share of N tokens each block used, and for the "
    "active block the share projected at its end (an estimate; over 100% is marked). 'max': "
    "the largest finished block listed.",
)
@output_options
def blocks(
    database: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    no_sync: bool,
    since: str | None,
    until: str | None,
    active: bool,
    live: bool,
    token_limit: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """5-hour blocks: tokens, cost, burn rate and projection, with official limits (Codex)."""
    from tokentrail.cli.common import check_format

    check_format(as_json, as_csv)
    query = blocks_query(
        since=since,
        until=until,
        tz=tz,
        sources=sources,
        project=project,
        active=active,
        token_limit=token_limit,
    )
    if live:
        if as_json or as_csv:
            raise OptionError("--live shows a screen; it cannot be combined with --json or --csv")
        run_live_view(database=database, query=query, no_sync=no_sync, exit_after=None)
        return
    from tokentrail.launch import quick_blocks

    report = quick_blocks(database, query) if no_sync else None
    if report is None:
        report = _blocks_from_ledger(database, query, no_sync=no_sync, quiet=as_json or as_csv)
    if as_json:
        from tokentrail.output import render_json

        click.echo(render_json(report.as_dict()))
    elif as_csv:
        from tokentrail.output import render_csv

        click.echo(render_csv(report.csv_rows(), blank=report.blank_csv_row()), nl=False)
    else:
        from tokentrail.blocks_view import print_blocks
        from tokentrail.output import new_console

        print_blocks(report, console=new_console())


def _blocks_from_ledger(
    database: str | None, query: BlocksQuery, *, no_sync: bool, quiet: bool
) -> BlocksReport:
    from tokentrail.blocks import blocks_report
    from tokentrail.cli.common import open_ledger, sync_first

    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            sync_first(ledger, machine_readable=quiet)
        return blocks_report(ledger.store, query)


def blocks_query(
    *,
    since: str | None,
    tz: str | None,
    until: str | None = None,
    sources: tuple[str, ...],
    project: str | None,
    active: bool,
    token_limit: str | None,
) -> BlocksQuery:
    from datetime import timedelta

    from tokentrail.blocks import BlocksQuery
    from tokentrail.cli.common import day_range
    from tokentrail.periods import local_midnight_ms, resolve_timezone

    zone, zone_name = resolve_timezone(tz)
    since_day, until_day = day_range(since, until)
    return BlocksQuery(
        zone=zone,
        zone_name=zone_name,
        since_ms=local_midnight_ms(since_day, zone) if since_day else None,
        until_ms=local_midnight_ms(until_day + timedelta(days=1), zone) if until_day else None,
        active_only=active,
        sources=tuple(sources),
        project=project,
        token_limit=_token_limit(token_limit),
        token_limit_max=token_limit == "max",
    )


def _token_limit(value: str | None) -> int | None:
    """``--token-limit N`` as a number of tokens (None for none, or for ``max``)."""
    if value is None or value == "max":
        return None
    try:
        limit = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        limit = 0
    if limit <= 0:
        raise OptionError(
            f"--token-limit {value!r} is not a positive whole number of tokens; "
            "give one (e.g. 5000000) or 'max' (the largest block listed)"
        )
    return limit


@click.command(cls=TokentrailCommand)
@blocks_options
@click.option(
    "--refresh",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between screen updates.",
)
@click.option(
    "--exit-after",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Quit after this many seconds (default: run until Ctrl-C).",
)
def live(
    database: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    no_sync: bool,
    refresh: float,
    exit_after: float | None,
) -> None:
    """A live terminal view: active block, today's spend, burn rate and projection."""
    query = blocks_query(
        since=None, tz=tz, sources=sources, project=project, active=True, token_limit=None
    )
    run_live_view(
        database=database, query=query, no_sync=no_sync, exit_after=exit_after, refresh=refresh
    )


def run_live_view(
    *,
    database: str | None,
    query: BlocksQuery,
    no_sync: bool,
    exit_after: float | None,
    refresh: float = 1.0,
) -> None:
    from tokentrail.cli.common import open_ledger, run_sync
    from tokentrail.live import run_live
    from tokentrail.output import new_console

    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            # the first sync may be long (a cold ledger): with a progress bar, on every core
            run_sync(ledger, (), show_progress=sys.stderr.isatty())
        run_live(ledger, query, console=new_console(), refresh_s=refresh, exit_after_s=exit_after)
