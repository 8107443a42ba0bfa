"""``budget``: spend so far against each budget of the config file, with its own exit
statuses (0 ok, 1 soft, 2 hard, 3 a webhook failed, 4 an error)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tokentrail.cli.options import database_option, output_options
from tokentrail.cli_types import TIME_ZONE
from tokentrail.errors import OptionError, TokentrailError

if TYPE_CHECKING:
    from tokentrail.budgets import BudgetReport, BudgetRow

BUDGET_ERROR_EXIT = 4
"""Exit status of ``tokentrail budget`` when it cannot answer (bad option, configuration or
ledger): apart from the levels 1 and 2 that ``--check`` reports."""


class _BudgetError(click.ClickException):
    exit_code = BUDGET_ERROR_EXIT


class _BudgetUsageError(click.UsageError):
    exit_code = BUDGET_ERROR_EXIT


class BudgetCommand(click.Command):
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


@click.command(cls=BudgetCommand)
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
def budget(
    database: str | None,
    tz: str | None,
    check: bool,
    webhook: str | None,
    at: str | None,
    no_sync: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Spend so far against each budget in the config file ([[budgets]]), the burn rate, the
    projected end-of-period spend with a range, and when the budget runs out."""
    from tokentrail.budgets import budget_report, notify
    from tokentrail.cli.common import check_format, open_ledger, sync_first
    from tokentrail.output import render_csv, render_json
    from tokentrail.periods import resolve_timezone

    check_format(as_json, as_csv)
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


def _parse_moment(value: str) -> datetime:
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


def _blank_budget_row() -> dict[str, Any]:
    """A row of the budgets' shape: the header of an empty CSV table."""
    from datetime import UTC

    from tokentrail.budgets import BudgetRow
    from tokentrail.config import Budget

    epoch = datetime.fromtimestamp(0, UTC)
    row = BudgetRow(
        Budget("", "month", 1.0), "", epoch, epoch, 0.0, 0, 0, (), 0.0, 0.0, 0.0, 0.0,
        None, None, 0, None, None, "ok", "ok",
    )  # fmt: skip
    return _budget_csv_row(row.as_dict())


def _print_budgets(result: BudgetReport) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from tokentrail.output import format_usd, new_console

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
        table.add_row(
            escape(row.budget.name),
            row.label,
            spent,
            format_usd(row.budget.amount),
            f"{row.spent_share:.0%}",
            format_usd(row.burn_usd_per_day),
            projected,
            _runs_out_cell(row),
            f"[{colour[row.status]}]{row.status}[/]",
        )
    shown_on = new_console()
    shown_on.print(table)
    for row in result.rows:
        _print_budget_notes(row, shown_on)


def _print_budget_notes(row: BudgetRow, shown_on: Any) -> None:
    """Below the table: what a budget's figures cannot say yet, and why."""
    from rich.markup import escape

    from tokentrail.output import PRICE_ADVICE

    if not row.complete:
        names = ", ".join(f"{m.model} ({m.requests:,} requests)" for m in row.unpriced_models)
        shown_on.print(
            f"[yellow]{escape(row.budget.name)}: spend is at least the amount shown;[/yellow] "
            + escape(
                f"{row.unpriced_requests:,} requests have no known price: {names}. " + PRICE_ADVICE
            )
        )
    if not row.requests:
        shown_on.print(
            f"{escape(row.budget.name)}: no spend this {row.budget.period} yet ($0 so far), "
            "so nothing to project from.",
            style="dim",
        )
    elif row.projected_low_usd is None:
        shown_on.print(
            f"{escape(row.budget.name)}: no range for the projection yet: it needs the "
            "spend of at least 2 days before today (of the last 14); this scope has "
            f"{row.history_days}.",
            style="dim",
        )


def _runs_out_cell(row: BudgetRow) -> str:
    """When the budget runs out; once past it, since when and by how much."""
    from tokentrail.output import MISSING, format_usd

    if row.status == "hard":
        since = f" since {row.reached_on.isoformat()}" if row.reached_on else ""
        return f"past{since}, {format_usd(row.over_usd)} over"
    return row.runs_out_at.strftime("%Y-%m-%d %H:%M") if row.runs_out_at else MISSING
