"""Kilo Code (Kilo-Org/kilocode): the extension's task folders and the CLI's database.

* The VS Code extension ``kilocode.kilo-code`` (a Roo Code fork) keeps Roo's task folders,
  ``globalStorage/kilocode.kilo-code/tasks/<task>/`` in every VS Code host: read by
  :mod:`tokentrail.agents.cline.tasks` with Roo's input rule (``tokensIn`` holds the whole
  prompt since Roo's 2025-10-31 change, which Kilo merged; before it for OpenAI-style
  providers).
* Kilo CLI 1.0 and the extensions built on it are an OpenCode fork: the same storage under
  ``$XDG_DATA_HOME/kilo`` (default ``~/.local/share/kilo``): ``kilo.db`` (``kilo-<channel>.db``
  for other release channels; Kilo ``packages/opencode/src/storage/db.ts``) and the legacy
  ``storage/`` JSON tree. Read by the OpenCode reader itself
  (:func:`tokentrail.agents.opencode.reader.parse_opencode_shaped`), keyed ``kilo:<id>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from tokentrail.agents.cline.tasks import (
    ROO_TOTAL_INPUT_SINCE,
    UI_MESSAGES,
    Dialect,
    discover_tasks,
    parse_task,
    vscode_roots,
)
from tokentrail.agents.kilo import AGENT
from tokentrail.agents.opencode.reader import (
    discover_opencode_shaped,
    parse_opencode_shaped,
    xdg_data_home,
)
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile

SOURCE = AGENT.name
DIALECT = Dialect(SOURCE, ("kilocode.kilo-code",), ROO_TOTAL_INPUT_SINCE)
FILES: dict[str, FileKind] = {
    "kilo.db": "database",
    "kilo-*.db": "database",  # another release channel's
    "storage/session/*/*.json": "whole",  # the legacy JSON tree
    "storage/message/*/*.json": "whole",
}


class KiloSource:
    """Kilo Code: the extension's task folders and the CLI's OpenCode-shaped storage."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return [xdg_data_home(env, home) / "kilo", *vscode_roots(DIALECT, env, home)]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        seen: set[str] = set()
        for file in (
            *discover_opencode_shaped(SOURCE, roots, FILES),
            *discover_tasks(SOURCE, roots),
        ):
            if file.path not in seen:
                seen.add(file.path)
                yield file

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        if Path(file.path).name == UI_MESSAGES:
            return parse_task(DIALECT, file, state)
        return parse_opencode_shaped(SOURCE, file, state)
