"""Gemini CLI's edit-line counter: which of its tools edit, and where their text is."""

from __future__ import annotations

from collections.abc import Mapping

from tokentrail.sources.edits import NOT_AN_EDIT, LineCounts, replacement, write


def count_lines(name: str, arguments: object) -> LineCounts:
    """Gemini CLI: ``replace`` (old_string/new_string), ``write_file`` (content)."""
    if not isinstance(arguments, Mapping):
        return NOT_AN_EDIT
    if name in ("replace", "edit"):
        return replacement(arguments.get("old_string"), arguments.get("new_string"))
    if name == "write_file":
        return write(arguments.get("content"))
    return NOT_AN_EDIT
