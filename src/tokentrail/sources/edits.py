"""Lines an edit tool call adds and removes, counted from its arguments (never stored).

One rule per kind of edit (docs/insights.md, "Efficiency"):

* a replacement (Claude Code ``Edit``, each edit of ``MultiEdit``, Gemini ``replace``): the
  old and new text are compared line by line, as ``diff`` would, so unchanged lines around
  the change are not counted;
* a whole-file write (Claude Code ``Write``, Gemini ``write_file``): every line of the content
  is added; what it replaced is not in the call, so removed lines are unknown (None);
* a patch (Codex ``apply_patch``): lines starting with ``+`` are added and lines starting with
  ``-`` removed, headers (``***``, ``+++``, ``---``, ``@@``) excluded. A deleted file lists no
  lines, so it counts none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from difflib import SequenceMatcher
from typing import Any

LineCounts = tuple[int | None, int | None]
"""(added, removed); None = not known."""

NOT_AN_EDIT: LineCounts = (None, None)


def _lines(text: str) -> list[str]:
    return text.splitlines()


MAX_DIFF_CELLS = 100_000
"""Largest (old lines × new lines) compared in order, as ``diff`` does: that takes quadratic
time (minutes for a few thousand repetitive lines), and one huge edit must not stall a sync.
Past it the lines are compared as multisets (a line removed as often as it is added is
unchanged), which is linear and equal to the in-order count unless lines moved."""


def replacement(old: object, new: object) -> LineCounts:
    """Lines changed by replacing ``old`` with ``new`` (both strings, else unknown)."""
    if not isinstance(old, str) or not isinstance(new, str):
        return NOT_AN_EDIT
    before, after = _changed_middle(_lines(old), _lines(new))
    if len(before) * len(after) > MAX_DIFF_CELLS:
        old_lines, new_lines = Counter(before), Counter(after)
        return (new_lines - old_lines).total(), (old_lines - new_lines).total()
    added = removed = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


def _changed_middle(before: list[str], after: list[str]) -> tuple[list[str], list[str]]:
    """Both sides without the lines they start and end with in common."""
    start = 0
    limit = min(len(before), len(after))
    while start < limit and before[start] == after[start]:
        start += 1
    end = 0
    while end < limit - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return before[start : len(before) - end], after[start : len(after) - end]


def write(content: object) -> LineCounts:
    """A whole-file write: its lines are added; what it replaced is unknown."""
    if not isinstance(content, str):
        return NOT_AN_EDIT
    return len(_lines(content)), None


def patch(text: object) -> LineCounts:
    """``+``/``-`` lines of a patch (Codex's ``*** Begin Patch`` format or a unified diff)."""
    if not isinstance(text, str):
        return NOT_AN_EDIT
    added = removed = 0
    for line in text.splitlines():
        if line.startswith(("***", "+++", "---", "@@")):
            continue
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return added, removed


def combine(counts: list[LineCounts]) -> LineCounts:
    """Sum of several edits (MultiEdit); a side is None only when no edit knew it."""
    added = [a for a, _ in counts if a is not None]
    removed = [r for _, r in counts if r is not None]
    return (sum(added) if added else None, sum(removed) if removed else None)


CLAUDE_EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})


def claude_code(name: str, arguments: object) -> LineCounts:
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


def gemini(name: str, arguments: object) -> LineCounts:
    """Gemini CLI: ``replace`` (old_string/new_string), ``write_file`` (content)."""
    if not isinstance(arguments, Mapping):
        return NOT_AN_EDIT
    if name in ("replace", "edit"):
        return replacement(arguments.get("old_string"), arguments.get("new_string"))
    if name == "write_file":
        return write(arguments.get("content"))
    return NOT_AN_EDIT


def codex_patch_text(name: str, arguments: Any) -> str | None:
    """The patch of a Codex call: ``apply_patch``'s input, or the patch handed to a shell
    call as ``["apply_patch", "<patch>"]`` (older versions) or a heredoc."""
    if name == "apply_patch":
        if isinstance(arguments, str):
            return arguments
        if isinstance(arguments, Mapping):
            text = arguments.get("input") or arguments.get("patch")
            return text if isinstance(text, str) else None
        return None
    if isinstance(arguments, Mapping):
        command = arguments.get("command")
        if isinstance(command, list):
            for part in command:
                if isinstance(part, str) and "*** Begin Patch" in part:
                    return part
    return None
