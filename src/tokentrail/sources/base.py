"""What every source (one agent's log format) provides: the :class:`Source` protocol.

A source is pure parsing: it finds its files and turns their bytes into usage events,
sessions and counted skips. It never touches the store; the ledger decides what is new.

What a reader is made of lives beside this module: :mod:`~tokentrail.sources.discovery`
(the one discovery walk), :mod:`~tokentrail.sources.files` (a file, :func:`open_regular`,
the cursor and the result of a read), :mod:`~tokentrail.sources.lines` (the chunked line
reader with its byte pre-filter), :mod:`~tokentrail.sources.values` (times, counts, costs),
:mod:`~tokentrail.sources.jsonl` (JSON records and the JSON-lines parser) and
:mod:`~tokentrail.sources.sqlite` (agents' own databases).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Protocol

from tokentrail.errors import BadRecord
from tokentrail.sources.files import ParseResult, ParseState, SourceFile

__all__ = ["BadRecord", "Source"]
"""``BadRecord`` is importable from here, where readers raise it (docs/architecture.md)."""


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
