"""What every agent reader is made of: :mod:`tokentrail.sources.base` (the reader protocol),
:mod:`~tokentrail.sources.files`, :mod:`~tokentrail.sources.discovery`,
:mod:`~tokentrail.sources.lines`, :mod:`~tokentrail.sources.values`,
:mod:`~tokentrail.sources.jsonl`, :mod:`~tokentrail.sources.sqlite`,
:mod:`~tokentrail.sources.counts` and :mod:`tokentrail.sources.edits` (the edit-line rules).
The readers themselves live in the agents' packages, listed by the registry
:mod:`tokentrail.agents`.

The three functions below are a compatibility facade over that registry, for code written
before it; new code asks :mod:`tokentrail.agents`.
"""

from __future__ import annotations

from tokentrail.sources.base import Source
from tokentrail.sources.files import ParseResult, ParseState, SourceFile

__all__ = [
    "ParseResult",
    "ParseState",
    "Source",
    "SourceFile",
    "all_sources",
    "get_source",
    "source_names",
]


def all_sources() -> list[Source]:
    """One reader of every registered agent, in the registry's order."""
    from tokentrail.agents import all_agents

    return [agent.source() for agent in all_agents()]


def source_names() -> tuple[str, ...]:
    """The names of the agents whose logs tokentrail reads (``--source`` choices)."""
    from tokentrail.agents import agent_names

    return agent_names()


def get_source(name: str) -> Source:
    from tokentrail.agents import load

    return load(name)
