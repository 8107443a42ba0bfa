"""Bodies of ``tokentrail tools`` and ``tokentrail efficiency`` (options parsed in cli.py)."""

from __future__ import annotations

import click

from tokentrail.commands import _check_format, _console, build_query, open_ledger, sync_first
from tokentrail.errors import OptionError


def tools(
    *,
    database: str | None,
    session_key: str | None,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    by_session: bool,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Tool calls per tool: calls, failures, average and p95 duration."""
    from tokentrail.insights.tools import tool_usage
    from tokentrail.output import print_rows, render_csv, render_json

    _check_format(as_json, as_csv)
    query = build_query(since, until, tz, sources, project, False)
    with open_ledger(database, sources=query.sources) as ledger:
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
        console=_console(),
        empty="No tool calls recorded for this selection (tool calls are read from Claude "
        "Code, Codex and Gemini CLI logs).",
    )


def efficiency(
    *,
    database: str | None,
    by: str,
    since: str | None,
    until: str | None,
    tz: str | None,
    sources: tuple[str, ...],
    project: str | None,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Lines changed, cost and tokens per changed line, cache efficiency."""
    from tokentrail.insights.efficiency import EFFICIENCY_BY, efficiency_report
    from tokentrail.output import print_rows, render_csv, render_json

    _check_format(as_json, as_csv)
    chosen = next((b for b in EFFICIENCY_BY if b == by), None)
    if chosen is None:
        raise OptionError(f"--by {by!r}: use one of {', '.join(EFFICIENCY_BY)}")
    query = build_query(since, until, tz, sources, project, False)
    with open_ledger(database, sources=query.sources) as ledger:
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
        console=_console(),
        empty="No usage recorded for this selection.",
    )
