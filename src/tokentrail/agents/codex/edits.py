"""Codex CLI's edit-line counter: its edits are patches, in ``apply_patch`` or a shell call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.sources.edits import NOT_AN_EDIT, LineCounts, patch


def count_lines(name: str, arguments: Any) -> LineCounts:
    """The ``+``/``-`` lines of the call's patch; not an edit when it carries none."""
    text = patch_text(name, arguments)
    return patch(text) if text is not None else NOT_AN_EDIT


def patch_text(name: str, arguments: Any) -> str | None:
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
