"""``tools`` and ``efficiency``: what the tool calls and the changed lines cost
(docs/insights.md)."""

from __future__ import annotations

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import Scope, insight_options
from tokentrail.errors import OptionError


@click.command(cls=TokentrailCommand)
@insight_options
@click.option("--session", "session_key", metavar="KEY", help="Only this session's calls.")
@click.option("--by-session", is_flag=True, help="One row per session and tool.")
def tools(
    scope: Scope,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
    session_key: str | None,
    by_session: bool,
) -> None:
    """Tool calls per tool: calls, failures, average and p95 duration (docs/insights.md)."""
    from tokentrail.cli.common import build_query, check_format, open_ledger, sync_first
    from tokentrail.insights.tools import tool_usage
    from tokentrail.output import new_console, print_rows, render_csv, render_json

    check_format(as_json, as_csv)
    query = build_query(scope)
    with open_ledger(scope["database"], sources=query.sources) as ledger:
        if not no_sync:
            sync_first(ledger, machine_readable=as_json or as_csv)
        with ledger.reading() as store:
            result = tool_usage(
                store,
                query.filters(),
                session_keys=(session_key,) if session_key else (),
                by_session=by_session,
            )
    data = result.as_dict()
    if as_json:
        click.echo(render_json(data))
        return
    if as_csv:
        click.echo(render_csv(data["rows"], blank=data["totals"]), nl=False)
        return
    columns = [
        ("Tool", "tool_name"),
        *([("Session", "session_key")] if by_session else []),
        ("Calls", "calls"),
        ("Failed", "failures"),
        ("Avg s", "avg_duration_seconds"),
        ("p95 s", "p95_duration_seconds"),
    ]
    rows = [*data["rows"], {**data["totals"], "tool_name": "Total"}] if data["rows"] else []
    title = f"Tool calls of session {session_key}" if session_key else "Tool calls"
    print_rows(
        title,
        rows,
        columns,
        console=new_console(),
        empty="No tool calls recorded for this selection (tool calls are read from Claude "
        "Code, Codex and Gemini CLI logs).",
    )


@click.command(cls=TokentrailCommand)
@insight_options
@click.option(
    "--by",
    type=click.Choice(("session", "project", "model")),
    default="session",
    show_default=True,
    help="One row per session, project or model.",
)
def efficiency(
    scope: Scope,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
    by: str,
) -> None:
    """Lines changed, cost and tokens per changed line, cache efficiency (docs/insights.md)."""
    from tokentrail.cli.common import build_query, check_format, open_ledger, sync_first
    from tokentrail.insights.efficiency import EFFICIENCY_BY, efficiency_report
    from tokentrail.output import new_console, print_rows, render_csv, render_json

    check_format(as_json, as_csv)
    chosen = next((b for b in EFFICIENCY_BY if b == by), None)
    if chosen is None:
        raise OptionError(f"--by {by!r}: use one of {', '.join(EFFICIENCY_BY)}")
    query = build_query(scope)
    with open_ledger(scope["database"], sources=query.sources) as ledger:
        if not no_sync:
            sync_first(ledger, machine_readable=as_json or as_csv)
        with ledger.reading() as store:
            result = efficiency_report(store, query, chosen)
    data = result.as_dict()
    if as_json:
        click.echo(render_json(data))
        return
    if as_csv:
        click.echo(render_csv(data["rows"], blank={chosen: None, **data["totals"]}), nl=False)
        return
    rows = [*data["rows"], {**data["totals"], chosen: "Total"}] if data["rows"] else []
    print_rows(
        f"Efficiency by {chosen}",
        rows,
        [
            (chosen.capitalize(), chosen),
            ("Reqs", "requests"),
            ("Cost", "cost_usd"),
            ("+Lines", "lines_added"),
            ("-Lines", "lines_removed"),
            ("$/line", "cost_per_changed_line"),
            ("Tok/line", "tokens_per_changed_line"),
            ("Cache %", "cache_read_share"),
            ("Saved", "cache_savings_usd"),
        ],
        console=new_console(),
        empty="No usage recorded for this selection.",
    )
