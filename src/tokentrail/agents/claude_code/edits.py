"""Claude Code's edit-line counter: which of its tools edit, and where their text is."""

from __future__ import annotations

from collections.abc import Mapping

from tokentrail.sources.edits import NOT_AN_EDIT, LineCounts, combine, replacement, write

EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})


def count_lines(name: str, arguments: object) -> LineCounts:
    """Claude Code: ``Edit`` (old_string/new_string), ``MultiEdit`` (edits[]), ``Write``
    (content). Other tools change no lines the logs can show."""
    if not isinstance(arguments, Mapping):
        return NOT_AN_EDIT
    if name == "Edit":
        return replacement(arguments.get("old_string"), arguments.get("new_string"))
    if name == "MultiEdit":
        edits = arguments.get("edits")
        if not isinstance(edits, list):
            return NOT_AN_EDIT
        return combine(
            [
                replacement(e.get("old_string"), e.get("new_string"))
                for e in edits
                if isinstance(e, Mapping)
            ]
        )
    if name == "Write":
        return write(arguments.get("content"))
    return NOT_AN_EDIT
