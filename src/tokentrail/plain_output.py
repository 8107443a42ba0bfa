"""A plain table without rich: what :func:`tokentrail.output.print_fitted` prints on a piped
or redirected console, drawn here byte for byte where it can be, so the quick answers
(``blocks --active``) need not import rich. Anything rich would draw differently is left to it
(each function returns None then)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from tokentrail.output import Column, fit_columns

PLAIN_WIDTH = 160
"""The width :func:`new_console` gives a piped or redirected console."""
_RICH_ENVIRONMENT = (
    "COLUMNS",
    "LINES",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
)
"""Variables that change how rich draws (its width, or drawing for a terminal)."""
_ONE_CELL = frozenset("—→·…")
"""Characters above U+02FF that every terminal, and rich, draws one cell wide."""


def plain_width() -> int | None:
    """The console width when rich would draw for a plain pipe or file (no terminal, no colour
    forced, UTF-8, no width set), as :func:`new_console` makes it: output that
    :func:`plain_table` can draw without importing rich. None otherwise."""
    import sys

    stdout = sys.stdout
    encoding = (getattr(stdout, "encoding", None) or "").lower().replace("_", "-")
    if sys.platform == "win32" or encoding not in ("utf-8", "utf8"):
        return None
    if any(name in os.environ for name in _RICH_ENVIRONMENT):
        return None
    try:
        if stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return PLAIN_WIDTH


def is_plain_text(text: str) -> bool:
    """True when rich would print ``text`` as it is, one cell per character: no markup to
    read (``[``), no emoji code (``:name:``), no control, wide or combining character."""
    if "[" in text or "\\" in text or _looks_like_emoji_code(text):
        return False
    return all(" " <= c <= "~" or "\xa0" <= c <= "\u02ff" or c in _ONE_CELL for c in text)


def _looks_like_emoji_code(text: str) -> bool:
    """``:name:`` where ``name`` could be one of rich's emoji codes (letters, digits, ``_``,
    ``+``, ``-``: ``:thumbs_up:``, ``:+1:``); rich would replace a known one."""
    parts = text.split(":")
    return any(part and all(c.isalnum() or c in "_+-" for c in part) for part in parts[1:-1])


def plain_table(title: str, columns: Sequence[Column], width: int) -> str | None:
    """What :func:`print_fitted` prints (no footer) on a plain console ``width`` wide, drawn
    here; None when only rich can draw it (a column to leave out, a cell to cut, a table
    wider than the console, text rich would read as markup)."""
    texts = [title, *(c.header for c in columns), *(cell for c in columns for cell in c.cells)]
    if any(c.max_width is not None for c in columns) or not all(map(is_plain_text, texts)):
        return None
    if fit_columns(list(columns), width) != list(columns):
        return None
    widths = [c.width for c in columns]
    inner = sum(widths) + 2 * (len(columns) - 1)
    total = inner + 2  # SIMPLE_HEAD's edges are a space each side
    if total > width or len(title) > total:
        return None
    left = (total - len(title)) // 2
    lines = [" " * left + title + " " * (total - len(title) - left), " " * total]
    lines.append(_plain_row([c.header for c in columns], columns, widths))
    lines.append(" " + "─" * inner + " ")
    for index in range(len(columns[0].cells) if columns else 0):
        lines.append(_plain_row([c.cells[index] for c in columns], columns, widths))
    lines.append(" " * total)
    return "\n".join(lines) + "\n"


def _plain_row(cells: Sequence[str], columns: Sequence[Column], widths: Sequence[int]) -> str:
    padded = [
        cell.rjust(width) if column.right else cell.ljust(width)
        for cell, column, width in zip(cells, columns, widths, strict=True)
    ]
    return " " + "  ".join(padded) + " "


def plain_line(text: str, width: int) -> str | None:
    """``console.print(escape(text))`` on a plain console: the text and a newline, when it
    fits one line; None when rich would wrap it or read something in it."""
    if len(text) > width or not is_plain_text(text):
        return None
    return text + "\n"
