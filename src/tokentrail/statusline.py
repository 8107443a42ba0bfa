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

Most calls find nothing new in the session's files. Such a call is answered here, importing
little beyond the standard library's ``json``, ``sqlite3`` and ``zoneinfo`` (no dataclasses, no
typing, no pathlib: together two thirds of the time of a call that imported them): the files'
stats against the ledger's cursors, then the figures the last call kept for this session, zone
and local day at the ledger's current generation (:mod:`tokentrail.store.report_cache`: any
write makes them not found), while the active block they name has not ended. Anything else is
computed (:mod:`tokentrail.statusline_figures`), and kept for the next call.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from tokentrail.errors import ConfigError, TokentrailError
from tokentrail.formatting import duration_compact, tokens_compact, usd_compact

TYPE_CHECKING = False  # typing is not imported: a status line with nothing new answers before
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from tokentrail.config import Config
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
KEPT_KIND = "statusline"
"""The first part of the key the figures of a session are kept under in ``report_cache``."""


class StatusInputError(TokentrailError):
    """The JSON on standard input is not what an agent's status line sends."""


class StatusInput:
    """What of the agent's status JSON the line uses. (A plain class: a NamedTuple would
    import typing, a dataclass dataclasses, on every status update.)"""

    __slots__ = ("agent_cost_usd", "model", "session_id", "transcript_path")

    def __init__(
        self,
        session_id: str | None,
        transcript_path: str | None,
        model: str | None,
        agent_cost_usd: float | None,
    ) -> None:
        self.session_id = session_id
        self.transcript_path = transcript_path
        self.model = model
        self.agent_cost_usd = agent_cost_usd


class LineFigures:
    """The numbers the line shows: this session's cost and tokens (None: nothing recorded),
    today's cost and requests, the active block's end and cost per hour (``block_end_ms``
    None: no active block), at ``now_ms``. What is kept for the next call is all of it but
    ``now_ms`` (:meth:`kept_text`)."""

    __slots__ = (
        "block_cost_usd_per_hour",
        "block_end_ms",
        "now_ms",
        "session",
        "today_cost_usd",
        "today_requests",
    )

    def __init__(
        self,
        session: tuple[float | None, int | None] | None,
        today_cost_usd: float | None,
        today_requests: int,
        block_end_ms: int | None,
        block_cost_usd_per_hour: float | None,
        now_ms: int,
    ) -> None:
        self.session = session
        self.today_cost_usd = today_cost_usd
        self.today_requests = today_requests
        self.block_end_ms = block_end_ms
        self.block_cost_usd_per_hour = block_cost_usd_per_hour
        self.now_ms = now_ms

    def kept_text(self) -> str | None:
        """The figures as kept for a later call, or None when they must not be: without an
        active block (a request dated ahead of the clock could start one with nothing
        written)."""
        if self.block_end_ms is None:
            return None
        import json

        session = None if self.session is None else list(self.session)
        return json.dumps(
            [
                self.now_ms,
                session,
                self.today_cost_usd,
                self.today_requests,
                self.block_end_ms,
                self.block_cost_usd_per_hour,
            ]
        )

    @classmethod
    def from_kept(cls, text: str, now_ms: int) -> LineFigures | None:
        """The figures kept by :meth:`kept_text`, at ``now_ms``; None once their block has
        ended (the same ledger then has no active block, or a later one: computed again), or
        before they were computed. In between, the block holding now is the same one: another
        can start only at its end."""
        import json

        try:
            kept_at, session, today_cost, today_requests, block_end_ms, per_hour = json.loads(text)
            if not kept_at <= now_ms < block_end_ms:  # a clock set back: computed again too
                return None
            return cls(
                None if session is None else (session[0], session[1]),
                today_cost,
                today_requests,
                block_end_ms,
                per_hour,
                now_ms,
            )
        except (ValueError, TypeError, IndexError):  # not what this code keeps: computed
            return None


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


# -- the session's files ------------------------------------------------------------------


def _name_parts(path: str) -> list[str]:
    """The names in ``path`` as :class:`pathlib.PurePosixPath` reads them (empty names and
    ``.`` dropped), without importing pathlib."""
    return [name for name in path.split("/") if name and name != "."]


def transcript_paths(transcript: str) -> tuple[str, str]:
    """The session's transcript and the folder of its subagents' transcripts
    (``<sessionId>.jsonl`` and ``<sessionId>/subagents/``, as Claude Code lays them out)."""
    path = os.path.expanduser(transcript)
    root = "/" * (2 if path[:2] == "//" and path[2:3] != "/" else 1) if path[:1] == "/" else ""
    path = root + "/".join(_name_parts(path))  # as pathlib spells it: a "//" root is kept
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    stem = path[: len(path) - len(name) + dot] if 0 < dot < len(name) - 1 else path
    return path, f"{stem}/subagents"


def is_claude_transcript(transcript: str) -> bool:
    """A Claude Code session file (``…/projects/<dir>/<sessionId>.jsonl``): another agent's
    status JSON may name its own log, which Claude Code's reader must not be given."""
    parts = _name_parts(transcript)
    return (
        bool(parts)
        and parts[-1].endswith(".jsonl")
        and parts[-1] != ".jsonl"
        and (len(parts) >= 3 and parts[-3] == "projects")
    )


def session_files(transcript: str) -> dict[str, tuple[int, int, int, int]]:
    """The session's files as a sync finds them (real paths), each with its device, inode,
    size and modification time: what a cursor keeps to tell that a file has not changed."""
    found: dict[str, tuple[int, int, int, int]] = {}
    visited: set[tuple[int, int]] = set()
    main, subagents = transcript_paths(transcript)
    pending = [subagents]
    candidates = [main]
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


# -- the line -----------------------------------------------------------------------------


def usd(value: float | None) -> str:
    """Dollars for a narrow bar, or "unpriced" when nothing could be priced."""
    return "unpriced" if value is None else usd_compact(value)


def tokens(value: int | None) -> str:
    return "tokens not reported" if value is None else f"{tokens_compact(value)} tok"


def render(fields: Sequence[str], info: StatusInput, figures: LineFigures, *, busy: bool) -> str:
    parts = [_field(name, info, figures) for name in fields]
    line = SEPARATOR.join(p for p in parts if p)
    return f"{line} {BUSY_MARKER}" if busy else line


def _field(name: str, info: StatusInput, figures: LineFigures) -> str:
    if name == "model":
        return info.model or ""
    if name == "agent_cost":
        return f"CC {usd(info.agent_cost_usd)}" if info.agent_cost_usd is not None else ""
    if name == "session":
        if figures.session is None:
            return "session: nothing recorded yet"
        cost, total_tokens = figures.session
        return f"session {usd(cost)} · {tokens(total_tokens)}"
    if name == "today":
        today = usd(figures.today_cost_usd) if figures.today_requests else usd(0.0)
        return f"today {today}"
    if name == "block":
        if figures.block_end_ms is None:
            return "no active block"
        left = duration_compact((figures.block_end_ms - figures.now_ms) / 1000)
        per_hour = figures.block_cost_usd_per_hour
        if per_hour is None:
            return f"block {left} left"
        return f"block {left} left · {usd(per_hour)}/h"
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
    figures kept at the ledger's generation, else the quick reader's
    (:mod:`tokentrail.store.quick`), and neither the transcript reader nor the ledger's write
    side is imported. Otherwise the new lines are read and recorded as a sync records them,
    then the figures are read."""
    from tokentrail.cached_reports import local_zone_name

    info = parse_input(raw)
    chosen, location, config = _settings(database, fields)
    transcript = info.transcript_path
    if transcript is not None and not is_claude_transcript(transcript):
        transcript = None
    zone_name = local_zone_name()  # None: no IANA name (tzlocal's zone), nothing kept
    moment = now or datetime.now(UTC)
    key = kept_key(info.session_id, zone_name, moment) if zone_name is not None else None
    if location is not None:
        figures = _quick_way(location, info.session_id, transcript, key, moment)
        if figures is not None:
            return render(chosen, info, figures, busy=False)
    from tokentrail.statusline_figures import full_way

    figures, written = full_way(info.session_id, database, config, transcript, key, moment)
    return render(chosen, info, figures, busy=not written)


def _settings(
    database: str | None, fields: Sequence[str] | None
) -> tuple[tuple[str, ...], str | None, Config | None]:
    """The fields to show, the SQLite ledger's path (None: a team ledger) and the
    configuration: None when there is no configuration file, found without importing
    :mod:`tokentrail.config`."""
    from tokentrail.app_dirs import no_config_file
    from tokentrail.cached_reports import ledger_file, sqlite_path

    if no_config_file():
        return tuple(fields) if fields else DEFAULT_FIELDS, ledger_file(database), None
    from tokentrail.config import load_config, resolve_database

    config = load_config()
    chosen = tuple(fields) if fields else config.statusline_fields or DEFAULT_FIELDS
    return chosen, sqlite_path(resolve_database(database, config)), config


def kept_key(session_id: str | None, zone_name: str, now: datetime) -> str:
    """The key of a session's figures: they hold today's spend (the local day of ``now`` in
    the zone) and are computed by this version's code."""
    from zoneinfo import ZoneInfo

    from tokentrail.cached_reports import code_fingerprint

    day = now.astimezone(ZoneInfo(zone_name)).date().isoformat()
    fields = (KEPT_KIND, session_id or "", zone_name, day, code_fingerprint())
    return "\x1f".join(fields)


def _quick_way(
    location: str, session_id: str | None, transcript: str | None, key: str | None, now: datetime
) -> LineFigures | None:
    """The figures when the session's files are as the cursors last saw them: kept, or from
    the quick reader (and kept then); None when the full way has to answer."""
    from tokentrail.store.quick import NotQuick, QuickReader

    try:
        reader = QuickReader(location, check_schema=False)
    except NotQuick:
        return None
    try:
        with reader:
            if transcript is not None and not up_to_date(reader, transcript):
                return None
            now_ms = int(now.timestamp() * 1000)
            kept = reader.kept(key) if key is not None else None
            figures = LineFigures.from_kept(kept, now_ms) if kept is not None else None
            if figures is None:
                from tokentrail.statusline_figures import read_and_keep

                figures = read_and_keep(reader, session_id, key, now)
            return figures
    except NotQuick:
        return None


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
