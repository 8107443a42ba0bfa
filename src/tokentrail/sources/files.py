"""The files a reader reads: what discovery yields (:class:`SourceFile`), how one is opened
without ever blocking on one that is not a regular file (:func:`open_regular`), where the
last read of it stopped (:class:`ParseState`) and what a read found (:class:`ParseResult`)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.usage import Session, Skip, ToolCall, ToolResult, UsageEvent

FileKind = Literal["append", "whole", "database"]
"""How a file changes: ``append`` (JSONL, read from the last offset), ``whole`` (a document
rewritten in place, re-read when it changes) or ``database`` (an agent's own SQLite file)."""


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
