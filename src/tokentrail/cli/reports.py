"""``daily``, ``weekly``, ``monthly`` and ``session``: usage and cost per period or session.

Asked again with ``--no-sync`` of a ledger that has not changed, a report prints the answer the
ledger keeps for it (:mod:`tokentrail.cached_reports`) before anything else is imported.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from tokentrail.cli.group import TokentrailCommand
from tokentrail.cli.options import Scope, report_options
from tokentrail.errors import OptionError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.console import Console

    from tokentrail.ledger import Ledger
    from tokentrail.reports.periods import Report
    from tokentrail.reports.query import ReportQuery
    from tokentrail.sync import SyncSummary


class ReportOptions(Scope):
    """A report's options as the command line gave them (after click made each value
    canonical): what the answer, and the key it is kept under, depend on."""

    breakdown: bool
    by: str | None
    machines: tuple[str, ...]
    users: tuple[str, ...]
    as_json: bool
    as_csv: bool


def report_command(kind: str, help_text: str) -> click.Command:
    """The command printing the ``kind`` report (each has the same options)."""

    @click.command(kind, cls=TokentrailCommand, help=help_text)
    @report_options
    def command(
        scope: Scope,
        breakdown: bool,
        machines: tuple[str, ...],
        users: tuple[str, ...],
        by: str | None,
        no_sync: bool,
        as_json: bool,
        as_csv: bool,
    ) -> None:
        options = ReportOptions(
            **scope, breakdown=breakdown, by=by, machines=machines, users=users,
            as_json=as_json, as_csv=as_csv,
        )  # fmt: skip
        if no_sync:
            # the answer the ledger keeps, if nothing changed since: without importing the rest
            from tokentrail.cached_reports import cached_answer

            answer = cached_answer(kind, options)
            if answer is not None:
                click.echo(answer, nl=False)
                return
        print_report(kind, options, no_sync=no_sync)

    return command


daily = report_command("daily", "Usage and cost per local day.")
weekly = report_command("weekly", "Usage and cost per ISO week, labelled like 2026-W19.")
monthly = report_command("monthly", "Usage and cost per month.")
session = report_command(
    "session", "One row per agent session, subagents rolled up on their parent."
)


def print_report(kind: str, options: ReportOptions, *, no_sync: bool) -> None:
    """Sync first (unless ``no_sync``), then print the report from the answer the ledger keeps
    for these options or, when it has none, computed and kept."""
    from tokentrail.cached_reports import key_for
    from tokentrail.cli.common import check_format, open_ledger
    from tokentrail.output import new_console

    as_json, as_csv = options["as_json"], options["as_csv"]
    check_format(as_json, as_csv)
    query = report_query(kind, options)
    # JSON and CSV never import rich: whether a table goes to a terminal is rich's to say
    key = key_for(kind, options, terminal=not (as_json or as_csv) and new_console().is_terminal)
    summary = None
    with open_ledger(options["database"], sources=query.sources) as ledger:
        if not no_sync:
            summary = _sync_before_report(ledger, interactive=not (as_json or as_csv))
        if summary is not None and not summary.files_found:
            key = None  # an empty answer may need the hint below, which the kept one lacks
        store = ledger.store
        marker = store.report_marker() if key is not None else None
        text = store.cached_report(key) if key is not None and marker is not None else None
        if text is None:
            result = compute_report(ledger, kind, query)
            found_nothing = summary is not None and not summary.files_found and not result.rows
            if found_nothing and summary is not None and not (as_json or as_csv):
                from tokentrail.cli.common import hint_nothing_found

                hint_nothing_found(summary.searched)
            text = render_report(result, query, as_json=as_json, as_csv=as_csv)
            if key is not None and marker is not None and text is not None:
                store.keep_report(key, marker, text)
    if text is not None:
        click.echo(text, nl=False)


def report_query(kind: str, options: ReportOptions) -> ReportQuery:
    from tokentrail.cli.common import build_query

    by = options["by"]
    query = build_query(
        options,
        options["breakdown"],
        machines=options["machines"],
        users=options["users"],
        by=by,
    )
    if kind == "session" and query.group_by not in (None, "model"):
        raise OptionError(f"--by {by} works with daily, weekly and monthly; sessions: --by model")
    return query


def _sync_before_report(ledger: Ledger, *, interactive: bool) -> SyncSummary:
    """The sync a report runs first; on a terminal, a count of the lines it could not read."""
    from tokentrail.cli.common import run_sync

    interactive = interactive and sys.stderr.isatty()
    summary = run_sync(ledger, (), show_progress=interactive)
    problems = summary.skips.total - summary.skips.counts.get("synthetic_model", 0)
    if interactive and problems:
        # <synthetic> lines are Claude Code's own notes, never billed: not a problem
        click.echo(
            f"{problems:,} log lines could not be read; run 'tokentrail sync' to see "
            "which and why.",
            err=True,
        )
    return summary


def compute_report(ledger: Ledger, kind: str, query: ReportQuery) -> Report:
    from tokentrail.reports.periods import period_report, session_report

    if kind == "session":
        from tokentrail.insights.sessions import with_summaries

        return with_summaries(ledger.store, session_report(ledger.store, query))
    if kind in ("daily", "weekly", "monthly"):
        return period_report(ledger.store, kind, query)  # type: ignore[arg-type]
    raise ValueError(f"unknown report kind {kind!r}")


def render_report(result: Report, query: ReportQuery, *, as_json: bool, as_csv: bool) -> str | None:
    """The report as printed, or None when it was printed to a terminal (a table fitted to
    its width, in colour: never kept)."""
    import io

    from tokentrail.output import new_console

    if as_json or as_csv:
        return print_any(result, as_json=as_json, as_csv=as_csv, group_by=query.breakdown_by)
    shown_on = new_console()
    buffer = None
    if not shown_on.is_terminal:
        buffer = io.StringIO()
        shown_on.file = buffer
    if query.group_by in ("machine", "user"):
        _print_team_breakdown(result, query.group_by, shown_on)
    else:
        print_any(result, as_json=False, as_csv=False, console=shown_on)
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


def print_any(
    result: Report,
    *,
    as_json: bool,
    as_csv: bool,
    group_by: str | None = None,
    console: Console | None = None,
) -> str | None:
    """JSON and CSV are returned as the text to print; a table is printed on ``console``."""
    from tokentrail.output import print_report as print_table
    from tokentrail.output import render_csv, render_json

    if as_json:
        return render_json(result.as_dict()) + "\n"
    if as_csv:
        blank = _blank_report_row(result, group_by)
        return render_csv(result.as_dict()["rows"], blank=blank)
    if console is None:
        from tokentrail.output import new_console

        console = new_console()
    print_table(result, console=console)
    return None


def _blank_report_row(result: Report, group_by: str | None) -> Mapping[str, Any]:
    """A row of the report's shape: the header of an empty CSV table."""
    from tokentrail.cli.common import zero_figures
    from tokentrail.reports.periods import PeriodRow, SessionRow

    if result.kind == "session":
        zero = zero_figures()
        session = SessionRow("", "", None, None, None, None, None, zero, zero, None, 0, ())
        return session.as_dict(result.breakdown)
    by = group_by if group_by in ("machine", "user") else None
    return PeriodRow("", None, zero_figures(), by).as_dict(result.breakdown)
