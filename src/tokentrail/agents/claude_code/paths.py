"""What a Claude Code transcript's path says: its session, its subagent, its project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

AGENT_FILE_PREFIX = "agent-"


def expand_home(text: str, home: Path) -> Path:
    # Expand "~" against the given home (not the process's) so callers and tests control it.
    if text == "~":
        return home
    if text.startswith("~/"):
        return home / text[2:]
    return Path(text).expanduser()


@dataclass(frozen=True, slots=True)
class FileContext:
    """What a transcript's path says about its lines, for lines that do not say it themselves."""

    path: str
    stem: str
    fallback_session_id: str | None
    """The main session's id: the file name for a main transcript, the folder above
    ``subagents/`` for a subagent file, unknown for a 2.0-era ``<project>/agent-<id>.jsonl``."""
    agent_id: str | None
    """Set when the file is a subagent's own transcript (``agent-<id>.jsonl``)."""
    project_dir: str | None

    @classmethod
    def of(cls, path: str) -> FileContext:
        file = Path(path)
        stem = file.stem
        agent_id: str | None = None
        fallback: str | None = stem
        subagents = None
        if stem.startswith(AGENT_FILE_PREFIX) and len(stem) > len(AGENT_FILE_PREFIX):
            agent_id = stem[len(AGENT_FILE_PREFIX) :]
            subagents = _subagents_dir(file)
            fallback = subagents.parent.name if subagents is not None else None
        return cls(path, stem, fallback, agent_id, _project_dir_name(file, subagents))


def _subagents_dir(file: Path) -> Path | None:
    """The ``<sessionId>/subagents`` folder above a subagent file: its direct parent, or a few
    levels up for workflow agents (``subagents/workflows/<runId>/agent-<id>.jsonl``)."""
    for ancestor in list(file.parents)[:3]:
        if ancestor.name == "subagents":
            return ancestor
    return None


def _project_dir_name(file: Path, subagents: Path | None) -> str | None:
    """The folder right under ``projects/`` (Claude Code's dashed cwd), else the folder that
    holds the session's transcript."""
    parts = file.parts
    for index in range(len(parts) - 3, -1, -1):
        if parts[index] == "projects":
            return parts[index + 1]
    holder = subagents.parent.parent if subagents is not None else file.parent
    return holder.name or None
