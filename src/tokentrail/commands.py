"""What each CLI command does, behind the option parsing in :mod:`tokentrail.cli`.

Each function opens the ledger through :class:`tokentrail.ledger.Ledger`, calls sync or a
report, and prints through :mod:`tokentrail.output`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tokentrail.errors import ConfigError, OptionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from tokentrail.ledger import Ledger
    from tokentrail.push import PushSummary
    from tokentrail.reports.periods import Report
    from tokentrail.reports.query import ReportQuery
    from tokentrail.store.base import Store
    from tokentrail.sync import SyncSummary


@contextmanager
def open_ledger(database: str | None, *, sources: Sequence[str] = ()) -> Iterator[Ledger]:
    """The ledger, closed afterwards; ``sources`` (the ``--source`` values) are checked
    against it first."""
    from tokentrail.ledger import Ledger

    ledger = Ledger(database)
    try:
        check_sources(ledger, sources)
        yield ledger
    finally:
        ledger.close()


def check_sources(ledger: Ledger, sources: Sequence[str]) -> None:
    """A ``--source`` that is neither an agent tokentrail reads nor the HTTP API's default
    must name usage the ledger holds (reported over HTTP or OpenTelemetry under that name):
    a typo is refused, not answered with an empty report."""
    if not sources:
        return  # without importing every source's parser just to list their names
    from tokentrail.cli_types import SourceName

    known = SourceName().known()
    unknown = [name for name in sources if name not in known]
    if not unknown:
        return
    recorded = ledger.store.group_names("source")
    missing = [name for name in unknown if name not in recorded]
    if missing:
        others = sorted(set(recorded) - set(known))
        raise OptionError(
            f"--source {missing[0]!r} is not an agent tokentrail reads "
            f"({', '.join(known)}) and no usage in the ledger was reported under that name"
            + (f" (reported names: {', '.join(others)})" if others else "")
            + "; check the spelling"
        )


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # piped or redirected: nothing to fit, so never squeeze columns into ellipses
        console = Console(stderr=stderr, highlight=False, width=max(console.width, 160))
    return console


def _check_format(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise OptionError("--json and --csv cannot be used together; choose one")


# -- sync ---------------------------------------------------------------------------------


def sync_first(ledger: Ledger, *, machine_readable: bool) -> None:
    """The sync every report runs first: a progress bar on a terminal, unless the output is
    for a program (JSON, CSV)."""
    run_sync(ledger, (), show_progress=sys.stderr.isatty() and not machine_readable)


def run_sync(ledger: Ledger, sources: Sequence[str], *, show_progress: bool) -> SyncSummary:
    from tokentrail.sync import sync as do_sync

    if not show_progress:
        return do_sync(ledger, source_names=sources)
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=_console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("Reading agent logs", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return do_sync(ledger, source_names=sources, progress=advance)


def sync(*, database: str | None, sources: Sequence[str], quiet: bool, as_json: bool) -> None:
    with open_ledger(database) as ledger:
        summary = run_sync(ledger, sources, show_progress=not quiet and sys.stderr.isatty())
    _warn_broken_links(summary.searched)
    if as_json:
        from tokentrail.output import render_json, sync_as_dict

        click.echo(render_json(sync_as_dict(summary)))
    elif not quiet:
        from tokentrail.output import sync_lines  # not imported by a quiet sync

        for line in sync_lines(summary):
            click.echo(line)


# -- reports ------------------------------------------------------------------------------


def report(
    kind: str,
    *,
    database: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    breakdown: bool,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
    machines: tuple[str, ...] = (),
    users: tuple[str, ...] = (),
    by: str | None = None,
) -> None:
    _check_format(as_json, as_csv)
    query = build_query(
        since, until, tz, sources, project, breakdown, machines=machines, users=users, by=by
    )
    if kind == "session" and query.group_by not in (None, "model"):
        raise OptionError(f"--by {by} works with daily, weekly and monthly; sessions: --by model")
    from tokentrail.cached_reports import key_for

    options = {
        "since": since, "until": until, "tz": tz, "sources": sources, "project": project,
        "breakdown": breakdown, "by": by, "machines": machines, "users": users,
        "as_json": as_json, "as_csv": as_csv,
    }  # fmt: skip
    # JSON and CSV never import rich: whether a table goes to a terminal is rich's to say
    key = key_for(kind, options, terminal=not (as_json or as_csv) and _console().is_terminal)
    summary = None
    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            interactive = sys.stderr.isatty() and not (as_json or as_csv)
            summary = run_sync(ledger, (), show_progress=interactive)
            problems = summary.skips.total - summary.skips.counts.get("synthetic_model", 0)
            if interactive and problems:
                # <synthetic> lines are Claude Code's own notes, never billed: not a problem
                click.echo(
                    f"{problems:,} log lines could not be read; run 'tokentrail sync' to see "
                    "which and why.",
                    err=True,
                )
        if summary is not None and not summary.files_found:
            key = None  # an empty answer may need the hint below, which the kept one lacks
        store = ledger.store
        marker = store.report_marker() if key is not None else None
        text = store.cached_report(key) if key is not None and marker is not None else None
        if text is None:
            result = compute_report(ledger, kind, query)
            found_nothing = summary is not None and not summary.files_found and not result.rows
            if found_nothing and summary is not None and not (as_json or as_csv):
                _hint_nothing_found(summary.searched)
            text = render_report(result, query, as_json=as_json, as_csv=as_csv)
            if key is not None and marker is not None and text is not None:
                store.keep_report(key, marker, text)
    if text is not None:
        click.echo(text, nl=False)


def render_report(result: Report, query: ReportQuery, *, as_json: bool, as_csv: bool) -> str | None:
    """The report as printed, or None when it was printed to a terminal (a table fitted to
    its width, in colour: never kept)."""
    import io

    if as_json or as_csv:
        return print_any(result, as_json=as_json, as_csv=as_csv, group_by=query.breakdown_by)
    console = _console()
    buffer = None
    if not console.is_terminal:
        buffer = io.StringIO()
        console.file = buffer
    if query.group_by in ("machine", "user"):
        _print_team_breakdown(result, query.group_by, console)
    else:
        print_any(result, as_json=False, as_csv=False, console=console)
    return buffer.getvalue() if buffer is not None else None


def _print_team_breakdown(result: Report, by: str, console: Console) -> None:
    """A period report broken down by machine or user, as a table."""
    from tokentrail.output import print_rows

    data = result.as_dict()
    rows = [*data["rows"], {"period": "Total", by: None, **data["totals"]}]
    columns = [
        ("Period", "period"),
        (by.capitalize(), by),
        ("Reqs", "requests"),
        ("Input", "input_tokens"),
        ("Output", "output_tokens"),
        ("Total", "total_tokens"),
        ("Cost", "cost_usd"),
    ]
    print_rows(
        f"{result.kind.capitalize()} usage by {by} ({result.timezone})",
        rows if data["rows"] else [],
        columns,
        console=console,
        empty="No usage recorded for this selection.",
    )


def _warn_broken_links(searched: Sequence[str]) -> None:
    from tokentrail.sync_walk import broken_links

    for path, target in broken_links(searched):
        click.echo(
            f"{path} is a symbolic link to {target}, which does not exist: the agent logs "
            "under it cannot be read. Repair the link (or mount its target), or point "
            "tokentrail at the logs (see README: Where tokentrail looks).",
            err=True,
        )


def _hint_nothing_found(searched: Sequence[str]) -> None:
    _warn_broken_links(searched)
    click.echo("No agent logs were found. tokentrail looked in:", err=True)
    for folder in searched:
        click.echo(f"  {folder}", err=True)
    click.echo(
        "If your agents keep their logs elsewhere, set CLAUDE_CONFIG_DIR / CODEX_HOME / "
        "GEMINI_CLI_HOME, or list the folders under [sources.<agent>] paths in the config "
        "file (see README: Where tokentrail looks).",
        err=True,
    )


def build_query(
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    breakdown: bool,
    *,
    machines: tuple[str, ...] = (),
    users: tuple[str, ...] = (),
    by: str | None = None,
) -> ReportQuery:
    from tokentrail.periods import parse_day, resolve_timezone
    from tokentrail.reports.query import ReportQuery
    from tokentrail.store.base import GROUP_BY

    if breakdown and by not in (None, "model"):
        raise OptionError(f"--breakdown is --by model; it cannot be combined with --by {by}")
    group = next((g for g in GROUP_BY if g == by), None)

    zone, zone_name = resolve_timezone(tz)
    since_day = parse_day(since, "--since") if since else None
    until_day = parse_day(until, "--until") if until else None
    if since_day and until_day and since_day > until_day:
        raise OptionError(f"--since {since_day} is after --until {until_day}; swap them")
    return ReportQuery(
        zone=zone,
        zone_name=zone_name,
        since=since_day,
        until=until_day,
        sources=sources,
        project=project,
        breakdown=breakdown or group == "model",
        machines=tuple(machines),
        users=tuple(users),
        breakdown_by=group,
    )


def compute_report(ledger: Ledger, kind: str, query: ReportQuery) -> Report:
    from tokentrail.reports.periods import period_report, session_report

    if kind == "session":
        from tokentrail.insights.sessions import with_summaries

        return with_summaries(ledger.store, session_report(ledger.store, query))
    if kind in ("daily", "weekly", "monthly"):
        return period_report(ledger.store, kind, query)  # type: ignore[arg-type]
    raise ValueError(f"unknown report kind {kind!r}")


def print_any(
    result: Report,
    *,
    as_json: bool,
    as_csv: bool,
    group_by: str | None = None,
    console: Console | None = None,
) -> str | None:
    """JSON and CSV are returned as the text to print; a table is printed on ``console``."""
    from tokentrail.output import print_report, render_csv, render_json

    if as_json:
        return render_json(result.as_dict()) + "\n"
    if as_csv:
        blank = _blank_report_row(result, group_by)
        return render_csv(result.as_dict()["rows"], blank=blank)
    print_report(result, console=console or _console())
    return None


# -- the header of an empty CSV table: a row of each table's shape -------------------------


def _zero_figures() -> Any:
    from tokentrail.figures import UsageFigures
    from tokentrail.store.base import Totals

    return UsageFigures.from_totals(Totals.zero())


def _blank_report_row(result: Report, group_by: str | None) -> dict[str, Any]:
    from tokentrail.reports.periods import PeriodRow, SessionRow

    if result.kind == "session":
        zero = _zero_figures()
        session = SessionRow("", "", None, None, None, None, None, zero, zero, None, 0, ())
        return session.as_dict(result.breakdown)
    by = group_by if group_by in ("machine", "user") else None
    return PeriodRow("", None, _zero_figures(), by).as_dict(result.breakdown)


def _blank_budget_row() -> dict[str, Any]:
    from datetime import UTC, datetime

    from tokentrail.budgets import BudgetRow
    from tokentrail.config import Budget

    epoch = datetime.fromtimestamp(0, UTC)
    row = BudgetRow(
        Budget("", "month", 1.0), "", epoch, epoch, 0.0, 0, 0, (), 0.0, 0.0, 0.0, 0.0,
        None, None, 0, None, None, "ok", "ok",
    )  # fmt: skip
    return _budget_csv_row(row.as_dict())


def _blank_run_row() -> dict[str, Any]:
    from datetime import UTC, datetime

    from tokentrail.reports.runs import RunRow

    epoch = datetime.fromtimestamp(0, UTC)
    return RunRow("", "", epoch, None, "", None, 0, 0, None, _zero_figures()).as_dict()


def _blank_session_list_row() -> dict[str, Any]:
    from tokentrail.reports.sessions import SessionListRow
    from tokentrail.usage import Session

    return {**SessionListRow(Session("", ""), _zero_figures(), None).as_dict(), "summary": None}


# -- budgets ------------------------------------------------------------------------------


def budget(
    *,
    database: str | None,
    tz: str | None,
    check: bool,
    webhook: str | None,
    at: str | None,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Where each configured budget stands; with ``check``, exit by the worst level and post
    to the webhooks (exit codes in docs/insights.md)."""
    from tokentrail.budgets import budget_report, notify
    from tokentrail.output import render_csv, render_json
    from tokentrail.periods import resolve_timezone

    _check_format(as_json, as_csv)
    if webhook is not None and not check:
        raise OptionError("--webhook posts only with --check; add --check")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise OptionError(f"--webhook {webhook!r} must be an http:// or https:// URL")
    zone, zone_name = resolve_timezone(tz)
    moment = _parse_moment(at) if at else None
    with open_ledger(database) as ledger:
        budgets = ledger.config.budgets
        if budgets and not no_sync:
            sync_first(ledger, machine_readable=as_json or as_csv)
        with ledger.reading() as store:
            result = budget_report(store, budgets, zone, zone_name, now=moment)
        config_path = ledger.config.path
    data = result.as_dict()
    if as_json:
        click.echo(render_json(data))
    elif as_csv:
        rows = [_budget_csv_row(row) for row in data["rows"]]
        click.echo(render_csv(rows, blank=_blank_budget_row()), nl=False)
    elif not budgets:
        from tokentrail.config import default_config_path

        click.echo(
            f"No budgets configured. Add one to {config_path or default_config_path()}, e.g.\n\n"
            '[[budgets]]\nperiod = "month"   # day, week or month\namount = 200.0     # USD\n',
        )
    else:
        _print_budgets(result)
    if not check:
        return
    for row in result.rows:
        if row.status != "ok":
            click.echo(row.message(), err=True)
    failed = [d for d in notify(result, webhook) if not d.ok]
    for delivery in failed:
        click.echo(
            f"budget {delivery.budget!r}: the webhook to {delivery.target} failed: "
            f"{delivery.error}",
            err=True,
        )
    code = {"ok": 0, "soft": 1, "hard": 2}[result.status]
    click.get_current_context().exit(3 if failed else code)


def _parse_moment(value: str) -> Any:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OptionError(
            f"--at {value!r} is not a moment; use ISO 8601 like 2026-05-04T18:00:00+02:00"
        ) from None
    if moment.tzinfo is None:
        from tokentrail.periods import resolve_timezone

        moment = moment.replace(tzinfo=resolve_timezone(None)[0])
    return moment


def _budget_csv_row(row: dict[str, Any]) -> dict[str, Any]:
    models = row["unpriced_models"]
    return {**row, "unpriced_models": ";".join(m["model"] for m in models)}


def _print_budgets(result: Any) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from tokentrail.output import PRICE_ADVICE, format_usd

    colour = {"ok": "green", "soft": "yellow", "hard": "red"}
    table = Table(
        title=f"Budgets at {result.at.strftime('%Y-%m-%d %H:%M')} ({result.timezone})",
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
    )
    for header in ("Budget", "Period", "Spent", "Amount", "Used", "Burn/day", "Projected"):
        table.add_column(header, justify="left" if header in ("Budget", "Period") else "right")
    table.add_column("Runs out")
    table.add_column("Status")
    for row in result.rows:
        spent = format_usd(row.spent_usd) + ("" if row.complete else "+?")
        projected = format_usd(row.projected_usd)
        if row.projected_low_usd is not None and row.projected_high_usd is not None:
            projected += (
                f" ({format_usd(row.projected_low_usd)}–{format_usd(row.projected_high_usd)})"
            )
        runs_out = _runs_out_cell(row)
        table.add_row(
            escape(row.budget.name),
            row.label,
            spent,
            format_usd(row.budget.amount),
            f"{row.spent_share:.0%}",
            format_usd(row.burn_usd_per_day),
            projected,
            runs_out,
            f"[{colour[row.status]}]{row.status}[/]",
        )
    console = _console()
    console.print(table)
    for row in result.rows:
        if not row.complete:
            names = ", ".join(f"{m.model} ({m.requests:,} requests)" for m in row.unpriced_models)
            console.print(
                f"[yellow]{escape(row.budget.name)}: spend is at least the amount shown;[/yellow] "
                + escape(
                    f"{row.unpriced_requests:,} requests have no known price: {names}. "
                    + PRICE_ADVICE
                )
            )
        if not row.requests:
            console.print(
                f"{escape(row.budget.name)}: no spend this {row.budget.period} yet ($0 so far), "
                "so nothing to project from.",
                style="dim",
            )
        elif row.projected_low_usd is None:
            console.print(
                f"{escape(row.budget.name)}: no range for the projection yet: it needs the "
                "spend of at least 2 days before today (of the last 14); this scope has "
                f"{row.history_days}.",
                style="dim",
            )


def _runs_out_cell(row: Any) -> str:
    """When the budget runs out; once past it, since when and by how much."""
    from tokentrail.output import MISSING, format_usd

    if row.status == "hard":
        since = f" since {row.reached_on.isoformat()}" if row.reached_on else ""
        return f"past{since}, {format_usd(row.over_usd)} over"
    return row.runs_out_at.strftime("%Y-%m-%d %H:%M") if row.runs_out_at else MISSING


# -- orchestrators ------------------------------------------------------------------------


def runs(*, database: str | None, limit: int | None, as_json: bool, as_csv: bool) -> None:
    from tokentrail.output import print_rows, render_csv, render_json
    from tokentrail.reports.runs import runs_report

    _check_format(as_json, as_csv)
    with open_ledger(database) as ledger:
        rows = [row.as_dict() for row in runs_report(ledger.store, limit)]
    if as_json:
        click.echo(render_json({"rows": rows}))
    elif as_csv:
        click.echo(render_csv(rows, blank=_blank_run_row()), nl=False)
    else:
        print_rows("Runs", rows, RUN_COLUMNS, console=_console(), empty="No runs recorded yet.")


def sessions(
    *,
    database: str | None,
    sources: tuple[str, ...],
    project: str | None,
    limit: int,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
    summaries: bool = False,
) -> None:
    from tokentrail.insights.sessions import list_summaries
    from tokentrail.output import print_rows, render_csv, render_json
    from tokentrail.reports.sessions import recent_sessions

    _check_format(as_json, as_csv)
    query = build_query(None, None, None, sources, project, False)
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
            "Sessions", rows, SESSION_COLUMNS, console=_console(), empty="No sessions recorded."
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


# -- reprice and db -----------------------------------------------------------------------


def reprice(*, database: str | None, dry_run: bool, as_json: bool, as_csv: bool) -> None:
    from tokentrail.output import format_usd, render_csv, render_json

    _check_format(as_json, as_csv)
    with open_ledger(database) as ledger:
        changes = ledger.reprice(dry_run=dry_run)
    rows = [_reprice_row(c) for c in changes]
    if as_json:
        click.echo(render_json({"rows": rows, "dry_run": dry_run}))
        return
    if as_csv:
        from tokentrail.ledger import RepriceChange

        blank = _reprice_row(RepriceChange("", 0, 0, 0, 0, 0))
        click.echo(render_csv(rows, blank=blank), nl=False)
        return
    if not rows:
        click.echo("All stored costs already match the current prices.")
        return
    verb = "Would change" if dry_run else "Changed"
    for row in rows:
        click.echo(
            f"{verb} {row['requests']:,} requests of {row['model']}: "
            f"{format_usd(row['old_cost_usd'])} -> {format_usd(row['new_cost_usd'])} "
            f"(unpriced {row['unpriced_before']:,} -> {row['unpriced_after']:,})"
        )
    if dry_run:
        click.echo("Nothing was written (--dry-run).")


def _reprice_row(change: Any) -> dict[str, Any]:
    return {
        "model": change.model,
        "requests": change.requests,
        "old_cost_usd": change.old_micro / 1_000_000,
        "new_cost_usd": change.new_micro / 1_000_000,
        "difference_usd": (change.new_micro - change.old_micro) / 1_000_000,
        "unpriced_before": change.old_unpriced,
        "unpriced_after": change.new_unpriced,
    }


# -- serve --------------------------------------------------------------------------------


def serve(
    *,
    database: str | None,
    host: str,
    port: int,
    token: str | None,
    otlp_port: int | None = None,
    keep_syncing: bool = True,
    open_browser: bool = False,
) -> None:
    from tokentrail.server.auth import allowed_hosts, check_bind

    token = token or None
    check_bind(host, token)
    hosts = allowed_hosts(host)
    import asyncio

    import uvicorn

    from tokentrail.server.app import create_app
    from tokentrail.server.otlp_routes import create_otlp_app, serve_together
    from tokentrail.watch import BackgroundSync

    with open_ledger(database) as ledger:
        app = create_app(ledger, token=token, hosts=hosts)
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{port}"
        click.echo(
            f"tokentrail dashboard on {base}/ and API on {base}/api/v1 (ledger "
            f"{ledger.location}); endpoints at {base}/docs; OpenTelemetry at {base}/v1/logs"
            + (f" and on port {otlp_port}" if otlp_port else "")
            + (
                "; bearer token required (browsers: open the page once with ?token=...)"
                if token
                else ""
            )
            + ("" if keep_syncing else "; not syncing the agents' logs (--no-sync)"),
            err=True,
        )
        servers = [
            uvicorn.Server(
                uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False)
            )
        ]
        if otlp_port:
            otlp_app = create_otlp_app(ledger, token=token, hosts=hosts)
            config = uvicorn.Config(
                otlp_app, host=host, port=otlp_port, log_level="info", access_log=False
            )
            servers.append(uvicorn.Server(config))
        syncing = BackgroundSync(ledger) if keep_syncing else None
        if syncing is not None:
            syncing.start()
        if open_browser:
            import webbrowser

            threading.Timer(1.0, webbrowser.open, args=(f"{base}/",)).start()
        try:
            asyncio.run(serve_together(*servers))
        finally:
            if syncing is not None:
                syncing.stop()


# -- OpenTelemetry ------------------------------------------------------------------------


def otel_env(*, agent: str, endpoint: str, token: str | None) -> None:
    from tokentrail.otel_env import agent_commands, snippet

    if agent not in agent_commands():
        known = ", ".join(agent_commands())
        raise ConfigError(f"unknown agent {agent!r}; choose one of {known}")
    click.echo(snippet(agent, endpoint, token), nl=False)


def reconcile(
    *,
    database: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: Sequence[str],
    as_json: bool,
) -> None:
    from tokentrail.ingest import InvalidUsage
    from tokentrail.reports.reconciliation import reconciliation_report
    from tokentrail.server.otlp_routes import reconcile_query

    try:
        query = reconcile_query(tz=tz, since=since, until=until, sources=list(sources))
    except InvalidUsage as error:
        raise OptionError(f"--{error.field}: {error.message}") from None
    with open_ledger(database, sources=sources) as ledger, ledger.reading() as store:
        report = reconciliation_report(store, query)
    if as_json:
        import orjson

        click.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    _print_reconciliation(report)


def _print_reconciliation(report: Any) -> None:
    from rich.table import Table

    def n(value: int | float | None) -> str:
        return "—" if value is None else f"{value:,}"

    def usd(value: float | None) -> str:
        return "—" if value is None else f"${value:,.4f}"

    console = _console()
    if not report.rows:
        console.print(
            f"Nothing recorded from {report.since} to {report.until} ({report.timezone})."
        )
        return
    table = Table(title=f"Reconciliation {report.since} to {report.until} ({report.timezone})")
    for column in ("Day", "Source", "Ledger", "Logs", "OTLP", "Metrics", "Both", "Only OTLP"):
        table.add_column(column, justify="left" if column in ("Day", "Source") else "right")
    for row in report.rows:
        table.add_row(
            row.period,
            row.source,
            f"{n(row.ledger.requests)} req\n{n(row.ledger.tokens)} tok\n{usd(row.ledger.cost_usd)}",
            f"{n(row.logs.requests)} req\n{n(row.logs.tokens)} tok\n{usd(row.logs.cost_usd)}",
            f"{n(row.otlp.requests)} req\n{n(row.otlp.tokens)} tok\n"
            f"{usd(row.otlp.reported_cost_usd)} rep.",
            f"{n(row.metrics.tokens)} tok\n{usd(row.metrics.cost_usd)}",
            n(row.both),
            n(row.only_otlp),
        )
    console.print(table)
    for row in report.rows:
        for note in row.notes:
            console.print(f"{row.period} {row.source}: {note}")


# -- push ---------------------------------------------------------------------------------


def push(
    *,
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
    import time

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


def db_path(*, database: str | None) -> None:
    from tokentrail.config import load_config, resolve_database
    from tokentrail.store.postgres import redact_url

    location = resolve_database(database, load_config())
    click.echo(redact_url(location) if "://" in location else location)


def db_status(*, database: str | None, as_json: bool) -> None:
    from tokentrail.output import render_json
    from tokentrail.reports.counting import session_counts
    from tokentrail.store.base import Filters

    with open_ledger(database) as ledger:
        status = ledger.store.status()
        counts = session_counts(ledger.store, Filters())
    data = {
        "location": status.location,
        "schema_version": status.schema_version,
        "migrations": list(status.migrations),
        "events": status.events,
        **counts.as_dict(),
        "session_records": status.sessions,
        "files": status.files,
        "first_event": status.first_event.isoformat() if status.first_event else None,
        "last_event": status.last_event.isoformat() if status.last_event else None,
        "size_bytes": status.size_bytes,
        "retracted_events": status.retracted,
    }
    if as_json:
        click.echo(render_json(data))
        return
    for key, value in data.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        click.echo(f"{key.replace('_', ' ')}: {'—' if shown is None else shown}")


def db_check(*, database: str | None) -> None:
    from tokentrail.config import load_config, resolve_database
    from tokentrail.errors import LedgerDamaged
    from tokentrail.store.base import DAMAGED_ADVICE

    try:
        with open_ledger(database) as ledger:
            location = ledger.location
            problems = ledger.store.check()
    except LedgerDamaged:  # too damaged to open as a ledger: check the file itself
        from tokentrail.store.sqlite import check_file

        location = resolve_database(database, load_config())
        problems = check_file(Path(location)) or ["the file cannot be opened as a ledger"]
    if not problems:
        click.echo(f"ok: no damage found in {location}")
        return
    for problem in problems[:20]:
        click.echo(problem)
    if len(problems) > 20:
        click.echo(f"... and {len(problems) - 20:,} more")
    click.echo(f"The ledger {location} is damaged. To recover: {DAMAGED_ADVICE}.", err=True)
    sys.exit(1)


def import_cursor(*, database: str | None, files: Sequence[Path], as_json: bool) -> None:
    """``tokentrail import cursor FILE...``: every file is read before anything is recorded,
    so a file that cannot be read records nothing."""
    from tokentrail.agents.cursor.reader import import_export
    from tokentrail.output import render_json
    from tokentrail.usage import SkipSummary

    results = []
    for path in files:
        try:
            results.append(import_export(str(path)))
        except OSError as exc:
            raise ConfigError(
                f"cannot read the Cursor export {path}: {exc.strerror or exc}; download it "
                "again from Cursor's dashboard (Settings, Usage, Export) and name that file"
            ) from exc
    skips = SkipSummary()
    for result in results:
        for skip in result.skips:
            skips.add(skip)
    events = [event for result in results for event in result.events]
    if not events and skips.counts.get("not_a_cursor_export"):
        raise ConfigError(
            f"{', '.join(str(f) for f in files)}: not a Cursor usage export (no Date and Model "
            "columns, or no usage events); export it from Cursor's dashboard as CSV or JSON"
        )
    with open_ledger(database) as ledger:
        outcome = ledger.record_batch(
            [e if e.machine is not None else e.evolve(machine=ledger.machine) for e in events]
        )
    summary = {
        "files": len(files),
        "requests_read": len(events),
        "new": outcome.created,
        "updated": outcome.updated,
        "already_recorded": outcome.duplicates,
        "skipped": {
            reason: {"count": count, "examples": skips.examples.get(reason, [])}
            for reason, count in sorted(skips.counts.items())
        },
    }
    if as_json:
        click.echo(render_json(summary))
        return
    click.echo(
        f"Read {len(events):,} Cursor requests from {len(files):,} file(s): {outcome.created:,} "
        f"new, {outcome.updated:,} updated, {outcome.duplicates:,} already recorded."
    )
    for reason, count in sorted(skips.counts.items()):
        examples = ", ".join(skips.examples.get(reason, []))
        click.echo(f"  skipped {reason}: {count:,} (e.g. {examples})")


def db_retract(*, database: str | None, keys: Sequence[str], reason: str) -> None:
    with open_ledger(database) as ledger:
        done = ledger.retract(keys, reason)
        with ledger.reading() as store:
            status = store.status()
    for key in done:
        click.echo(f"Retracted {key}: no report counts it, and it is never recorded again.")
    missing = [key for key in dict.fromkeys(keys) if key not in done]
    if missing:
        raise ConfigError(
            f"no recorded event has the key {', '.join(repr(k) for k in missing)} (or it was "
            "retracted already); a key is SOURCE:EVENT_ID, e.g. sdk:msg_01XFD... for an event "
            "sent to the API"
        )
    click.echo(f"{status.retracted:,} retracted events in {ledger.location}.")


def db_backup(*, database: str | None, destination: Path) -> None:
    from tokentrail.errors import LedgerDamaged

    try:
        with open_ledger(database) as ledger:
            location = ledger.location
            ledger.store.backup(destination)
    except LedgerDamaged:  # too damaged to open as a ledger: copy the file's pages as they are
        from tokentrail.config import load_config, resolve_database
        from tokentrail.store.sqlite import backup_file

        location = resolve_database(database, load_config())
        backup_file(Path(location), destination)
    click.echo(f"Backed up {location} to {destination}")


# -- export -------------------------------------------------------------------------------


def export(
    *,
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
    no_sync: bool,
    without_usage: bool = False,
) -> None:
    from tokentrail.export import table, write

    if fmt == "parquet" and output is None:
        raise OptionError("--format parquet writes a binary file: give one with -o/--output")
    query = build_query(since, until, tz, sources, project, False)
    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            run_sync(ledger, (), show_progress=sys.stderr.isatty() and output is not None)
        exported = table(ledger, what, query, models=models, without_usage=without_usage)
        assert exported is not None  # only a session's requests can be missing
        rows = write(exported, fmt, output if output is not None else sys.stdout.buffer)
    if output is not None:
        click.echo(f"Wrote {rows:,} {what} rows to {output} ({fmt}).", err=True)


# -- 5-hour blocks and the live view --------------------------------------------------------


def blocks_query(
    *,
    since: str | None,
    tz: str | None,
    until: str | None = None,
    sources: tuple[str, ...],
    project: str | None,
    active: bool,
    token_limit: str | None,
) -> Any:
    from datetime import timedelta

    from tokentrail.blocks import BlocksQuery
    from tokentrail.periods import local_midnight_ms, parse_day, resolve_timezone

    zone, zone_name = resolve_timezone(tz)
    since_day = parse_day(since, "--since") if since else None
    until_day = parse_day(until, "--until") if until else None
    if since_day and until_day and since_day > until_day:
        raise OptionError(f"--since {since_day} is after --until {until_day}; swap them")
    limit: int | None = None
    if token_limit is not None and token_limit != "max":
        try:
            limit = int(token_limit.replace(",", "").replace("_", ""))
        except ValueError:
            limit = 0
        if limit <= 0:
            raise OptionError(
                f"--token-limit {token_limit!r} is not a positive whole number of tokens; "
                "give one (e.g. 5000000) or 'max' (the largest block listed)"
            )
    return BlocksQuery(
        zone=zone,
        zone_name=zone_name,
        since_ms=local_midnight_ms(since_day, zone) if since_day else None,
        until_ms=local_midnight_ms(until_day + timedelta(days=1), zone) if until_day else None,
        active_only=active,
        sources=tuple(sources),
        project=project,
        token_limit=limit,
        token_limit_max=token_limit == "max",
    )


def blocks(
    *,
    database: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    active: bool,
    live: bool,
    token_limit: str | None,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    from tokentrail.blocks import blocks_report

    _check_format(as_json, as_csv)
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
    report = quick_blocks(database, query) if no_sync else None
    if report is None:
        with open_ledger(database, sources=query.sources) as ledger:
            if not no_sync:
                sync_first(ledger, machine_readable=as_json or as_csv)
            report = blocks_report(ledger.store, query)
    if as_json:
        from tokentrail.output import render_json

        click.echo(render_json(report.as_dict()))
    elif as_csv:
        from tokentrail.output import render_csv

        click.echo(render_csv(report.csv_rows(), blank=report.blank_csv_row()), nl=False)
    else:
        from tokentrail.blocks_view import print_blocks

        print_blocks(report, console=_console())


def quick_blocks(database: str | None, query: Any) -> Any:
    """The blocks from the quick reader of a SQLite ledger (``--no-sync``: nothing to write),
    without importing the ledger, the store's write side or the pricing; None when the ledger
    cannot be read that way (a team ledger, a ledger to create or migrate) or a ``--source``
    has to be checked against it: the full way then."""
    if query.sources:
        return None
    from tokentrail.blocks import blocks_report
    from tokentrail.cached_reports import ledger_file
    from tokentrail.store.quick import NotQuick, QuickReader

    location = ledger_file(database)
    if location is None:
        return None
    try:
        with QuickReader(location) as reader:
            return blocks_report(reader, query)
    except NotQuick:
        return None


def live(
    *,
    database: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    no_sync: bool,
    exit_after: float | None,
    refresh: float,
) -> None:
    query = blocks_query(
        since=None, tz=tz, sources=sources, project=project, active=True, token_limit=None
    )
    run_live_view(
        database=database, query=query, no_sync=no_sync, exit_after=exit_after, refresh=refresh
    )


def run_live_view(
    *,
    database: str | None,
    query: Any,
    no_sync: bool,
    exit_after: float | None,
    refresh: float = 1.0,
) -> None:
    from tokentrail.live import run_live

    with open_ledger(database, sources=query.sources) as ledger:
        if not no_sync:
            # the first sync may be long (a cold ledger): with a progress bar, on every core
            run_sync(ledger, (), show_progress=sys.stderr.isatty())
        run_live(ledger, query, console=_console(), refresh_s=refresh, exit_after_s=exit_after)
