"""Cline (cline/cline): task folders of the VS Code extension and of the CLI.

Where (cline ``src/shared/storage/storage-context.ts``, ``apps/vscode/src/sdk/``):

* the VS Code extension ``saoudrizwan.claude-dev`` keeps ``globalStorage/<id>/tasks/<task>/``
  in every VS Code host (see :func:`tokentrail.agents.cline.tasks.vscode_roots`);
* the CLI (and newer extension builds) keep the same folders in the Cline data dir:
  ``$CLINE_DATA_DIR``, else ``$CLINE_DIR/data``, else ``~/.cline/data``.

The format and the counting rules are in :mod:`tokentrail.agents.cline.tasks`; Cline's
``tokensIn`` is the uncached input (its buckets are disjoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from tokentrail.agents.cline import AGENT
from tokentrail.agents.cline.tasks import Dialect, TaskFolderSource, vscode_roots

SOURCE = AGENT.name
DIALECT = Dialect(SOURCE, ("saoudrizwan.claude-dev",))


class ClineSource(TaskFolderSource):
    """Cline's task folders (VS Code hosts and the CLI data dir)."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override
    dialect: ClassVar[Dialect] = DIALECT

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        data_dir = env.get("CLINE_DATA_DIR", "").strip()
        cline_dir = env.get("CLINE_DIR", "").strip()
        if data_dir:
            cli = Path(data_dir).expanduser()
        elif cline_dir:
            cli = Path(cline_dir).expanduser() / "data"
        else:
            cli = home / ".cline" / "data"
        return [cli, *vscode_roots(DIALECT, env, home)]
