"""Terminal rendering of the 5-hour blocks (``tokentrail blocks``) and the live view
(``tokentrail live``): rich renderables built from :class:`tokentrail.blocks.BlocksReport`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokentrail.output import (
    MISSING,
    Column,
    format_duration,
    format_tokens,
    format_usd,
    print_fitted,
)
from tokentrail.periods import local_moment
from tokentrail.plain_output import plain_line, plain_table

if TYPE_CHECKING:
    from rich.console import RenderableType

    from tokentrail.blocks import BlockRow, BlocksReport
    from tokentrail.figures import UsageFigures
    from tokentrail.ratelimits import RateLimitSnapshot

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


def _limit_share(row: BlockRow) -> tuple[str, str]:
    """The ``% of limit`` cell and its style: red once the block is over the limit, yellow
    when only its projection is."""
    estimate = row.estimate
    if estimate is None:
        return MISSING, ""
    text = f"{estimate.used_percent:.0f}%"
    projected = estimate.projected_percent
    if projected is not None:
        text += f" → {projected:.0f}%"
    if estimate.used_percent > 100:
        return f"{text} over", "red"
    if projected is not None and projected > 100:
        return f"{text} over", "yellow"
    return text, ""


_BLOCK_COLUMNS: tuple[tuple[str, bool, int], ...] = (
    ("Block start", False, 0),
    ("Status", False, 0),
    ("Reqs", True, 4),
    ("Tokens", True, 0),
    ("Cost", True, 0),
    ("% of limit", True, 1),
    ("Burn rate", True, 3),
    ("Projected", True, 2),
    ("Official limit", False, 5),
)
"""Header, right-aligned, and drop order (a narrow terminal leaves out the highest first)."""

Cell = tuple[str, str]
"""A cell's text and its rich style ("" for none)."""


def _block_cells(report: BlocksReport, row: BlockRow) -> list[Cell]:
    if row.active:
        left = format_duration(max(row.end_ms - report.now_ms, 0) / 1000)
        status = (f"ACTIVE {left} left", "green")
    else:
        status = (f"ended {_local(report, row.end_ms, '%H:%M')}", "")
    figures = row.figures
    return [
        (_local(report, row.start_ms), ""),
        status,
        (f"{figures.requests:,}", ""),
        (format_tokens(figures.total_tokens), ""),
        (_cost(figures), ""),
        _limit_share(row),
        (_rate(row), ""),
        (_projection(row), ""),
        (_official(report, row.official), ""),
    ]


def _gap_cells(idle_ms: int) -> list[Cell]:
    """A row of its own for 5 hours or more without requests between two blocks."""
    gap = [("(gap)", "dim"), (f"{format_duration(idle_ms / 1000)} idle", "dim")]
    return gap + [("", "")] * (len(_BLOCK_COLUMNS) - len(gap))


def block_columns(report: BlocksReport) -> list[Column]:
    """The table's columns; ``% of limit`` only with a token limit (``--token-limit``)."""
    lines: list[list[Cell]] = []
    for row in report.rows:
        if row.idle_before_ms is not None:
            lines.append(_gap_cells(row.idle_before_ms))
        lines.append(_block_cells(report, row))
    with_limit = any(row.estimate is not None for row in report.rows)
    columns = []
    for index, (header, right, drop_order) in enumerate(_BLOCK_COLUMNS):
        if header == "% of limit" and not with_limit:
            continue
        cells = [line[index] for line in lines]
        columns.append(
            Column(
                header,
                [text for text, _ in cells],
                right=right,
                drop_order=drop_order,
                styles=tuple(style for _, style in cells),
            )
        )
    return columns


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
    limit = next((r.estimate.token_limit for r in report.rows if r.estimate is not None), None)
    if limit is not None:
        over = sum(1 for r in report.rows if r.estimate and r.estimate.used_percent > 100)
        lines.append(
            f"% of limit = estimate: each block's tokens as a share of a {limit:,}-token limit "
            "(our count, not the provider's; '→' the active block's projected share at its end)"
            + (f"; {over:,} block(s) over it." if over else ".")
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
        console.print(_no_rows(report))
    else:
        print_fitted(f"5-hour blocks ({report.timezone})", block_columns(report), console=console)
    for line in notes(report):
        console.print(escape(line), style="dim")


def blocks_text(report: BlocksReport, width: int) -> str | None:
    """What :func:`print_blocks` prints on a plain console ``width`` wide (a pipe or a file:
    no colours), drawn without importing rich; None when only rich can draw it."""
    if not report.rows:
        parts = [plain_line(_no_rows(report), width)]
    else:
        title = f"5-hour blocks ({report.timezone})"
        parts = [plain_table(title, block_columns(report), width)]
    parts += [plain_line(line, width) for line in notes(report)]
    return None if None in parts else "".join(p for p in parts if p is not None)


def _no_rows(report: BlocksReport) -> str:
    return (
        "No active block: no request in the last 5 hours."
        if report.since_ms >= report.now_ms - 6 * 3_600_000
        else "No usage recorded for this selection."
    )


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
