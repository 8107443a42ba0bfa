"""Cursor: the usage export a user downloads from Cursor's dashboard (CSV, or its JSON).

Cursor keeps no token counts on disk; its dashboard (Settings → Usage → Export) gives every
request with its tokens and cost. ``tokentrail import cursor FILE`` reads such a file, and a
sync reads the exports in ``~/.config/tokentrail/cursor/`` (tokentrail's own folder for them)
or in the files and folders named by ``TOKENTRAIL_CURSOR_PATHS`` or ``[sources.cursor]
paths``.

Facts this parser relies on (Cursor's export and the dashboard's
``get-filtered-usage-events`` answer, as the public parsers of tokscale, agent-walker and
others read them; Cursor documents neither):

* CSV, one row per request, columns found by their header (Cursor adds columns over time):
  ``Date`` (ISO 8601, UTC), ``Kind`` (``Included``, ``Usage-based``, ``Errored, No Charge``…),
  ``Model``, ``Max Mode``, ``Input (w/ Cache Write)``, ``Input (w/o Cache Write)``,
  ``Cache Read``, ``Output Tokens``, ``Total Tokens``, ``Cost`` (``$0.49``, or a word such as
  ``Included``). Older exports lack ``Kind`` and ``Max Mode``.
* The two input columns: ``Input (w/o Cache Write)`` is the uncached input, ``Input (w/
  Cache Write)`` the tokens written to the cache, and ``Total Tokens`` their sum with the
  cache reads and output. Where ``Total Tokens`` says otherwise (it equals ``Input (w/ Cache
  Write)`` + reads + output, so that column held the whole input), the cache writes are the
  difference of the two input columns (see :func:`_csv_tokens`).
* JSON: ``{"usageEventsDisplay": [...]}`` (or ``usageEvents``, or a bare list) of
  ``{timestamp (epoch ms), model, kind, maxMode, tokenUsage: {inputTokens, outputTokens,
  cacheWriteTokens, cacheReadTokens, totalCents}, usageBasedCosts}``.
* Cursor's cost (``Cost``; ``totalCents`` / 100, else ``usageBasedCosts``) is kept as the
  reported cost; a word instead of a dollar amount is "not reported", never 0.
* A row whose token counts are all zero billed nothing and is left out.
* Repeats: exports overlap (each covers a date range) and carry no request id. The key is a
  hash of what the row says about the request (time to the millisecond, model, the four
  token counts) and its occurrence among identical rows of the file: importing the same file
  twice, or two overlapping files, records each request once, and the CSV and JSON exports of
  one request share a key.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import orjson

from tokentrail.agents.cursor import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import ParseResult, ParseState, SourceFile, read_regular
from tokentrail.sources.jsonl import digest
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Skip, Tokens, UsageEvent

SOURCE = AGENT.name
EXPORT_SUFFIXES = (".csv", ".json")
MAX_EXPORT_BYTES = 512 * 1024 * 1024

_DOLLARS = re.compile(r"^\$?\s*(\d+(?:\.\d+)?)$")


class CursorSource:
    """Usage exports downloaded from Cursor's dashboard (no default location)."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Cursor writes no usage on disk: exports are imported (``tokentrail import
        cursor``), or dropped in ``$XDG_CONFIG_HOME/tokentrail/cursor`` (default
        ``~/.config/tokentrail/cursor``), which every sync reads."""
        config_home = env.get("XDG_CONFIG_HOME")
        base = Path(config_home).expanduser() if config_home else home / ".config"
        return [base / "tokentrail" / "cursor"]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Each root that is a file; in a folder, its ``*.csv`` and ``*.json`` files."""
        yield from find_files(
            SOURCE,
            roots,
            {f"*{suffix}": "whole" for suffix in EXPORT_SUFFIXES},
            root_files={"*": "whole"},
        )

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        data = read_regular(file.path)  # unreadable: OSError, reported by the caller
        return parse_export(data, file.path)


def parse_export(data: bytes, where: str) -> ParseResult:
    """The requests of one export (CSV or JSON, told apart by their first byte)."""
    result = ParseResult(state=ParseState(offset=len(data)))
    if len(data) > MAX_EXPORT_BYTES:
        result.skips.append(Skip("file_too_large", where, None, f"{len(data)} bytes"))
        return result
    text = data.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        rows: Iterable[tuple[int | None, _Row | BadRecord]] = _json_rows(stripped)
    else:
        rows = _csv_rows(text)
    seen: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, BadRecord):
            result.skips.append(Skip(row.reason, where, line, row.detail))
            continue
        if row.tokens.total == 0:
            continue  # nothing billed
        identity = row.identity()
        occurrence = seen.get(identity, 0)
        seen[identity] = occurrence + 1  # an identical row of the same file is its own request
        result.events.append(row.event(f"{SOURCE}:{identity}:{occurrence}"))
    return result


@dataclass(frozen=True, slots=True)
class _Row:
    """One request of an export, whatever its format."""

    timestamp: datetime
    model: str | None
    tokens: Tokens
    cost: float | None
    kind: str | None
    max_mode: str | None

    def identity(self) -> str:
        t = self.tokens
        milliseconds = int(self.timestamp.timestamp() * 1000)
        return digest([milliseconds, self.model, t.input, t.cache_write_5m, t.cache_read, t.output])

    def event(self, key: str) -> UsageEvent:
        return UsageEvent(
            key=key,
            source=SOURCE,
            timestamp=self.timestamp,
            tokens=self.tokens,
            model=self.model,
            reported_cost_usd=self.cost,
            raw_usage=orjson.dumps(
                {
                    "kind": self.kind,
                    "max_mode": self.max_mode,
                    "cost": self.cost,
                    "from": "Cursor usage export",
                }
            ),
            rank=f"0|{self.timestamp.isoformat()}|",
        )


# --- CSV -------------------------------------------------------------------------------------


def _csv_rows(text: str) -> Iterator[tuple[int | None, _Row | BadRecord]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: dict[str, int] | None = None
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = {name.strip().lower(): index for index, name in enumerate(cells)}
            if "date" not in header or "model" not in header:
                yield line, BadRecord("not_a_cursor_export", "no Date and Model columns")
                return
            continue
        try:
            yield line, _csv_row(header, cells)
        except BadRecord as bad:
            yield line, bad


def _csv_row(header: Mapping[str, int], cells: Sequence[str]) -> _Row:
    def cell(*names: str) -> str | None:
        for name in names:
            index = header.get(name)
            if index is not None and index < len(cells):
                value = cells[index].strip()
                return value or None
        return None

    timestamp = parse_timestamp(cell("date"))
    if timestamp is None:
        raise BadRecord("bad_timestamp", repr(cell("date"))[:60])
    tokens = _csv_tokens(
        _count(cell("input (w/ cache write)"), "Input (w/ Cache Write)"),
        _count(cell("input (w/o cache write)"), "Input (w/o Cache Write)"),
        _count(cell("cache read"), "Cache Read"),
        _count(cell("output tokens"), "Output Tokens"),
        _count(cell("total tokens"), "Total Tokens"),
    )
    return _Row(
        timestamp,
        cell("model"),
        tokens,
        _dollars(cell("cost", "cost ($)", "api cost")),
        cell("kind"),
        cell("max mode"),
    )


def _count(value: str | None, name: str) -> int | None:
    if value is None or value in ("-", "—"):
        return None
    cleaned = value.replace(",", "").replace("_", "")
    try:
        number: object = int(cleaned)
    except ValueError:
        try:
            number = float(cleaned)
        except ValueError:
            raise BadRecord("invalid_count", f"{name}={value!r}") from None
    return count_or_none(number, name)


def _csv_tokens(
    with_writes: int | None,
    without_writes: int | None,
    reads: int | None,
    output: int | None,
    total: int | None,
) -> Tokens:
    """Map the two input columns onto uncached input and cache writes."""
    writes = with_writes
    if (
        total is not None
        and with_writes is not None
        and without_writes is not None
        and with_writes >= without_writes
        and total != with_writes + without_writes + (reads or 0) + (output or 0)
        and total == with_writes + (reads or 0) + (output or 0)
    ):
        writes = with_writes - without_writes  # the first column held the whole input
    return Tokens(input=without_writes, cache_read=reads, cache_write_5m=writes, output=output)


def _dollars(value: str | None) -> float | None:
    """A dollar amount (``$0.49``, ``0.49``); a word (``Included``, ``-``) or another currency
    is not a cost in dollars: None."""
    if value is None:
        return None
    match = _DOLLARS.match(value.replace(",", ""))
    return reported_cost(float(match.group(1))) if match else None


# --- JSON ------------------------------------------------------------------------------------


def _json_rows(text: str) -> Iterator[tuple[int | None, _Row | BadRecord]]:
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        yield None, BadRecord("malformed_json", str(exc))
        return
    events: object = document
    if isinstance(document, dict):
        events = document.get("usageEventsDisplay", document.get("usageEvents"))
    if not isinstance(events, list):
        yield None, BadRecord("not_a_cursor_export", "no usageEventsDisplay or usageEvents list")
        return
    for index, item in enumerate(events):
        try:
            yield index + 1, _json_row(item)
        except BadRecord as bad:
            yield index + 1, BadRecord(bad.reason, f"event {index}: {bad.detail}")


def _json_row(item: object) -> _Row:
    if not isinstance(item, dict):
        raise BadRecord("malformed_json", "an event is not an object")
    raw_time = item.get("timestamp")
    if isinstance(raw_time, str) and raw_time.isdigit():
        raw_time = int(raw_time)
    timestamp = parse_timestamp(raw_time)
    if timestamp is None:
        raise BadRecord("bad_timestamp", repr(item.get("timestamp"))[:60])
    usage = item.get("tokenUsage")
    usage = usage if isinstance(usage, dict) else {}
    tokens = Tokens(
        input=count_or_none(usage.get("inputTokens"), "inputTokens"),
        cache_read=count_or_none(usage.get("cacheReadTokens"), "cacheReadTokens"),
        cache_write_5m=count_or_none(usage.get("cacheWriteTokens"), "cacheWriteTokens"),
        output=count_or_none(usage.get("outputTokens"), "outputTokens"),
    )
    cents = reported_cost(usage.get("totalCents"))
    cost = round(cents / 100, 6) if cents is not None else None
    if cost is None:
        usage_based = item.get("usageBasedCosts")
        cost = _dollars(usage_based) if isinstance(usage_based, str) else None
    max_mode = item.get("maxMode")
    return _Row(
        timestamp,
        text_or_none(item.get("model")),
        tokens,
        cost,
        text_or_none(item.get("kind")),
        str(max_mode) if isinstance(max_mode, bool) else None,
    )


def import_export(path: str) -> ParseResult:
    """Read one export a user names (``tokentrail import cursor FILE``)."""
    return parse_export(read_regular(path), path)
