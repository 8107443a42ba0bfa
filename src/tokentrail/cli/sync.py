"""``sync`` and ``push``: new usage from the agents' logs into the ledger, and the ledger into a
team ledger on PostgreSQL."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import database_option, json_option
from tokentrail.cli_types import SourceName

if TYPE_CHECKING:
    from tokentrail.push import PushSummary
    from tokentrail.store.base import Store


@click.command(cls=TokentrailCommand)
@database_option
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=SourceName(reported=False),
    help="Only this agent (repeatable).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@json_option("Print the summary as JSON.")
def sync(database: str | None, sources: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Read new usage from the agents' logs into the ledger."""
    from tokentrail.cli.common import open_ledger, run_sync, warn_broken_links

    with open_ledger(database) as ledger:
        summary = run_sync(ledger, sources, show_progress=not quiet and sys.stderr.isatty())
    warn_broken_links(summary.searched)
    if as_json:
        from tokentrail.output import render_json, sync_as_dict

        click.echo(render_json(sync_as_dict(summary)))
    elif not quiet:
        from tokentrail.output import sync_lines  # not imported by a quiet sync

        for line in sync_lines(summary):
            click.echo(line)


@click.command(cls=TokentrailCommand)
@database_option
@click.option(
    "--to",
    "target",
    required=True,
    envvar="TOKENTRAIL_PUSH_TO",
    metavar="URL",
    help="The team ledger: postgresql://ROLE@HOST/DB (password from ~/.pgpass or PGPASSWORD; "
    "TLS with ?sslmode=verify-full). Default: $TOKENTRAIL_PUSH_TO.",
)
@click.option("--full", is_flag=True, help="Push everything again, not only what is new.")
@click.option(
    "--user",
    metavar="NAME",
    help="Attribute what is pushed to this user. Default: $TOKENTRAIL_USER or the config "
    "file's 'user'; none if unset.",
)
@click.option("--watch", is_flag=True, help="Keep syncing and pushing until interrupted.")
@click.option(
    "--interval",
    type=click.IntRange(5, 3600),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Pause between pushes with --watch.",
)
@click.option("--no-sync", is_flag=True, help="Push the ledger without syncing the logs first.")
@click.option("--quiet", "-q", is_flag=True, help="No summary.")
@json_option("Print the summary as JSON.")
def push(
    database: str | None,
    target: str,
    full: bool,
    user: str | None,
    watch: bool,
    interval: int,
    no_sync: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Copy the local ledger into a team ledger on PostgreSQL (only what is new).

    Idempotent and resumable: each batch commits with the watermark that covers it, and
    requests keep their keys, so pushing twice or after a kill never counts anything twice.
    Every request keeps the machine it was recorded on ($TOKENTRAIL_MACHINE, the config
    file's 'machine', or the host name). See docs/team.md.
    """
    import time

    from tokentrail.cli.common import open_ledger, run_sync
    from tokentrail.config import user_name
    from tokentrail.errors import TokentrailError
    from tokentrail.ledger import open_store
    from tokentrail.output import render_json
    from tokentrail.push import check_target
    from tokentrail.push import push as do_push

    with open_ledger(database) as ledger:
        check_target(target, ledger.database)
        who = user or user_name(ledger.config)
        team: Store | None = None
        full_pending = full
        try:
            while True:
                try:
                    if not no_sync:
                        run_sync(ledger, (), show_progress=False)
                    team = team or open_store(target)
                    summary = do_push(ledger, team, user=who, full=full_pending)
                except TokentrailError as exc:
                    if not watch:
                        raise
                    # the server restarts, the network is down: say so, try again next round
                    click.echo(f"push failed, retrying in {interval} s: {exc}", err=True)
                else:
                    full_pending = False
                    if as_json:
                        click.echo(render_json(summary.as_dict()))
                    elif not quiet and (not watch or summary.batches):
                        click.echo(_push_line(summary))
                if not watch:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            if not watch:
                raise
        finally:
            if team is not None:
                team.close()


def _push_line(summary: PushSummary) -> str:
    who = f" for {summary.user}" if summary.user else ""
    if not summary.batches:
        return f"Nothing new to push from {summary.machine}{who} to {summary.target}."
    there = f" ({summary.unchanged:,} already there)" if summary.unchanged else ""
    return (
        f"Pushed {summary.created:,} new and {summary.updated:,} changed requests{there}, "
        f"{summary.sessions:,} session records (sessions, subagents and sessions without "
        "usage), "
        f"{summary.runs:,} runs, {summary.tool_calls + summary.tool_results:,} tool calls and "
        f"results and {summary.rate_limits:,} rate-limit figures from {summary.machine}{who} "
        f"to {summary.target} in {summary.elapsed_s:.1f} s."
    )
