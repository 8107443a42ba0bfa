"""Roo Code (RooCodeInc/Roo-Code): task folders of the VS Code extension.

Where: ``globalStorage/rooveterinaryinc.roo-cline/tasks/<task>/`` in every VS Code host (see
:func:`tokentrail.agents.cline.tasks.vscode_roots`). The format and the counting rules are in
:mod:`tokentrail.agents.cline.tasks`. Roo's ``tokensIn`` holds the whole prompt (cache reads
and writes inside it) since 2025-10-31, and before that for OpenAI-style providers.
"""

from __future__ import annotations

from typing import ClassVar

from tokentrail.agents.cline.tasks import ROO_TOTAL_INPUT_SINCE, Dialect, TaskFolderSource
from tokentrail.agents.roo import AGENT

SOURCE = AGENT.name
DIALECT = Dialect(SOURCE, ("rooveterinaryinc.roo-cline",), ROO_TOTAL_INPUT_SINCE)


class RooSource(TaskFolderSource):
    """Roo Code's task folders in VS Code, VS Code Insiders, Cursor, Windsurf and VSCodium."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override
    dialect: ClassVar[Dialect] = DIALECT
