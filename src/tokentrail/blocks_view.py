"""Terminal rendering of the 5-hour blocks (``tokentrail blocks``) and the live view
(``tokentrail live``): rich renderables built from :class:`tokentrail.blocks.BlocksReport`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokentrail.output import MISSING, format_duration, format_tokens, format_usd
from tokentrail.periods import local_moment

if TYPE_CHECKING:
    from rich.console import RenderableType

    from tokentrail.blocks import BlockRow, BlocksReport
    from tokentrail.ratelimits import RateLimitSnapshot
    from tokentrail.reports import UsageFigures

_WINDOW_LABELS = {"primary": "5 h window", "secondary": "weekly window"}


def _local(report: BlocksReport, ms: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if ms is None:
        return MISSING
    return local_moment(ms, report.zone).strftime(fmt)


def _cost(figures: UsageFigures) -> str:
    cost = format_usd(figures.cost_usd)
    return cost + "+?" if figures.cost_is_floor and figures.cost_usd is not None else cost


def _rate(row: BlockRow) -> str:
    rate = row.burn_rate
    if rate is None:
        return MISSING
    per_hour = format_usd(rate.cost_usd_per_hour)
    return f"{format_tokens(round(rate.tokens_per_minute))}/min · {per_hour}/h"


def _projection(row: BlockRow) -> str:
    projection = row.projection
    if projection is None:
        return MISSING
    return f"{format_tokens(projection.total_tokens)} · {format_usd(projection.cost_usd)}"


def _official(report: BlocksReport, snapshots: tuple[RateLimitSnapshot, ...] | list[Any]) -> str:
    parts = []
    for s in snapshots:
        label = _WINDOW_LABELS.get(s.window, s.window)
        parts.append(f"{s.source} {label} {s.used_percent:g}%")
    return ", ".join(parts) or MISSING


def blocks_table(report: BlocksReport) -> RenderableType:
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"5-hour blocks ({report.timezone})",
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
        collapse_padding=True,
    )
    for header, right in (
        ("Block start", False),
        ("Status", False),
        ("Reqs", True),
        ("Tokens", True),
        ("Cost", True),
        ("Burn rate", True),
        ("Projected", True),
        ("Official limit", False),
    ):
        table.add_column(header, justify="right" if right else "left", no_wrap=True)
    for row in report.rows:
        if row.idle_before_ms is not None:
            table.add_row(
                "[dim](gap)[/dim]",
                f"[dim]{format_duration(row.idle_before_ms / 1000)} idle[/dim]",
                *([""] * 6),
            )
        figures = row.figures
        if row.active:
            left = format_duration(max(row.end_ms - report.now_ms, 0) / 1000)
            status = f"[green]ACTIVE[/green] {left} left"
        else:
            status = f"ended {_local(report, row.end_ms, '%H:%M')}"
        table.add_row(
            _local(report, row.start_ms),
            status,
            f"{figures.requests:,}",
            format_tokens(figures.total_tokens),
            _cost(figures),
            _rate(row),
            _projection(row),
            _official(report, row.official),
        )
    return table


def notes(report: BlocksReport) -> list[str]:
    """The lines under the table: what is official, what is an estimate, what is unpriced."""
    lines: list[str] = []
    for s in report.rate_limits:
        label = _WINDOW_LABELS.get(s.window, s.window)
        current = s.resets_at_ms is None or s.resets_at_ms > report.now_ms
        reset = f"resets {_local(report, s.resets_at_ms)}" if s.resets_at_ms else "reset not given"
        if not current:
            reset = f"reset at {_local(report, s.resets_at_ms)} (since passed: figure is stale)"
        lines.append(
            f"Official ({s.source} {label}, as logged {_local(report, s.observed_ms)}): "
            f"{s.used_percent:g}% used, {reset}."
        )
    if any(r.projection is not None for r in report.rows):
        lines.append(
            "Projected = estimate: the active block's tokens and cost at its end if the burn "
            "rate (first to last request) holds."
        )
    for row in report.rows:
        if row.estimate is not None and row.active:
            e = row.estimate
            projected = (
                f", projected {e.projected_percent:.0f}%" if e.projected_percent is not None else ""
            )
            lines.append(
                f"Estimate: active block at {e.used_percent:.0f}% of a {e.token_limit:,}-token "
                f"limit{projected} (our count, not the provider's)."
            )
    unpriced = sorted({m.model for r in report.rows for m in r.unpriced_models})
    if unpriced:
        lines.append(
            f"Costs are at least the amount shown ('+?'): no known price for {', '.join(unpriced)}."
        )
    return lines


def print_blocks(report: BlocksReport, *, console: Any) -> None:
    from rich.markup import escape

    if not report.rows:
        console.print(
            "No active block: no request in the last 5 hours."
            if report.since_ms >= report.now_ms - 6 * 3_600_000
            else "No usage recorded for this selection."
        )
    else:
        console.print(blocks_table(report))
    for line in notes(report):
        console.print(escape(line), style="dim")


def live_screen(
    report: BlocksReport, today: UsageFigures, *, updated_ms: int, status: str
) -> RenderableType:
    """The live view: the active block, today's spend, burn rate and projection."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    active = next((r for r in report.rows if r.active), None)
    if active is None:
        grid.add_row("Active block", "none (no request in the last 5 hours)")
    else:
        figures = active.figures
        left = format_duration(max(active.end_ms - report.now_ms, 0) / 1000)
        grid.add_row(
            "Active block",
            f"{_local(report, active.start_ms, '%H:%M')} → {_local(report, active.end_ms, '%H:%M')}"
            f" ({left} left)",
        )
        grid.add_row("Requests", f"{figures.requests:,}")
        grid.add_row("Tokens", format_tokens(figures.total_tokens))
        grid.add_row("Block cost", _cost(figures))
        grid.add_row("Burn rate", _rate(active))
        grid.add_row("Projected at end", f"{_projection(active)} (estimate)")
        for s in active.official or tuple(report.rate_limits):
            label = _WINDOW_LABELS.get(s.window, s.window)
            grid.add_row(
                "Official limit",
                f"{s.source} {label}: {s.used_percent:g}% used, resets "
                f"{_local(report, s.resets_at_ms, '%H:%M')}",
            )
    grid.add_row("Today", f"{_cost(today)} · {format_tokens(today.total_tokens)} tokens")
    grid.add_row("Today requests", f"{today.requests:,}")
    footer = Text(
        f"{status} · updated {_local(report, updated_ms, '%H:%M:%S')} · Ctrl-C to quit",
        style="dim",
    )
    return Group(Panel(grid, title=f"tokentrail live ({report.timezone})"), footer)
