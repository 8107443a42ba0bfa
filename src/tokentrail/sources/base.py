"""What every source (one agent's log format) provides, and the shared line reader.

A source is pure parsing: it finds its files and turns their bytes into usage events,
sessions and counted skips. It never touches the store; the ledger decides what is new.
"""

from __future__ import annotations

import math
import os
import sqlite3
import stat
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal, Protocol
from urllib.parse import quote

import orjson

from tokentrail import sync_walk
from tokentrail.errors import BadRecord as BadRecord  # its home before errors.py
from tokentrail.ingest import MAX_COUNT
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.usage import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    Session,
    Skip,
    ToolCall,
    ToolResult,
    UsageEvent,
)

FileKind = Literal["append", "whole", "database"]
"""How a file changes: ``append`` (JSONL, read from the last offset), ``whole`` (a document
rewritten in place, re-read when it changes) or ``database`` (an agent's own SQLite file)."""

CHUNK_BYTES = 32 * 1024 * 1024
"""Bytes read at a time: most files are read in one piece (no copies), and memory stays
bounded on files of hundreds of megabytes."""


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file a source wants read."""

    source: str
    path: str
    kind: FileKind = "append"
    problem: str | None = None
    """Set when discovery could not look inside this path (a folder it may not list): the
    sync reports it, and finds the files in it on the first sync after it becomes readable."""


def unlisted_folder(source: str, path: str, error: OSError) -> SourceFile:
    """What discovery yields for a folder it cannot list, so the sync reports it every time
    instead of missing its files without a word."""
    return SourceFile(source, path, problem=f"cannot list this folder: {error.strerror or error}")


# -- discovery ----------------------------------------------------------------------------


def find_files(
    source: str,
    roots: Sequence[Path],
    patterns: Mapping[str, FileKind],
    *,
    root_files: Mapping[str, FileKind] | None = None,
    real_paths: bool = False,
) -> Iterator[SourceFile]:
    """Every file under ``roots`` that one of ``patterns`` names, once each (in the order of
    ``patterns``, then of paths), after a :class:`SourceFile` with a ``problem`` for each
    folder that cannot be looked in.
    Every reader's ``discover`` is this call, so all agents find files the same way:

    * ``patterns`` maps a path relative to a root to the kind of file it names, e.g.
      ``{"**/*.jsonl": "append"}`` or ``{"*/chats/session-*.json": "whole"}``. Segments are
      separated by ``/``; each is an :mod:`fnmatch` pattern (``*``, ``?``, ``[...]``, matched
      case-sensitively, never across a ``/``), and ``**`` stands for any number of folders,
      none included. The first pattern that matches gives the kind; only folders a pattern
      can reach are listed.
    * ``root_files`` maps a file name pattern to a kind for a root that is itself a file
      (``{"*.jsonl": "append"}``, for a log named directly); without it, a root must be a folder.
    * ``real_paths`` yields each file by its real path (symlinks resolved), so a file reached
      through two roots or a link is one file; otherwise paths are the root joined with the
      names found (``root / "proj" / "chats" / "x.jsonl"``), and cursors are kept by them.

    A name that matches is yielded whatever it is: a FIFO, a device or a socket named like a
    log is then skipped by the sync with the reason ``not_a_regular_file`` (the parse opens
    it with :func:`open_regular`, which never blocks), not left out without a word. A link
    to nothing is left out, like a missing file. Folder links are followed, each folder
    (device and inode) entered once, so a link loop ends the walk. A missing root is what an
    agent that is not installed looks like: nothing is yielded. A folder that cannot be
    listed, or a root hidden by a parent that cannot be looked in (``chmod 000`` on the
    folder holding it), is yielded as :func:`unlisted_folder`, which the sync reports on every
    sync; its files are found on the first sync after it becomes readable.
    """
    compiled = [(tuple(pattern.split("/")), kind) for pattern, kind in patterns.items()]
    walk = _Walk(compiled, real_paths)
    for root in roots:
        walk.root(Path(root), root_files or {})
    for path in walk.problems:
        yield SourceFile(source, path, problem=walk.problems[path])
    for (_, path), kind in sorted(walk.found.items()):
        yield SourceFile(source, path, kind)


_Pattern = tuple[tuple[str, ...], FileKind]
_Position = tuple[int, int]
"""How far a folder is into a pattern: (which pattern, how many of its segments matched)."""


class _Walk:
    """One discovery's walk: what it found, what it could not list, where it has been."""

    def __init__(self, patterns: Sequence[_Pattern], real_paths: bool) -> None:
        self.patterns = patterns
        self.real_paths = real_paths
        self.found: dict[tuple[int, str], FileKind] = {}
        """By (the index of the pattern that found it, path); a root named directly is -1."""
        self.paths: set[str] = set()
        self.problems: dict[str, str] = {}
        self.visited: set[tuple[int, int]] = set()

    def root(self, root: Path, root_files: Mapping[str, FileKind]) -> None:
        try:
            info = os.stat(root)
        except (FileNotFoundError, NotADirectoryError):
            sync_walk.saw(str(root), None)
            return  # not installed (or a link to nothing): normal
        except OSError as error:
            sync_walk.doubt()
            self._hidden_root(root, error)
            return
        sync_walk.saw(str(root), info)
        if stat.S_ISDIR(info.st_mode):
            start = self._advance({(index, 0) for index in range(len(self.patterns))})
            self._folder(str(root), start, (info.st_dev, info.st_ino), self._real(str(root)))
            return
        kind = next((k for name, k in root_files.items() if fnmatchcase(root.name, name)), None)
        if kind is not None:
            self._add(self._real(str(root)), -1, kind)

    def _hidden_root(self, root: Path, error: OSError) -> None:
        """A root whose stat failed for another reason than being absent: the nearest parent
        that exists is the folder that cannot be looked in (or the root itself)."""
        if not isinstance(error, PermissionError):
            return  # NotADirectoryError, a link loop ...: nothing to read there
        for parent in root.parents:
            try:
                os.stat(parent)
            except OSError:
                continue
            self._problem(str(parent), error)
            return

    def _real(self, path: str) -> str:
        """The real path of a root or a link, when paths are yielded real."""
        return os.path.realpath(path) if self.real_paths else path

    def _folder(
        self, path: str, positions: set[_Position], identity: tuple[int, int], real: str
    ) -> None:
        """Walk a folder; ``real`` is its real path (resolved once here, so a file inside
        that is not a link is ``real`` joined with its name, without a ``realpath`` each)."""
        if identity in self.visited:
            return
        self.visited.add(identity)
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except FileNotFoundError:
            sync_walk.doubt()
            return  # removed since it was found
        except OSError as error:
            self._problem(path, error)
            return
        for entry in entries:
            self._entry(entry, positions, real)

    def _entry(self, entry: os.DirEntry[str], positions: set[_Position], folder_real: str) -> None:
        real = (
            self._real(entry.path) if entry.is_symlink() else os.path.join(folder_real, entry.name)
        )
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False  # a link into a folder we may not look in: a file, reported
        if is_folder:
            inside = self._advance(self._step(positions, entry.name))
            if inside:
                try:
                    info = os.stat(entry.path)
                except OSError:
                    sync_walk.doubt()
                    return  # removed since it was listed
                sync_walk.saw(entry.path, info)
                self._folder(entry.path, inside, (info.st_dev, info.st_ino), real)
            return
        pattern = self._pattern(positions, entry.name)
        if pattern is None:
            return
        try:
            if not entry.is_file():
                os.stat(entry.path)  # a FIFO or device is kept; a link to nothing is not
        except FileNotFoundError:
            sync_walk.doubt()  # a link to nothing: it may come to point somewhere
            return
        except OSError:
            pass  # cannot tell: kept, and the sync reports why it cannot be read
        if self.real_paths and entry.is_symlink():
            sync_walk.linked(entry.path, real)
        self._add(real if self.real_paths else entry.path, pattern, self.patterns[pattern][1])

    def _step(self, positions: set[_Position], name: str) -> set[_Position]:
        """Where a folder called ``name`` is, inside a folder at ``positions``."""
        moved: set[_Position] = set()
        for index, done in positions:
            segments = self.patterns[index][0]
            if done >= len(segments) - 1:
                continue  # only a file can match the last segment
            if segments[done] == "**":
                moved.add((index, done))
            elif fnmatchcase(name, segments[done]):
                moved.add((index, done + 1))
        return moved

    def _advance(self, positions: set[_Position]) -> set[_Position]:
        """``positions`` with each ``**`` also taken as no folder at all."""
        pending, closed = list(positions), set(positions)
        while pending:
            index, done = pending.pop()
            segments = self.patterns[index][0]
            if done < len(segments) - 1 and segments[done] == "**":
                following = (index, done + 1)
                if following not in closed:
                    closed.add(following)
                    pending.append(following)
        return closed

    def _pattern(self, positions: set[_Position], name: str) -> int | None:
        """The first pattern a file called ``name`` completes, if any."""
        matching = [
            index
            for index, done in positions
            if done == len(self.patterns[index][0]) - 1
            and fnmatchcase(name, self.patterns[index][0][done])
        ]
        return min(matching) if matching else None

    def _add(self, path: str, pattern: int, kind: FileKind) -> None:
        if path not in self.paths:
            self.paths.add(path)
            self.found[pattern, path] = kind

    def _problem(self, path: str, error: OSError) -> None:
        self.problems.setdefault(path, unlisted_folder("", path, error).problem or "")


class NotRegularFile(OSError):
    """A log path that is a FIFO, a device, a socket or a folder: reading it could block
    forever (a FIFO) or never end (``/dev/zero``), so it is skipped with this reason."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.kind = kind


_SPECIAL_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: str) -> BinaryIO:
    """Open a log file for reading, refusing anything but a regular file (after symlinks).

    The open itself does not block on a FIFO (``O_NONBLOCK``, which changes nothing for a
    regular file); the type is checked on the open descriptor, so a file swapped for a FIFO
    or a link to a device after discovery is caught too. Raises :class:`NotRegularFile`, or
    the ``OSError`` of the open (missing, permission denied).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "a special file")
            raise NotRegularFile(path, kind)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str) -> bytes:
    """The whole of a regular file (see :func:`open_regular`)."""
    with open_regular(path) as handle:
        return handle.read()


@dataclass(slots=True)
class ParseState:
    """Where parsing of a file stopped, and what the parser must remember to go on from there.

    ``offset`` is the byte just after the last complete line consumed; ``line_no`` the number
    of lines before it; ``memory`` a small JSON-serialisable dict owned by the parser (for
    example the current model of a Codex rollout, or the last cumulative token total).
    """

    offset: int = 0
    line_no: int = 0
    memory: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ParseResult:
    """What parsing a file (or its new bytes) produced."""

    events: list[UsageEvent] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    state: ParseState = field(default_factory=ParseState)
    duplicates: int = 0
    """Records dropped as repeats inside the file (e.g. a Codex total that did not grow, or a
    forked rollout replaying its parent's history)."""
    retry: bool = False
    """True when the source could not read everything it should have (e.g. a database locked
    by its writer): the sync keeps what was read but looks at the file again next time."""
    pending_partial_line: bool = False
    """True when the file ends in a line without a newline that is not yet valid JSON
    (being written, or truncated); it is left unconsumed and re-read next time."""
    rate_limits: list[RateLimitSnapshot] = field(default_factory=list)
    """Official rate-limit figures the agent logged (Codex ``rate_limits``), numbers only."""
    tool_calls: list[ToolCall | ToolResult] = field(default_factory=list)
    """Tool calls and their results (names, times, outcomes, lines an edit changed: never
    their text), as read; a call's result may come in a later read of the file."""


class Source(Protocol):
    """One agent's log format."""

    name: ClassVar[str]
    """Stable identifier stored with every event, e.g. ``"claude_code"``."""

    parser_version: ClassVar[int]
    """Bump when parsing changes meaning; files parsed by an older version are re-read."""

    env_var: ClassVar[str]
    """tokentrail's own override, e.g. ``TOKENTRAIL_CLAUDE_CODE_PATHS`` (os.pathsep list)."""

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Where the agent keeps its logs, from ``HOME`` and the agent's own variables."""
        ...

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Every file under ``roots`` worth reading. A missing root is normal, not an error."""
        ...

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        """Parse ``file`` from ``state`` on; return what was found and the state to resume from."""
        ...


@dataclass(frozen=True, slots=True)
class Line:
    number: int  # 1-based
    data: bytes
    token: int = -1
    """With a pre-filter: the index of the first of its byte strings this line holds (it holds
    none of those before it), so a parser knows without scanning the line again."""


@dataclass(frozen=True, slots=True)
class LinesEnd:
    """The last item of :func:`iter_complete_lines`: where to resume, and whether a partial
    line (no newline, not valid JSON yet) was left unconsumed at the end of the file."""

    state: ParseState
    pending_partial_line: bool


def iter_complete_lines(
    path: str, state: ParseState, *, prefilter: Sequence[bytes] | None = None
) -> Iterator[Line | LinesEnd]:
    """Yield the complete lines of ``path`` after ``state.offset``, then the state to resume from.

    Lines that contain none of the ``prefilter`` byte strings are counted but not yielded:
    most bytes of agent logs are prompts and tool output, and skipping them before JSON
    parsing is the main speed-up. A final line without a newline is yielded only if it is
    already a complete JSON document; otherwise it is left for the next read. The last item
    yielded is always a :class:`LinesEnd`.
    """
    offset = state.offset
    line_no = state.line_no
    carry = b""
    with open_regular(path) as handle:
        if offset > 0 and _resumes_after_unterminated_line(handle, offset):
            offset += 1  # the newline that completed a line consumed without one
        handle.seek(offset)
        # ask for what the file holds (plus room to see it grew), not a whole chunk: a read
        # of CHUNK_BYTES allocates that much for every small file, which costs more than
        # reading it
        expected = os.fstat(handle.fileno()).st_size - offset
        while True:
            block = handle.read(min(CHUNK_BYTES, max(expected + 1, 64 * 1024)))
            expected -= len(block)
            if not block:
                break
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            # the complete lines are data[:cut + 1]; they are scanned in place, not copied
            line_no = yield from _lines_in(data, cut + 1, line_no, prefilter)
            offset += cut + 1
    pending = False
    if carry:
        if carry.strip() and _is_complete_json(carry):
            if prefilter is None:
                yield Line(line_no + 1, carry)
            else:
                token = next((i for i, t in enumerate(prefilter) if t in carry), -1)
                if token >= 0:
                    yield Line(line_no + 1, carry, token)
            line_no += 1
            offset += len(carry)
        else:
            pending = bool(carry.strip())
    yield LinesEnd(ParseState(offset, line_no, dict(state.memory)), pending)


def _lines_in(
    data: bytes, stop: int, line_no: int, prefilter: Sequence[bytes] | None
) -> Generator[Line, None, int]:
    """The lines of ``data[:stop]`` (which ends with a newline) worth parsing, numbered after
    ``line_no``; returns the number of the last line. With a pre-filter, only the lines around
    each match are cut out of the block, so the bulk of the bytes (prompts, tool output) is
    never copied or split."""
    if prefilter is None:
        parts = data[:stop].split(b"\n")
        parts.pop()  # the empty piece after the final newline
        for index, raw in enumerate(parts):
            yield Line(line_no + index + 1, raw)
        return line_no + len(parts)
    spans = _matching_lines(data, stop, prefilter)
    # newlines are counted in the lines between matches only: a matching line holds one
    counted_to = 0
    for start, end, token in spans:
        line_no += data.count(b"\n", counted_to, start) + 1
        counted_to = end + 1
        yield Line(line_no, data[start:end], token)
    return line_no + data.count(b"\n", counted_to, stop)


def _matching_lines(data: bytes, stop: int, tokens: Sequence[bytes]) -> list[tuple[int, int, int]]:
    """(start, end, token index) of each line of ``data[:stop]`` holding one of ``tokens``, in
    order. Each token is looked for only in the lines no earlier token matched: a line is
    scanned to its end once for the first token, and the later (rarer) tokens search only
    the gaps between lines already found, not the whole block again."""
    spans: list[tuple[int, int, int]] = []
    gaps = [(0, stop)]
    for index, token in enumerate(tokens):
        found_here: list[tuple[int, int, int]] = []
        for gap_start, gap_end in gaps:
            found = data.find(token, gap_start, gap_end)
            while found >= 0:
                start = max(data.rfind(b"\n", gap_start, found) + 1, gap_start)
                end = data.find(b"\n", found, gap_end)
                if end < 0:
                    end = gap_end
                found_here.append((start, end, index))
                found = data.find(token, end, gap_end)
        if not found_here:
            continue
        spans = sorted(spans + found_here) if spans else found_here
        gaps = _gaps_between(spans, stop)
    return spans


def _gaps_between(spans: Sequence[tuple[int, int, int]], stop: int) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    at = 0
    for start, end, _ in spans:
        if start > at:
            gaps.append((at, start))
        at = end + 1
    if at < stop:
        gaps.append((at, stop))
    return gaps


def _resumes_after_unterminated_line(handle: BinaryIO, offset: int) -> bool:
    """True when the last read consumed a final line that had no newline yet, and the
    newline has since been written: it belongs to that line, not to a new empty one."""
    handle.seek(offset - 1)
    previous, current = handle.read(1), handle.read(1)
    return previous != b"\n" and current == b"\n"


def _is_complete_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


def json_object(data: bytes) -> tuple[dict[str, Any] | None, str]:
    """A JSON-lines record decoded as an object, or None and why it is not one (the reason a
    reader gives with its ``malformed_json`` skip)."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return None, str(exc)
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not an object"
    return record, ""


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO 8601 string or epoch number (seconds or milliseconds) into aware UTC;
    None when it is not one, or is dated outside the years a request can be from."""
    parsed = _parse_timestamp(value)
    if parsed is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    return parsed


def _parse_timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Agents write UTC; a naive stamp is read as UTC rather than as local time.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def count_or_none(value: object, name: str) -> int | None:
    """A token count as an int, ``None`` when absent.

    Raises :class:`BadRecord` (reason ``invalid_count``) for negative, fractional or
    non-numeric values, and for counts above :data:`tokentrail.ingest.MAX_COUNT` (the bound
    HTTP and OTLP input have too: ``1e+20`` is a corrupt line, and would overflow the
    ledger's integers): a bad count is reported, never silently read as zero.
    """
    if value is None:
        return None
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value  # the usual case, checked in one go
    if isinstance(value, bool):
        raise BadRecord("invalid_count", f"{name}={value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise BadRecord("invalid_count", f"{name}={value!r}")
    if value > MAX_COUNT:
        raise BadRecord("invalid_count", f"{name}={value} is not a plausible token count")
    return value


def reported_cost(value: object) -> float | None:
    """A cost the agent wrote itself, in USD; ``None`` when absent or not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    cost = float(value)
    return cost if math.isfinite(cost) and cost >= 0 else None


def text_or_none(value: object) -> str | None:
    """A non-empty string, else ``None`` (absent, ``null``, empty or another type)."""
    if type(value) is str:
        return value or None
    return value if isinstance(value, str) and value else None


def env_paths(env: Mapping[str, str], name: str) -> list[Path] | None:
    """Paths from an ``os.pathsep``- or comma-separated environment variable, if set."""
    raw = env.get(name)
    if not raw:
        return None
    pieces = [p.strip() for chunk in raw.split(os.pathsep) for p in chunk.split(",")]
    return [Path(p).expanduser() for p in pieces if p]


# -- agents' own SQLite databases ---------------------------------------------------------


class SchemaError(Exception):
    """An agent's database does not have the tables and columns a parser reads."""


def open_sqlite_read_only(path: str, timeout: float) -> sqlite3.Connection:
    """Open an agent's SQLite database without ever writing to it.

    ``mode=ro`` writes nothing (no journal, no schema, no WAL checkpoint) and still reads the
    rows its writer keeps in the ``-wal`` file; ``timeout`` bounds the wait for a writer that
    holds a lock, so the agent is never locked out by us for longer than one read. The path
    is checked with :func:`open_regular` first, like every other log file.
    """
    with open_regular(path):
        pass  # a FIFO or a device named like a database: NotRegularFile, never a hang
    uri = f"file:{quote(str(Path(path).resolve()))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=timeout)
    connection.execute("PRAGMA query_only = ON")
    return connection


def database_failure(path: str, state: ParseState, error: Exception) -> ParseResult:
    """A database that could not be read now: reported, nothing consumed, read again next
    sync (the incoming ``state`` is returned unchanged)."""
    if isinstance(error, SchemaError):
        reason = "unexpected_schema"
    elif isinstance(error, sqlite3.OperationalError) and any(
        word in str(error) for word in ("locked", "busy")
    ):
        reason = "database_busy"  # its writer held it longer than the parser's timeout
    else:
        reason = "database_unreadable"  # corrupt, not a database, permission denied, ...
    return ParseResult(state=state, skips=[Skip(reason, path, None, str(error))], retry=True)


def table_columns(connection: sqlite3.Connection, tables: Sequence[str]) -> dict[str, set[str]]:
    """The columns of each of ``tables`` that exists (a missing table is left out)."""
    marks = ", ".join("?" * len(tables))
    present = [
        row[0]
        for row in connection.execute(
            f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({marks})",
            list(tables),
        )
    ]
    return {
        table: {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        for table in present
    }
