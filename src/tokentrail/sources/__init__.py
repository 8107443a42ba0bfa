"""Agent log formats. Each module parses one agent's files into usage events."""

from __future__ import annotations

from tokentrail.sources.base import ParseResult, ParseState, Source, SourceFile

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
    """One instance of every known source, in a stable order."""
    from tokentrail.sources.aider import AiderSource
    from tokentrail.sources.claude_code import ClaudeCodeSource
    from tokentrail.sources.cline import ClineSource
    from tokentrail.sources.codex import CodexSource
    from tokentrail.sources.copilot import CopilotSource
    from tokentrail.sources.crush import CrushSource
    from tokentrail.sources.cursor import CursorSource
    from tokentrail.sources.gemini import GeminiSource
    from tokentrail.sources.kilo import KiloSource
    from tokentrail.sources.mux import MuxSource
    from tokentrail.sources.opencode import OpenCodeSource
    from tokentrail.sources.pi import PiSource
    from tokentrail.sources.qwen import QwenSource
    from tokentrail.sources.roo import RooSource

    return [
        ClaudeCodeSource(),
        CodexSource(),
        GeminiSource(),
        OpenCodeSource(),
        CopilotSource(),
        QwenSource(),
        PiSource(),
        MuxSource(),
        ClineSource(),
        RooSource(),
        KiloSource(),
        CrushSource(),
        AiderSource(),
        CursorSource(),
    ]


def source_names() -> tuple[str, ...]:
    """The names of the agents whose logs tokentrail reads (``--source`` choices)."""
    return tuple(source.name for source in all_sources())


def get_source(name: str) -> Source:
    for source in all_sources():
        if source.name == name:
            return source
    known = ", ".join(s.name for s in all_sources())
    raise KeyError(f"unknown source {name!r}; known sources: {known}")
