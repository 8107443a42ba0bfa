"""Lines an edit tool call adds and removes, counted from its arguments (never stored).

The rules every agent's edit-line counter is made of (each agent's own counter, which maps
its tool names and arguments onto these, is ``tokentrail.agents.<name>.edits``). One rule per
kind of edit (docs/insights.md, "Efficiency"):

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
    from difflib import SequenceMatcher  # only a sync that meets an edit pays for its import

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
