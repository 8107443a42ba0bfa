"""The command line. Parses options, calls the ledger, sync and reports, and prints.

Commands stay thin: they never open the database or compute a number themselves. Option
values are checked by the shared types of :mod:`tokentrail.cli_types`. Exit status: 0 done,
1 an error (the ledger, the configuration file, the network), 2 a usage error (a wrong option
value or combination); ``budget`` has its own (see its help).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tokentrail.cli_types import DAY, TIME_ZONE, OtelAgent, SourceName
from tokentrail.errors import OptionError, TokentrailError

F = TypeVar("F", bound=Callable[..., Any])


class _Command(click.Command):
    """A wrong option found while the command runs (two options that exclude each other, a
    source the ledger never saw) is a usage error of this command, like click's own."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptionError as exc:
            raise click.UsageError(str(exc), ctx) from exc


class _Group(click.Group):
    """Turns tokentrail's own errors into a clean message without a traceback: exit status 2
    for a wrong option (a usage error), 1 for any other."""

    command_class = _Command
    group_class = type  # subgroups (``db``) are of this class too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OptionError as exc:  # the default command, run without a context of its own
            raise click.UsageError(str(exc), ctx) from exc
        except TokentrailError as exc:  # the stores' errors too (a damaged ledger file, …)
            raise click.ClickException(str(exc)) from exc


def database_option(func: F) -> F:
    return click.option(
        "-d",
        "--database",
        metavar="PATH",
        help="Ledger file, or a postgresql:// URL (a team ledger). Default: $TOKENTRAIL_DB, "
        "the config file's 'database', or the user data dir "
        "(~/.local/share/tokentrail/ledger.db on Linux).",
    )(func)


def output_options(func: F) -> F:
    """--json / --csv, shared by every command that prints rows."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    return func


Decorator = Callable[[Any], Any]


_SOURCE = click.option(
    "--source",
    "sources",
    multiple=True,
    type=SourceName(),
    help="Only this source (repeatable): an agent tokentrail reads, sdk (the HTTP API's "
    "default), or another name usage was reported under.",
)
_SINCE = click.option("--since", type=DAY, help="First local day to include.")
_UNTIL = click.option("--until", type=DAY, help="Last local day to include.")
_TZ = click.option(
    "--tz", type=TIME_ZONE, help="IANA time zone for days (default: the local zone)."
)
_PROJECT = click.option("--project", help="Only projects whose path contains this text.")


def _scope_options() -> list[Decorator]:
    """Where a report reads from and what it covers, shared by reports and insights."""
    return [
        database_option,
        _SINCE,
        _UNTIL,
        _TZ,
        _SOURCE,
        _PROJECT,
    ]


def _apply(func: F, options: list[Decorator]) -> F:
    for option in reversed(options):
        func = option(func)
    return func


_NO_SYNC = click.option("--no-sync", is_flag=True, help="Report from the ledger without syncing.")


def report_options(func: F) -> F:
    options: list[Decorator] = [
        *_scope_options(),
        click.option("--breakdown", is_flag=True, help="One row per model within each period."),
        click.option(
            "--machine",
            "machines",
            multiple=True,
            metavar="NAME",
            help="Only usage recorded on this machine (repeatable).",
        ),
        click.option(
            "--user",
            "users",
            multiple=True,
            metavar="NAME",
            help="Only usage pushed for this user to a team ledger (repeatable).",
        ),
        click.option(
            "--by",
            type=click.Choice(("model", "machine", "user")),
            help="One row per model, machine or user within each period (--by model is "
            "--breakdown).",
        ),
        _NO_SYNC,
        output_options,
    ]
    return _apply(func, options)


def _server_token(value: str | None) -> str | None:
    """The server's token, or None; a token too short to protect anything is a usage error."""
    if not value:
        return None
    from tokentrail.server.auth import token_problem

    problem = token_problem(value)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--token' / TOKENTRAIL_TOKEN")
    return value


@click.group(cls=_Group, invoke_without_command=True)
@click.version_option(package_name="tokentrail")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A persistent, truthful ledger of what AI coding agents spend.

    Reads the logs of Claude Code, Codex CLI, Gemini CLI and OpenCode into a local SQLite
    ledger that keeps every request for good. With no command, syncs and shows the daily
    report.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(daily)


def _run_report(kind: str, **options: Any) -> None:
    if options["no_sync"]:
        # the answer the ledger keeps, if nothing changed since: without importing the rest
        from tokentrail.cached_reports import cached_answer

        answer = cached_answer(kind, options)
        if answer is not None:
            click.echo(answer, nl=False)
            return
    from tokentrail import commands

    commands.report(kind, **options)


@cli.command()
@report_options
def daily(**options: Any) -> None:
    """Usage and cost per local day."""
    _run_report("daily", **options)


@cli.command()
@report_options
def weekly(**options: Any) -> None:
    """Usage and cost per ISO week, labelled like 2026-W19."""
    _run_report("weekly", **options)


@cli.command()
@report_options
def monthly(**options: Any) -> None:
    """Usage and cost per month."""
    _run_report("monthly", **options)


@cli.command()
@report_options
def session(**options: Any) -> None:
    """One row per agent session, subagents rolled up on their parent."""
    _run_report("session", **options)


def _insight_options(func: F) -> F:
    return _apply(func, [*_scope_options(), _NO_SYNC, output_options])


@cli.command()
@_insight_options
@click.option("--session", "session_key", metavar="KEY", help="Only this session's calls.")
@click.option("--by-session", is_flag=True, help="One row per session and tool.")
def tools(**options: Any) -> None:
    """Tool calls per tool: calls, failures, average and p95 duration (docs/insights.md)."""
    from tokentrail import insights_commands

    insights_commands.tools(**options)


@cli.command()
@_insight_options
@click.option(
    "--by",
    type=click.Choice(("session", "project", "model")),
    default="session",
    show_default=True,
    help="One row per session, project or model.",
)
def efficiency(**options: Any) -> None:
    """Lines changed, cost and tokens per changed line, cache efficiency (docs/insights.md)."""
    from tokentrail import insights_commands

    insights_commands.efficiency(**options)


BUDGET_ERROR_EXIT = 4
"""Exit status of ``tokentrail budget`` when it cannot answer (bad option, configuration or
ledger): apart from the levels 1 and 2 that ``--check`` reports."""


class _BudgetError(click.ClickException):
    exit_code = BUDGET_ERROR_EXIT


class _BudgetUsageError(click.UsageError):
    exit_code = BUDGET_ERROR_EXIT


class _BudgetCommand(click.Command):
    """Errors exit with status 4, so a cron job or CI step never reads one as a level."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _BudgetUsageError(exc.format_message(), exc.ctx) from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (TokentrailError, click.ClickException) as exc:
            if isinstance(exc, _BudgetError | _BudgetUsageError):
                raise
            message = exc.format_message() if isinstance(exc, click.ClickException) else str(exc)
            raise _BudgetError(message) from exc


@cli.command(cls=_BudgetCommand)
@database_option
@click.option("--tz", type=TIME_ZONE, help="IANA time zone of the periods (default: local).")
@click.option(
    "--check",
    is_flag=True,
    help="Exit 0 when every budget is under its soft level, 1 when one is past its soft "
    "level, 2 past its hard level (3: a webhook failed; 4: an error). Posts to webhooks.",
)
@click.option(
    "--webhook",
    metavar="URL",
    help="With --check: post a JSON payload here for each budget past a level (instead of "
    "the budgets' own 'webhook').",
)
@click.option(
    "--at",
    metavar="WHEN",
    help="Compute as of this moment (ISO 8601, e.g. 2026-05-04T18:00:00+02:00) instead of now.",
)
@click.option("--no-sync", is_flag=True, help="Report from the ledger without syncing.")
@output_options
def budget(**options: Any) -> None:
    """Spend so far against each budget in the config file ([[budgets]]), the burn rate, the
    projected end-of-period spend with a range, and when the budget runs out."""
    from tokentrail import commands

    commands.budget(**options)


@cli.command()
@database_option
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=SourceName(reported=False),
    help="Only this agent (repeatable).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sync(database: str | None, sources: tuple[str, ...], quiet: bool, as_json: bool) -> None:
    """Read new usage from the agents' logs into the ledger."""
    from tokentrail import commands

    commands.sync(database=database, sources=sources, quiet=quiet, as_json=as_json)


@cli.command()
@database_option
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N runs.")
@output_options
def runs(database: str | None, limit: int | None, as_json: bool, as_csv: bool) -> None:
    """One row per orchestrator run: started, stopped, state, peak concurrency, spend."""
    from tokentrail import commands

    commands.runs(database=database, limit=limit, as_json=as_json, as_csv=as_csv)


@cli.command()
@database_option
@_SOURCE
@_PROJECT
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--no-sync", is_flag=True, help="List from the ledger without syncing.")
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
    from tokentrail import commands

    commands.sessions(
        database=database,
        sources=sources,
        project=project,
        limit=limit,
        no_sync=no_sync,
        summaries=summaries,
        as_json=as_json,
        as_csv=as_csv,
    )


@cli.command()
@database_option
@click.option("--dry-run", is_flag=True, help="Show the differences without writing them.")
@output_options
def reprice(database: str | None, dry_run: bool, as_json: bool, as_csv: bool) -> None:
    """Recompute stored costs with current prices and overrides; show the difference."""
    from tokentrail import commands

    commands.reprice(database=database, dry_run=dry_run, as_json=as_json, as_csv=as_csv)


@cli.command()
@database_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs --token.",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="TCP port."
)
@click.option(
    "--token",
    envvar="TOKENTRAIL_TOKEN",
    metavar="TOKEN",
    callback=lambda ctx, param, value: _server_token(value),
    help="Require 'Authorization: Bearer TOKEN' on every request (at least 16 non-blank "
    "characters). Default: $TOKENTRAIL_TOKEN (prefer it: other users can see a command line).",
)
@click.option(
    "--otlp-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Also receive OpenTelemetry on this port (4318 is OTLP/HTTP's own); the API's port "
    "receives it at /v1/logs, /v1/metrics and /v1/traces either way.",
)
@click.option(
    "--sync/--no-sync",
    "keep_syncing",
    default=True,
    show_default=True,
    help="Keep reading the agents' logs into the ledger while serving (on every change, "
    "and at least every 30 seconds).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
def serve(
    database: str | None,
    host: str,
    port: int,
    token: str | None,
    otlp_port: int | None,
    keep_syncing: bool,
    open_browser: bool,
) -> None:
    """Serve the dashboard (/), the REST API (/api/v1, schema at /openapi.json) and the
    OpenTelemetry receiver (/v1/logs, /v1/metrics), on loopback by default."""
    from tokentrail import commands

    commands.serve(
        database=database,
        host=host,
        port=port,
        token=token,
        otlp_port=otlp_port,
        keep_syncing=keep_syncing,
        open_browser=open_browser,
    )


@cli.command("otel-env")
@click.argument("agent", type=OtelAgent())
@click.option(
    "--endpoint",
    default="http://127.0.0.1:8787",
    show_default=True,
    metavar="URL",
    help="Where tokentrail serve listens, as the agent's machine reaches it.",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="The server's token (its --token); printed into the snippet.",
)
def otel_env(agent: str, endpoint: str, token: str | None) -> None:
    """Print the settings that send AGENT's OpenTelemetry usage to tokentrail serve."""
    from tokentrail import commands

    commands.otel_env(agent=agent, endpoint=endpoint, token=token)


@cli.command()
@database_option
@click.option("--since", type=DAY, help="First local day (default: 6 days ago).")
@click.option("--until", type=DAY, help="Last local day (default: today).")
@_TZ
@_SOURCE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def reconcile(
    database: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    as_json: bool,
) -> None:
    """Compare, per source and day, what OpenTelemetry, log files and the agents' metrics saw."""
    from tokentrail import commands

    commands.reconcile(
        database=database, since=since, until=until, tz=tz, sources=sources, as_json=as_json
    )


@cli.command()
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
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
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
    from tokentrail import commands

    commands.push(
        database=database,
        target=target,
        full=full,
        user=user,
        watch=watch,
        interval=interval,
        no_sync=no_sync,
        quiet=quiet,
        as_json=as_json,
    )


@cli.command()
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
@_SINCE
@_UNTIL
@_TZ
@_SOURCE
@_PROJECT
@click.option("--model", "models", multiple=True, metavar="NAME", help="Only this model.")
@click.option(
    "--without-usage",
    is_flag=True,
    help="sessions: also the sessions that made no request (counted apart; docs/counting.md).",
)
@click.option("--no-sync", is_flag=True, help="Export the ledger without syncing first.")
def export(**options: Any) -> None:
    """Write a table of the ledger as CSV, JSON Lines or Parquet (an empty cell or null is
    unknown: not reported, or not priced)."""
    from tokentrail import commands

    commands.export(**options)


def blocks_options(func: F) -> F:
    """Options shared by ``blocks`` and ``live``."""
    options = [
        database_option,
        click.option(
            "--tz", type=TIME_ZONE, help="IANA time zone for times (default: the local zone)."
        ),
        _SOURCE,
        _PROJECT,
        click.option("--no-sync", is_flag=True, help="Read the ledger without syncing first."),
    ]
    return _apply(func, options)


@cli.command()
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
def blocks(**options: Any) -> None:
    """5-hour blocks: tokens, cost, burn rate and projection, with official limits (Codex)."""
    from tokentrail import commands

    commands.blocks(**options)


@cli.command()
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
def live(**options: Any) -> None:
    """A live terminal view: active block, today's spend, burn rate and projection."""
    from tokentrail import commands

    commands.live(**options)


@cli.command()
@database_option
@click.option(
    "--fields",
    metavar="LIST",
    help="What to show, comma-separated: model, session, today, block, agent_cost (default: "
    "the config file's [statusline] fields, else session,today,block).",
)
def statusline(database: str | None, fields: str | None) -> None:
    """One line for Claude Code's status bar: reads its status JSON on stdin, catches up this
    session's transcript, prints this session's cost, today's spend and the active block.

    Set in ~/.claude/settings.json: "statusLine": {"type": "command", "command": "tokentrail
    statusline"}. Never waits on a busy ledger; an error is a one-line message, exit status 0.
    """
    from tokentrail import statusline as status

    click.echo(status.main(sys.stdin.buffer.read(), database=database, fields=fields))


@cli.group("import")
def import_group() -> None:
    """Record usage from a file an agent's service lets you download."""


@import_group.command("cursor")
@database_option
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE...",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def import_cursor(database: str | None, files: tuple[Path, ...], as_json: bool) -> None:
    """Record the requests of a usage export downloaded from Cursor's dashboard (CSV, or
    its JSON), with Cursor's cost kept as the reported cost. Importing the same or an
    overlapping export again records nothing twice."""
    from tokentrail import commands

    commands.import_cursor(database=database, files=files, as_json=as_json)


@cli.group()
def db() -> None:
    """Where the ledger is and what it holds."""


@db.command("path")
@database_option
def db_path(database: str | None) -> None:
    """Print the ledger's location."""
    from tokentrail import commands

    commands.db_path(database=database)


@db.command("status")
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def db_status(database: str | None, as_json: bool) -> None:
    """Schema version, counts and size of the ledger."""
    from tokentrail import commands

    commands.db_status(database=database, as_json=as_json)


@db.command("backup")
@database_option
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(database: str | None, destination: Path) -> None:
    """Copy the ledger to DESTINATION while it stays usable (SQLite online backup)."""
    from tokentrail import commands

    commands.db_backup(database=database, destination=destination)


@db.command("check")
@database_option
def db_check(database: str | None) -> None:
    """Check the ledger's file for damage (SQLite's integrity check); exit 1 if damaged."""
    from tokentrail import commands

    commands.db_check(database=database)


@db.command("retract")
@database_option
@click.argument("keys", nargs=-1, required=True, metavar="EVENT_KEY...")
@click.option("--reason", required=True, help="Why: kept with the retracted event.")
def db_retract(database: str | None, keys: tuple[str, ...], reason: str) -> None:
    """Take events out of every report (e.g. spend forged through the API), keeping them in
    the ledger's retractions; a re-sync or a resent batch never records them again. EVENT_KEY
    is SOURCE:EVENT_ID (sdk:... for events sent to the API)."""
    from tokentrail import commands

    commands.db_retract(database=database, keys=keys, reason=reason)


def main() -> None:
    # a closed pipe (e.g. `tokentrail daily | head`) should end quietly
    try:
        cli(prog_name="tokentrail")
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
