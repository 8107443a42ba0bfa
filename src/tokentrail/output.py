"""Rendering for the command line: rich tables, JSON and CSV of the same report rows."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from tokentrail import formatting
from tokentrail.store.figures import NO_MODEL

if TYPE_CHECKING:
    from rich.console import Console

    # only types here: `tokentrail sync` prints through this module without the reports
    from tokentrail.figures import UsageFigures
    from tokentrail.reports.periods import Report
    from tokentrail.sync import SyncSummary

OutputFormat = Literal["table", "json", "csv"]
PRICE_ADVICE = "Add a price under [[prices]] in the config file, then run 'tokentrail reprice'."
"""What to do about a model without a known price."""
MISSING = "—"


def new_console(stderr: bool = False) -> Console:
    """rich's console for tables; piped or redirected, as wide as a table needs."""
    from rich.console import Console

    found = Console(stderr=stderr, highlight=False)
    if not found.is_terminal and "COLUMNS" not in os.environ:
        # piped or redirected: nothing to fit, so never squeeze columns into ellipses
        found = Console(stderr=stderr, highlight=False, width=max(found.width, 160))
    return found


def render_json(data: Any) -> str:
    import orjson  # not for a table

    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's CSV injection advice):
    text starting with ``= + - @``, a tab or a carriage return gets a leading ``'``. Numbers
    are written as numbers, so a negative figure stays a number; only text is changed. Every
    CSV writer of tokentrail passes its cells through here."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class CsvRows:
    """Rows written as CSV text with ``\n`` line ends, every cell containing a line break
    (``\n`` or ``\r``) quoted. Python's csv writer (before 3.13) quotes only the characters of
    its own line terminator, so with ``\n`` a lone CR in a title or path was written raw and a
    reader split the record in two; it writes ``\r\n`` here (which quotes both) and each
    row's terminator is turned back into ``\n``. Cells pass through :func:`spreadsheet_safe`."""

    def __init__(self) -> None:
        import csv  # only for CSV: the other outputs never need it

        self._lines: list[str] = []
        self._writer = csv.writer(self, lineterminator="\r\n")

    def write(self, line: str) -> None:
        # the csv writer hands over one whole row per call, ending in its terminator
        self._lines.append(line[:-2] + "\n" if line.endswith("\r\n") else line)

    def row(self, cells: Iterable[Any]) -> None:
        self._writer.writerow(spreadsheet_safe(c) for c in cells)

    def text(self) -> str:
        """The rows written since the last call, as one string."""
        out = "".join(self._lines)
        self._lines.clear()
        return out


def render_csv(rows: Sequence[Mapping[str, Any]], *, blank: Mapping[str, Any] | None) -> str:
    """The rows as CSV with a header line, nested fields flattened (``own_cost_usd``).
    ``blank`` is a row of the table's shape (its values unused): its keys are the header when
    there are no rows, so an empty table is a header, never a bare newline."""
    flat = [flatten(row) for row in rows]
    columns: list[str] = []
    for row in flat or ([flatten(blank)] if blank is not None else []):
        columns.extend(c for c in row if c not in columns)
    out = CsvRows()
    out.row(columns)
    for row in flat:
        out.row("" if (v := row.get(c)) is None else v for c in columns)
    return out.text()


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as ``parent_child`` columns (``own`` → ``own_cost_usd``), lists as one
    ``;``-joined cell: a report row as CSV and the export's tables hold it."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}_"))
        elif isinstance(value, list | tuple):
            flat[name] = ";".join(str(v) for v in value)
        else:
            flat[name] = value
    return flat


def format_int(value: int | None) -> str:
    return MISSING if value is None else formatting.integer(value)


def format_tokens(value: int | None) -> str:
    """Token counts for tables: exact below 10,000, compact from there
    (:func:`tokentrail.formatting.tokens`)."""
    return MISSING if value is None else formatting.tokens(value)


def format_usd(value: float | None) -> str:
    return MISSING if value is None else formatting.usd(value)


_TOKEN_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("Input", "input_tokens", 0),
    ("CacheW", "cache_write_tokens", 7),
    ("CacheR", "cache_read_tokens", 6),
    ("Output", "output_tokens", 0),
    ("Reason", "reasoning_tokens", 8),
    ("Total", "total_tokens", 0),
)


def _agent_labels() -> dict[str, str]:
    """Each registered agent's short label (its column in terminal tables)."""
    from tokentrail.agents import all_agents

    return {a.name: a.short_label for a in all_agents()}


_FIRST_COLUMN = {"daily": "Date", "weekly": "Week", "monthly": "Month", "session": "Session"}


def _tokens_cell(figures: UsageFigures, attr: str) -> str:
    cell = format_tokens(getattr(figures, attr))
    # some requests of this row reported a cost but no tokens (Crush): the figure is a floor
    if attr == "total_tokens" and figures.requests_without_tokens and cell != MISSING:
        return cell + "+?"
    return cell


def _reported_cell(figures: UsageFigures) -> str:
    return format_usd(figures.reported_cost_usd)


def _cost_cell(figures: UsageFigures) -> str:
    cost = format_usd(figures.cost_usd)
    # some requests of this row have no known price: the cost shown is a floor
    return cost + "+?" if figures.cost_is_floor and figures.cost_usd is not None else cost


class Column(NamedTuple):  # not a frozen dataclass: a fifth of the cost to create, per answer
    header: str
    cells: list[str]
    footer: str = ""
    right: bool = True
    drop_order: int = 0
    """Columns with a higher number are left out first when the terminal is too narrow."""
    max_width: int | None = None
    """Longer cells end in an ellipsis (free text such as model lists)."""
    styles: tuple[str, ...] = ()
    """A rich style per cell (e.g. "red" for a block over its limit); none when empty."""

    @property
    def width(self) -> int:
        widest = max(len(self.header), len(self.footer), *(len(c) for c in self.cells))
        return min(widest, self.max_width) if self.max_width else widest

    @property
    def markup(self) -> list[str]:
        """The cells escaped for rich, each in its style."""
        cells = [_escape(cell) for cell in self.cells]
        styles = [*self.styles, *([""] * (len(cells) - len(self.styles)))]
        return [
            f"[{style}]{cell}[/]" if style else cell
            for cell, style in zip(cells, styles, strict=True)
        ]


def print_report(report: Report, *, console: Any) -> None:
    """Print a report as a rich table, with the totals row and unpriced models under it."""
    if not report.rows:
        console.print("No usage recorded for this selection.")
        _print_unpriced(report, console)
        return
    print_fitted(
        f"{report.kind.capitalize()} usage ({report.timezone})",
        _report_columns(report),
        console=console,
        footer=True,
    )
    _print_unpriced(report, console)


def print_fitted(
    title: str, columns: Sequence[Column], *, console: Any, footer: bool = False
) -> None:
    """A table of ``columns`` (cells already formatted, markup escaped here) fitted to the
    terminal: columns that do not fit are left out, least important first, and named under
    the table (every figure stays available in --json and --csv); nothing is squeezed into
    ellipses."""
    from rich import box
    from rich.table import Table

    shown = fit_columns(list(columns), console.width)
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_footer=footer,
        header_style="bold",
        footer_style="bold",
        pad_edge=False,
        collapse_padding=True,
    )
    for column in shown:
        table.add_column(
            column.header,
            footer=column.footer,
            justify="right" if column.right else "left",
            no_wrap=True,
            max_width=column.max_width,
            overflow="ellipsis",
        )
    # each column's markup once: it is a list of every cell, so reading it per row made a
    # table of n sessions cost n² escapes (8,000 sessions: minutes)
    cells = [column.markup for column in shown]
    for row in zip(*cells, strict=True):
        table.add_row(*row)
    console.print(table)
    kept = {id(c) for c in shown}
    hidden = [c.header for c in columns if id(c) not in kept]
    if hidden:
        console.print(
            f"[dim]Not shown to fit the terminal: {', '.join(hidden)} "
            "(widen the window, or use --json / --csv).[/dim]"
        )


def _report_columns(report: Report) -> list[Column]:
    from tokentrail.reports.periods import SessionRow

    rows = report.rows
    sessions = [r for r in rows if isinstance(r, SessionRow)]
    columns: list[Column] = []
    if sessions:
        labels = _agent_labels()
        columns += [
            Column("Session", [_short_key(r.key) for r in sessions], "Total", right=False),
            Column(
                "Name",
                [r.name or MISSING for r in sessions],
                right=False,
                drop_order=6,
                max_width=32,
            ),
            Column(
                "Agent",
                [labels.get(r.source, r.source) for r in sessions],
                right=False,
                drop_order=3,
            ),
            Column(
                "Last active", [_day(r.last_activity) for r in sessions], right=False, drop_order=1
            ),
            Column(
                "Project",
                [_short_project(r.project) for r in sessions],
                right=False,
                drop_order=5,
                max_width=20,
            ),
        ]
        if not report.breakdown:
            columns.append(
                Column(
                    "Models",
                    [", ".join(_short_model(m) for m in r.models) or MISSING for r in sessions],
                    right=False,
                    drop_order=4,
                    max_width=26,
                )
            )
    else:
        columns.append(
            Column(_FIRST_COLUMN[report.kind], [r.period for r in rows], "Total", right=False)
        )
    if report.breakdown:
        columns.append(
            Column("Model", [_short_model(r.model) for r in rows], right=False, max_width=26)
        )
    columns.append(
        Column(
            "Reqs",
            [format_int(r.figures.requests) for r in rows],
            format_int(report.totals.requests),
            drop_order=2,
        )
    )
    for name, attr, drop_order in _TOKEN_COLUMNS:
        if attr != "total_tokens" and getattr(report.totals, attr) is None:
            continue  # nobody reported it (e.g. reasoning for Claude alone): leave it out
        columns.append(
            Column(
                name,
                [_tokens_cell(r.figures, attr) for r in rows],
                _tokens_cell(report.totals, attr),
                drop_order=drop_order,
            )
        )
    columns.append(Column("Cost", [_cost_cell(r.figures) for r in rows], _cost_cell(report.totals)))
    if report.totals.requests_without_tokens:
        # usage known by its cost alone (Crush sessions): the agent's own cost is all there is
        columns.append(
            Column(
                "Agent cost",
                [_reported_cell(r.figures) for r in rows],
                _reported_cell(report.totals),
                drop_order=7,
            )
        )
    return columns


def fit_columns(columns: list[Column], width: int) -> list[Column]:
    kept = list(columns)
    widths = {id(c): c.width for c in kept}  # each a pass over the column's cells: once
    while sum(widths[id(c)] + 2 for c in kept) > width:
        candidates = [c for c in kept if c.drop_order > 0]
        if not candidates:
            break
        kept.remove(max(candidates, key=lambda c: c.drop_order))
    return kept


def _short_key(key: str) -> str:
    """A session or run key for tables. A subagent's key is its parent's, ``:``, and its own
    (``<session>:agent-<id>``): both parts are kept short, so its rows never look like its
    parent's."""
    head, colon, tail = key.rpartition(":")
    if colon and head:
        return f"{_shorten(head, 8)}:{_shorten(tail, 14)}"
    return _shorten(key, 8)


def _shorten(text: str, length: int) -> str:
    return text[:length] + ("…" if len(text) > length else "")


def _short_model(model: str | None) -> str:
    """Model names without their date suffix, for tables (``claude-sonnet-4-5``)."""
    if not model:
        return MISSING
    head, _, tail = model.rpartition("-")
    return head if head and len(tail) == 8 and tail.isdigit() else model


def _day(value: Any) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else MISSING


def print_rows(
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    console: Any,
    empty: str,
) -> None:
    """A simple listing (runs, sessions, insights) from JSON-shaped rows, fitted to the
    terminal, each field formatted by :func:`format_field`."""
    if not rows:
        console.print(empty)
        return
    specs = [
        Column(
            header,
            [format_field(field, row.get(field)) for row in rows],
            right=_is_numeric(field, [row.get(field) for row in rows]),
            drop_order=0 if index < 2 or field == "cost_usd" else len(columns) - index,
            max_width=28,
        )
        for index, (header, field) in enumerate(columns)
    ]
    print_fitted(title, specs, console=console)


_NUMERIC_FIELDS = frozenset(
    {
        "peak_concurrency",
        "sessions_launched",
        "total_tokens",
        "cost_usd",
        "runtime_seconds",
        "active_seconds",
        "requests",
        "turns",
        "calls",
        "failures",
        "edit_calls",
        "lines_added",
        "lines_removed",
        "lines_changed",
    }
)


def _is_numeric(field: str, values: Sequence[Any]) -> bool:
    """Whether a listing's column holds figures (right-aligned) rather than text."""
    if field in _NUMERIC_FIELDS or field in _FIELD_FORMATS:
        return True
    figures = [v for v in values if v is not None and not isinstance(v, bool)]
    return bool(figures) and all(isinstance(v, int | float) for v in figures)


def format_percent(share: float | None) -> str:
    """A share (0.7973) as a percentage for tables: 80%."""
    return MISSING if share is None else formatting.share(share)


def format_number(value: float | None) -> str:
    """A measured quantity (not a count) for tables: 20,832.1 / 3.14 / 0.004."""
    return MISSING if value is None else formatting.number(value)


_FIELD_FORMATS: dict[str, Callable[[Any], str]] = {
    "runtime_seconds": lambda v: format_duration(float(v)),
    "cost_usd": lambda v: format_usd(float(v)),
    "cost_per_changed_line": lambda v: format_usd(float(v)),
    "cache_savings_usd": lambda v: format_usd(float(v)),
    "tokens_per_changed_line": lambda v: format_number(float(v)),
    "cache_read_share": lambda v: format_percent(float(v)),
    "avg_duration_seconds": lambda v: formatting.seconds(float(v)),
    "p95_duration_seconds": lambda v: formatting.seconds(float(v)),
}
"""Fields that are money, shares or measured quantities (right-aligned in tables)."""


def format_field(field: str, value: Any) -> str:
    """One JSON field of a listing, for a table cell."""
    if value is None:
        return MISSING
    if field in ("run_id", "session_key"):
        return _short_key(str(value))
    if field.endswith("_at") or field == "last_activity":
        return _local_minute(str(value))
    if isinstance(value, str):
        return value  # a label, such as the totals row's "Total"
    formatter = _FIELD_FORMATS.get(field)
    if formatter is not None:
        return formatter(value)
    if field.endswith("_tokens"):
        return format_tokens(int(value))
    if isinstance(value, int):
        return format_int(value)
    if isinstance(value, float):
        return format_number(value)
    return str(value)


def _local_minute(iso: str) -> str:
    """An ISO timestamp from the JSON, in the local zone to the minute, for tables."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def format_duration(seconds: float) -> str:
    """45s, 12m 30s, 1h 12m, 2d 4h (:func:`tokentrail.formatting.duration`)."""
    return formatting.duration(seconds)


def _print_unpriced(report: Report, console: Any) -> None:
    if not report.unpriced_models:
        return
    names = ", ".join(
        f"{_escape(m.model)} ({formatting.counted(m.requests, 'request')}, "
        + (f"{m.tokens:,} tokens)" if m.tokens else "tokens not reported)")
        for m in report.unpriced_models
    )
    named = [m for m in report.unpriced_models if m.model != NO_MODEL and m.tokens]
    advice = []
    if named:
        advice.append(PRICE_ADVICE)
    if any(m.model == NO_MODEL for m in report.unpriced_models):
        advice.append(f"Requests shown as {NO_MODEL} did not say which model answered them.")
    if any(not m.tokens for m in report.unpriced_models):
        advice.append(
            "Requests whose tokens were not reported (e.g. Crush sessions) cannot be priced: "
            "their agent's own cost is shown as the agent cost."
        )
    console.print(
        f"[yellow]Unpriced (no known price, not counted in cost):[/yellow] {names}. "
        + _escape(" ".join(advice))
    )


def _short_project(project: str | None) -> str:
    if not project:
        return MISSING
    return project.rstrip("/").rsplit("/", 1)[-1] or project


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def sync_lines(summary: SyncSummary) -> list[str]:
    """The closing summary of a sync, as plain lines."""
    lines = [
        f"Synced {summary.files_found:,} files in {summary.elapsed_s:.2f} s: "
        f"{summary.files_read:,} read ({summary.bytes_read / 1_048_576:,.1f} MB), "
        f"{summary.files_unchanged:,} unchanged"
        + (f", {summary.files_reread:,} re-read from the start" if summary.files_reread else ""),
        f"New requests: {summary.new_events:,}"
        + _by_source(summary.new_by_source.items())
        + f"; updated: {summary.updated_events:,}; duplicates dropped: {summary.duplicates:,}",
    ]
    if summary.skips.total:
        lines.append(f"Skipped lines: {summary.skips.total:,}")
        for reason, count in sorted(summary.skips.counts.items()):
            examples = ", ".join(summary.skips.examples.get(reason, []))
            lines.append(f"  {reason}: {count:,} (e.g. {examples})")
    if summary.pending_lines:
        lines.append(
            f"Incomplete last line left for the next sync in {len(summary.pending_lines):,} "
            f"file(s), e.g. {', '.join(summary.pending_lines[:3])}"
        )
    if summary.unreadable:
        lines.append(f"Unreadable (read once readable): {len(summary.unreadable):,}")
        lines.extend(f"  {item}" for item in summary.unreadable[:5])
    return lines


def _by_source(items: Iterable[tuple[str, int]]) -> str:
    parts = [f"{name} {count:,}" for name, count in sorted(items) if count]
    return f" ({', '.join(parts)})" if parts else ""


def sync_as_dict(summary: SyncSummary) -> dict[str, Any]:
    return {
        "files_found": summary.files_found,
        "files_read": summary.files_read,
        "files_unchanged": summary.files_unchanged,
        "files_reread": summary.files_reread,
        "bytes_read": summary.bytes_read,
        "new_events": summary.new_events,
        "new_by_source": summary.new_by_source,
        "updated_events": summary.updated_events,
        "duplicates": summary.duplicates,
        "skipped": {
            reason: {"count": count, "examples": summary.skips.examples.get(reason, [])}
            for reason, count in sorted(summary.skips.counts.items())
        },
        "pending_lines": summary.pending_lines,
        "unreadable": summary.unreadable,
        "elapsed_s": round(summary.elapsed_s, 3),
    }
