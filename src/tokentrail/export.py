"""Exports: any table of the ledger (requests, periods, sessions, runs, spend by group, heatmap,
timeline) as CSV, JSON Lines or Parquet. Shared by ``tokentrail export`` and the API's
``/api/v1/export/{what}.csv``.

A table is its column names and its rows in batches; the rows of the big tables (``events``,
``sessions``) are read a batch at a time under the ledger's lock, so an export of a million
requests neither holds the ledger nor the memory for long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, get_args

import orjson

from tokentrail.errors import ConfigError
from tokentrail.output import CsvRows, flatten
from tokentrail.reports.charts import (
    HeatmapMetric,
    TimelineInterval,
    heatmap_report,
    token_timeline,
)
from tokentrail.reports.periods import Period, period_report
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.runs import runs_report
from tokentrail.reports.sessions import session_detail, session_page_report, top_sessions
from tokentrail.reports.spend import spend_by

if TYPE_CHECKING:
    from tokentrail.ledger import Ledger
    from tokentrail.store.base import Entry, SessionSort

TableName = Literal[
    "events",
    "daily",
    "weekly",
    "monthly",
    "sessions",
    "runs",
    "models",
    "projects",
    "sources",
    "heatmap",
    "timeline",
    "top-sessions",
    "requests",
]
TABLES: tuple[str, ...] = get_args(TableName)
CLI_TABLES: tuple[str, ...] = ("events", "daily", "weekly", "monthly", "sessions", "runs")
"""What ``tokentrail export --what`` offers (the API exports every table)."""
ExportFormat = Literal["csv", "jsonl", "parquet"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
BATCH = 5_000

TOKENS_AND_COST = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
)
"""The token and cost columns of a group's figures and of one request alike."""
FIGURES = ("requests", *TOKENS_AND_COST, "unpriced_requests", "reported_cost_usd")
EVENT_COLUMNS = (
    "event_key",
    "timestamp",
    "source",
    "machine",
    "run_id",
    "session_key",
    "model",
    "provider",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_status",
    "price_version",
    "reported_cost_usd",
    "project",
    "git_branch",
)
SESSION_COLUMNS = (
    "session_key",
    "name",
    "title",
    "source",
    "project",
    "identifier",
    "issue_id",
    "state",
    "model",
    "git_branch",
    "run_id",
    "parent_key",
    "relationship",
    "started_at",
    "completed_at",
    "first_activity",
    "last_activity",
    "runtime_seconds",
    "runtime_basis",
    "active_seconds",
    "turns",
    "subagent_count",
    *FIGURES,
    *(f"own_{f}" for f in FIGURES),
)
RUN_COLUMNS = (
    "run_id",
    "app",
    "started_at",
    "stopped_at",
    "state",
    "reason",
    "peak_concurrency",
    "sessions_launched",
    "runtime_seconds",
    *FIGURES,
)
REQUEST_COLUMNS = (
    "timestamp",
    "session_key",
    "model",
    *TOKENS_AND_COST,
    "cost_status",
    "reported_cost_usd",
)

_INT_NAMES = {
    "requests",
    "unpriced_requests",
    "sessions",
    "turns",
    "subagent_count",
    "peak_concurrency",
    "sessions_launched",
    "cumulative_tokens",
}
_TIME_NAMES = {
    "timestamp",
    "started_at",
    "completed_at",
    "stopped_at",
    "first_activity",
    "last_activity",
    "start",
}


def column_kind(name: str) -> Literal["int", "float", "time", "date", "text"]:
    """The type of a column, from its name (the same names in every table)."""
    base = name.removeprefix("own_")
    if base in _INT_NAMES or base.endswith("_tokens"):
        return "int"
    if base.endswith("_usd") or base in ("share", "runtime_seconds", "active_seconds"):
        return "float"
    if base in _TIME_NAMES:
        return "time"
    if base == "date":
        return "date"
    return "text"


@dataclass(slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    batches: Iterator[Sequence[Mapping[str, Any]]]


def table(
    ledger: Ledger,
    what: str,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    session_key: str | None = None,
    sort: SessionSort = "last_activity",
    descending: bool = True,
    search: str | None = None,
    metric: HeatmapMetric = "cost",
    interval: TimelineInterval | Literal["auto"] = "auto",
    without_usage: bool = False,
) -> Table | None:
    """The table ``what`` under the query's filters; None for ``requests`` of an unknown
    session. Raises ValueError for a timeline too fine for its range."""
    if what == "events":
        return Table(what, EVENT_COLUMNS, _event_batches(ledger, query, models))
    if what == "sessions":
        return Table(
            what,
            SESSION_COLUMNS,
            _session_batches(ledger, query, models, sort, descending, search, without_usage),
        )
    rows: Sequence[Mapping[str, Any]]
    with ledger.reading() as store:
        if what in ("daily", "weekly", "monthly"):
            kind: Period = what  # type: ignore[assignment]
            report = period_report(store, kind, _with(query, breakdown=True), raw_models=True)
            rows = [r.as_dict(True) for r in report.rows]
            rows = [r for r in rows if not models or r.get("model") in models]
            columns: tuple[str, ...] = ("period", "model", *FIGURES)
        elif what == "runs":
            rows = [r.as_dict() for r in runs_report(store)]
            columns = RUN_COLUMNS
        elif what in ("models", "projects", "sources"):
            by = {"models": "model", "projects": "project", "sources": "source"}[what]
            spend = spend_by(store, query, by, models=models)  # type: ignore[arg-type]
            rows = [{by: r.group, **r.figures.as_dict(), "share": r.share} for r in spend.rows]
            columns = (by, *FIGURES, "share")
        elif what == "heatmap":
            heat = heatmap_report(store, query, metric, models=models)
            rows = [d.as_dict(metric) for d in heat.days]
            columns = ("date", "requests", "cost_usd", "total_tokens", "output_tokens", "sessions")
            columns = (*columns, "unpriced_requests")
        elif what == "timeline":
            line = token_timeline(store, query, interval=interval, models=models)
            rows = [p.as_dict() for p in line.points]
            columns = ("start", "label", *FIGURES, "cumulative_tokens", "cumulative_cost_usd")
        elif what == "top-sessions":
            top = top_sessions(store, query, models=models, limit=100)
            rows = [flatten(r.as_dict()) for r in top.rows]
            columns = SESSION_COLUMNS
        elif what == "requests":
            detail = session_detail(store, session_key or "")
            if detail is None:
                return None
            rows = [r.as_dict() for r in detail.requests]
            columns = REQUEST_COLUMNS
        else:
            raise ValueError(f"unknown table {what!r}; choose one of {', '.join(TABLES)}")
    return Table(what, columns, iter([rows]))


def _with(query: ReportQuery, **changes: Any) -> ReportQuery:
    from dataclasses import replace

    return replace(query, **changes)


def _event_batches(
    ledger: Ledger, query: ReportQuery, models: Sequence[str]
) -> Iterator[list[dict[str, Any]]]:
    keep = _event_filter(query, models)
    after = 0
    while True:
        with ledger.reading() as store:  # one batch at a time: others may use the ledger
            batch = store.entries_after(after, BATCH)
        if not batch:
            return
        after = batch[-1][0]
        rows = [_event_row(entry) for _, entry in batch if keep(entry)]
        if rows:
            yield rows


def _event_filter(query: ReportQuery, models: Sequence[str]) -> Callable[[Entry], bool]:
    filters = query.filters()
    sources = set(filters.sources)
    machines = set(filters.machines)
    wanted_models = set(models)

    def keep(entry: Entry) -> bool:
        e = entry.event
        ms = e.timestamp_ms
        if filters.since_ms is not None and ms < filters.since_ms:
            return False
        if filters.until_ms is not None and ms >= filters.until_ms:
            return False
        if sources and e.source not in sources:
            return False
        if filters.project and filters.project not in (e.project or ""):
            return False
        if machines and (e.machine or "") not in machines:
            return False
        return not (wanted_models and e.model not in wanted_models)

    return keep


def _event_row(entry: Entry) -> dict[str, Any]:
    e, cost, t = entry.event, entry.cost, entry.event.tokens
    return {
        "event_key": e.key,
        "timestamp": e.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "source": e.source,
        "machine": e.machine,
        "run_id": e.run_id,
        "session_key": e.session_key,
        "model": e.model,
        "provider": e.provider,
        "input_tokens": t.input,
        "cache_read_tokens": t.cache_read,
        "cache_write_5m_tokens": t.cache_write_5m,
        "cache_write_1h_tokens": t.cache_write_1h,
        "output_tokens": t.output,
        "reasoning_tokens": t.reasoning,
        "cost_usd": cost.micro_usd / 1_000_000 if cost.micro_usd is not None else None,
        "cost_status": cost.status,
        "price_version": cost.version,
        "reported_cost_usd": e.reported_cost_usd,
        "project": e.project,
        "git_branch": e.git_branch,
    }


def _session_batches(
    ledger: Ledger,
    query: ReportQuery,
    models: Sequence[str],
    sort: SessionSort,
    descending: bool,
    search: str | None,
    without_usage: bool,
) -> Iterator[list[dict[str, Any]]]:
    offset = 0
    page_size = 1_000
    while True:
        with ledger.reading() as store:
            page = session_page_report(
                store,
                query,
                models=models,
                search=search,
                sort=sort,
                descending=descending,
                limit=page_size,
                offset=offset,
                without_usage=without_usage,
            )
        if not page.rows:
            return
        yield [flatten(r.as_dict()) for r in page.rows]
        offset += len(page.rows)
        if offset >= page.total:
            return


# -- writers ---------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def csv_chunks(exported: Table) -> Iterator[str]:
    """The table as CSV text, a chunk per batch (header first). Empty cells are unknown
    (not reported, or not priced), never zero."""
    out = CsvRows()
    out.row(exported.columns)
    yield out.text()
    for rows in exported.batches:
        for row in rows:
            out.row(_cell(row.get(c)) for c in exported.columns)
        yield out.text()


def jsonl_chunks(exported: Table) -> Iterator[bytes]:
    """One JSON object per line, every column present (null: unknown)."""
    for rows in exported.batches:
        yield b"".join(
            orjson.dumps({c: row.get(c) for c in exported.columns}) + b"\n" for row in rows
        )


def write(exported: Table, fmt: str, out: IO[bytes] | Path) -> int:
    """Write the table to a binary stream or a file; returns the number of rows."""
    if fmt == "parquet":
        if not isinstance(out, Path):
            raise ConfigError("--format parquet writes a file: give one with -o/--output")
        return write_parquet(exported, out)
    if isinstance(out, Path):
        with open(out, "wb") as handle:
            return write(exported, fmt, handle)
    counted = _Counted(exported)
    if fmt == "csv":
        for chunk in csv_chunks(counted.table):
            out.write(chunk.encode())
    elif fmt == "jsonl":
        for data in jsonl_chunks(counted.table):
            out.write(data)
    else:
        raise ConfigError(f"--format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    return counted.rows


class _Counted:
    def __init__(self, exported: Table) -> None:
        self.rows = 0
        self.table = Table(exported.name, exported.columns, self._count(exported.batches))

    def _count(
        self, batches: Iterator[Sequence[Mapping[str, Any]]]
    ) -> Iterator[Sequence[Mapping[str, Any]]]:
        for rows in batches:
            self.rows += len(rows)
            yield rows


def _load_pyarrow() -> Any:
    import importlib

    try:
        pyarrow = importlib.import_module("pyarrow")
        importlib.import_module("pyarrow.parquet")
    except ImportError:
        raise ConfigError(
            "--format parquet needs pyarrow, which is not installed; from the tokentrail "
            f"clone, install the 'parquet' extra with this installation's pip: {_own_pip()} "
            "install '.[parquet]' (or choose --format csv or jsonl)"
        ) from None
    return pyarrow


def _own_pip() -> str:
    """The pip of the environment tokentrail runs in (``~/.tokentrail/bin/pip`` after the
    README's install), so the advice installs where it is needed."""
    import sys

    folder = Path(sys.executable).parent
    return str(folder / ("pip.exe" if sys.platform == "win32" else "pip"))


def write_parquet(exported: Table, path: Path) -> int:
    """The table as a Parquet file with typed columns (int64, float64, UTC timestamps, dates,
    strings; null: unknown)."""
    pa = _load_pyarrow()
    types = {
        "int": pa.int64(),
        "float": pa.float64(),
        "time": pa.timestamp("ms", tz="UTC"),
        "date": pa.date32(),
        "text": pa.string(),
    }
    schema = pa.schema([(c, types[column_kind(c)]) for c in exported.columns])
    rows_written = 0
    with pa.parquet.ParquetWriter(str(path), schema) as writer:
        for rows in exported.batches:
            columns = {
                c: [_typed(row.get(c), column_kind(c)) for row in rows] for c in exported.columns
            }
            writer.write_table(pa.table(columns, schema=schema))
            rows_written += len(rows)
        if rows_written == 0:
            writer.write_table(schema.empty_table())
    return rows_written


def _typed(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "time" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "text" and not isinstance(value, str):
        return str(value)
    return value
