"""``tokentrail statusline``: one line for an agent's status bar (Claude Code's ``statusLine``).

Claude Code runs the command after each message with a JSON object on stdin (``session_id``,
``transcript_path``, ``model``, ``workspace``, ``cost``, ``version``) and shows the first line
printed. The command brings only that session's transcript (and its subagents' files) up to
date, through the same cursors and ledger writes as ``tokentrail sync``, then answers from the
ledger: this session's cost and tokens, today's spend, the active 5-hour block.

It runs every few seconds inside someone else's screen, so it must never get in the way: the
ledger's write lock is waited for only :data:`BUSY_TIMEOUT_S` (when another process holds it,
the line is answered from what the ledger already has and says so), and any error becomes a
short one-line message with exit status 0, never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tokentrail.errors import ConfigError, TokentrailError
from tokentrail.formatting import duration_compact, tokens_compact, usd_compact

if TYPE_CHECKING:
    from tokentrail.blocks import BlockRow
    from tokentrail.config import Config
    from tokentrail.figures import UsageFigures
    from tokentrail.ledger import Ledger
    from tokentrail.store.base import Store
    from tokentrail.store.quick import QuickReader

FIELDS: dict[str, str] = {
    "model": "the model Claude Code names (its display name)",
    "session": "this session's cost and tokens, subagents included",
    "today": "today's spend, every agent (local day)",
    "block": "the active 5-hour block of Claude Code usage: time left and burn rate",
    "agent_cost": "Claude Code's own cost figure for the session",
}
"""The fields a status line can show, in the order the defaults use, with what each shows."""

DEFAULT_FIELDS: tuple[str, ...] = ("session", "today", "block")

BUSY_TIMEOUT_S = 0.05
"""How long a write waits for another process's: a status bar must not hang on a long sync."""

SEPARATOR = " | "
BUSY_MARKER = "(ledger busy: not updated)"
SOURCE = "claude_code"


class StatusInputError(TokentrailError):
    """The JSON on standard input is not what an agent's status line sends."""


class StatusInput(NamedTuple):
    """What of the agent's status JSON the line uses. (NamedTuples here, not dataclasses: a
    tenth of the cost to create, on every status update.)"""

    session_id: str | None
    transcript_path: str | None
    model: str | None
    agent_cost_usd: float | None


class StatusFigures(NamedTuple):
    """What the line shows, read from the ledger."""

    session: UsageFigures | None
    today: UsageFigures
    block: BlockRow | None
    now_ms: int


def parse_fields(text: str | Sequence[str]) -> tuple[str, ...]:
    """Field names from ``--fields`` (comma-separated) or the config file's list."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    unknown = [n for n in names if n not in FIELDS]
    if unknown or not names:
        raise ConfigError(
            f"statusline fields {unknown[0] if unknown else '(none)'!r} not known; choose "
            f"from {', '.join(FIELDS)} (comma-separated)"
        )
    return tuple(names)


def parse_input(raw: bytes) -> StatusInput:
    """The agent's status JSON. Missing keys are missing, never an error: only the shape."""
    import json  # the standard library's: a third of orjson's import time, for a few hundred bytes

    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise StatusInputError(f"the input is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StatusInputError(
            "expected Claude Code's status JSON on stdin; "
            'set "statusLine": {"type": "command", "command": "tokentrail statusline"}'
        )
    model = data.get("model")
    cost = data.get("cost")
    return StatusInput(
        session_id=_text(data.get("session_id")),
        transcript_path=_text(data.get("transcript_path")),
        model=_text(model.get("display_name") or model.get("id"))
        if isinstance(model, dict)
        else _text(model),
        agent_cost_usd=_number(cost.get("total_cost_usd")) if isinstance(cost, dict) else None,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# -- catching up --------------------------------------------------------------------------


def transcript_roots(transcript: str) -> list[Path]:
    """The session's transcript and the folder of its subagents' transcripts
    (``<sessionId>.jsonl`` and ``<sessionId>/subagents/``, as Claude Code lays them out)."""
    path = Path(transcript).expanduser()
    return [path, path.with_suffix("") / "subagents"]


def is_claude_transcript(transcript: str) -> bool:
    """A Claude Code session file (``…/projects/<dir>/<sessionId>.jsonl``): another agent's
    status JSON may name its own log, which Claude Code's reader must not be given."""
    path = Path(transcript)
    return path.suffix == ".jsonl" and path.parent.parent.name == "projects"


def session_files(transcript: str) -> dict[str, tuple[int, int, int, int]]:
    """The session's files as a sync finds them (real paths), each with its device, inode,
    size and modification time: what a cursor keeps to tell that a file has not changed."""
    import os

    found: dict[str, tuple[int, int, int, int]] = {}
    visited: set[tuple[int, int]] = set()
    main, subagents = transcript_roots(transcript)
    pending = [str(subagents)]
    candidates = [str(main)]
    while pending:  # subagents' files, in subfolders too (a folder entered once: no loops)
        folder = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in visited:
                continue
            visited.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_dir():
                        pending.append(entry.path)
                    elif entry.name.endswith(".jsonl"):
                        candidates.append(entry.path)
        except OSError:
            continue
    for path in candidates:
        try:
            real = os.path.realpath(path)
            st = os.stat(real)
        except OSError:
            continue
        if not os.path.isdir(real):
            found[real] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return found


def up_to_date(reader: QuickReader, transcript: str) -> bool:
    """True when every file of the session is as the ledger last read it (so the reader and
    the ledger's write side need not be imported). A file the cursors do not know, or one
    that changed, sends the update the full way, whose discovery and cursors decide."""
    files = session_files(transcript)
    return reader.cursor_stats(list(files)) == files


def catch_up(ledger: Ledger, transcript: str) -> bool:
    """Read what is new in one session's files into the ledger, with the cursors and writes a
    full sync uses (so a later ``tokentrail sync`` goes on from here and counts nothing twice).
    Returns False when another process held the ledger's write lock: nothing was written."""
    from tokentrail.agents.claude_code.reader import ClaudeCodeSource
    from tokentrail.errors import LedgerBusy
    from tokentrail.sync import SyncSummary, plan_tasks, run_job

    source = ClaudeCodeSource()
    files = [(source, file) for file in source.discover(transcript_roots(transcript))]
    if not files:
        return True
    cursors = ledger.store.cursors([file.path for _, file in files])
    tasks = plan_tasks(files, cursors, SyncSummary(), machine=ledger.machine)
    if not tasks:
        return True
    try:
        run_job(ledger, tasks)
    except LedgerBusy:
        return False
    return True


# -- reading ------------------------------------------------------------------------------


def quick_figures(
    reader: QuickReader, session_id: str | None, zone: tzinfo, zone_name: str, now: datetime
) -> StatusFigures:
    """The figures from the quick reader: the same rollups, session totals and block rules
    as :func:`read_figures` on a store, with a fraction of the imports."""
    from tokentrail.blocks import BlocksQuery, active_block
    from tokentrail.figures import UsageFigures
    from tokentrail.periods import local_midnight_ms

    session_totals = reader.session_totals(session_id) if session_id is not None else None
    day = now.astimezone(zone).date()
    today = reader.totals(
        local_midnight_ms(day, zone), local_midnight_ms(day + timedelta(days=1), zone)
    )
    blocks = active_block(
        reader, BlocksQuery(zone=zone, zone_name=zone_name, sources=(SOURCE,)), now=now
    )
    return StatusFigures(
        session=None if session_totals is None else UsageFigures.from_totals(session_totals),
        today=UsageFigures.from_totals(today),
        block=next((row for row in blocks.rows if row.active), None),
        now_ms=int(now.timestamp() * 1000),
    )


def read_figures(
    store: Store, session_id: str | None, zone: tzinfo, zone_name: str, now: datetime
) -> StatusFigures:
    from tokentrail.blocks import BlocksQuery, active_block
    from tokentrail.figures import UsageFigures
    from tokentrail.periods import local_midnight_ms
    from tokentrail.store.base import Filters, Totals

    session = None
    if session_id is not None:
        rows = store.session_totals(Filters(), by_model=False, family=[session_id])
        if rows:
            session = UsageFigures.from_totals(sum((r.totals for r in rows), Totals.zero()))
    day = now.astimezone(zone).date()
    today = Filters(
        since_ms=local_midnight_ms(day, zone),
        until_ms=local_midnight_ms(day + timedelta(days=1), zone),
    )
    blocks = active_block(
        store, BlocksQuery(zone=zone, zone_name=zone_name, sources=(SOURCE,)), now=now
    )
    active = next((row for row in blocks.rows if row.active), None)
    return StatusFigures(
        session=session,
        today=UsageFigures.from_totals(store.totals(today)),
        block=active,
        now_ms=int(now.timestamp() * 1000),
    )


# -- the line -----------------------------------------------------------------------------


def usd(value: float | None) -> str:
    """Dollars for a narrow bar, or "unpriced" when nothing could be priced."""
    return "unpriced" if value is None else usd_compact(value)


def tokens(value: int | None) -> str:
    return "tokens not reported" if value is None else f"{tokens_compact(value)} tok"


def render(fields: Sequence[str], info: StatusInput, figures: StatusFigures, *, busy: bool) -> str:
    parts = [_field(name, info, figures) for name in fields]
    line = SEPARATOR.join(p for p in parts if p)
    return f"{line} {BUSY_MARKER}" if busy else line


def _field(name: str, info: StatusInput, figures: StatusFigures) -> str:
    if name == "model":
        return info.model or ""
    if name == "agent_cost":
        return f"CC {usd(info.agent_cost_usd)}" if info.agent_cost_usd is not None else ""
    if name == "session":
        s = figures.session
        if s is None:
            return "session: nothing recorded yet"
        return f"session {usd(s.cost_usd)} · {tokens(s.total_tokens)}"
    if name == "today":
        today = figures.today
        return f"today {usd(today.cost_usd) if today.requests else usd(0.0)}"
    if name == "block":
        block = figures.block
        if block is None:
            return "no active block"
        left = duration_compact((block.end_ms - figures.now_ms) / 1000)
        rate = block.burn_rate
        if rate is None or rate.cost_usd_per_hour is None:
            return f"block {left} left"
        return f"block {left} left · {usd(rate.cost_usd_per_hour)}/h"
    raise ValueError(f"unknown statusline field {name!r}")  # parse_fields checked the names


# -- the command --------------------------------------------------------------------------


def status_line(
    raw: bytes,
    *,
    database: str | None = None,
    fields: Sequence[str] | None = None,
    now: datetime | None = None,
) -> str:
    """The line for one status update (``raw``: the agent's JSON). Raises on any problem;
    :func:`main` turns that into a one-line message.

    The quick way first: when the session's files are as the ledger last read them, the
    figures come from the quick reader (:mod:`tokentrail.store.quick`) and neither the
    transcript reader nor the ledger's write side is imported. Otherwise the new lines are
    read and recorded as a sync records them, then the figures are read."""
    from tokentrail.config import load_config, resolve_database
    from tokentrail.periods import resolve_timezone

    info = parse_input(raw)
    config = load_config()
    chosen = tuple(fields) if fields else config.statusline_fields or DEFAULT_FIELDS
    location = resolve_database(database, config)
    transcript = info.transcript_path
    if transcript is not None and not is_claude_transcript(transcript):
        transcript = None
    zone, zone_name = resolve_timezone(None)
    moment = now or datetime.now(UTC)
    reader = _quick_reader(location)
    try:
        if reader is not None and (transcript is None or up_to_date(reader, transcript)):
            figures = quick_figures(reader, info.session_id, zone, zone_name, moment)
            return render(chosen, info, figures, busy=False)
    finally:
        if reader is not None:
            reader.close()
    return _full_way(info, chosen, database, config, transcript, zone, zone_name, moment)


def _quick_reader(location: str) -> QuickReader | None:
    if "://" in location:
        return None  # a team ledger: the full way
    from tokentrail.store.quick import NotQuick, QuickReader

    try:
        return QuickReader(location)
    except NotQuick:
        return None


def _full_way(
    info: StatusInput,
    chosen: Sequence[str],
    database: str | None,
    config: Config,
    transcript: str | None,
    zone: tzinfo,
    zone_name: str,
    now: datetime,
) -> str:
    """Catch up with the ledger's write side (creating or migrating the ledger if need be),
    then answer."""
    from tokentrail.ledger import Ledger

    with Ledger(database, config=config, busy_timeout_s=BUSY_TIMEOUT_S) as ledger:
        written = catch_up(ledger, transcript) if transcript is not None else True
        reader = _quick_reader(ledger.database)
        if reader is None:  # a team ledger
            figures = read_figures(ledger.store, info.session_id, zone, zone_name, now)
    if reader is not None:  # what was just written, read as the quick way reads it
        with reader:
            figures = quick_figures(reader, info.session_id, zone, zone_name, now)
    return render(chosen, info, figures, busy=not written)


def main(raw: bytes, *, database: str | None, fields: str | None) -> str:
    """Never raises: an error is a short line in the status bar, not a traceback in it."""
    try:
        return status_line(
            raw, database=database, fields=parse_fields(fields) if fields is not None else None
        )
    except TokentrailError as exc:
        return f"tokentrail: {_first_line(str(exc))}"
    except Exception as exc:  # a bug must not fill someone's status bar with a traceback
        return f"tokentrail: error {type(exc).__name__}: {_first_line(str(exc))}"


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"
