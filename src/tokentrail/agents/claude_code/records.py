"""Decoding a Claude Code transcript line: only the fields the reader uses, typed, the
large text fields (prompts, tool output, thinking) skipped without building objects."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from tokentrail.sources.values import parse_timestamp
from tokentrail.usage import EARLIEST_YEAR, LATEST_YEAR


class Block(msgspec.Struct):
    """One ``message.content[]`` block: what a tool call or result says, never its text."""

    type: Any = None
    id: Any = None
    name: Any = None
    input: msgspec.Raw = msgspec.Raw(b"")
    """Left undecoded: only an edit's arguments are read (``_EDIT_TOOLS``)."""
    tool_use_id: Any = None
    is_error: Any = None


class Message(msgspec.Struct):
    id: Any = None
    model: Any = None
    role: Any = None
    usage: Any = None
    content: list[Block] | str | None = None


class Record(msgspec.Struct):
    """The fields of a transcript line this parser reads. Decoding into it skips the rest
    (prompts, tool output, thinking text: most of the bytes) without building objects. Field
    names are the transcript's own keys."""

    type: Any = None
    timestamp: Any = None
    sessionId: Any = None
    isSidechain: Any = None
    agentId: Any = None
    cwd: Any = None
    gitBranch: Any = None
    requestId: Any = None
    costUSD: Any = None
    summary: Any = None
    customTitle: Any = None
    message: Message | None = None


_DECODER = msgspec.json.Decoder(Record)


def decode(data: bytes) -> Record | dict[str, Any] | list[Any] | str | float | None:
    """The line as a :class:`Record`, or, when the typed decoder cannot take it (a field of
    another shape than usual, e.g. a string ``message``), as orjson reads it, to be
    converted leniently. Raises ``orjson.JSONDecodeError`` for a line that is not JSON."""
    try:
        record = _DECODER.decode(data)
    except msgspec.DecodeError:
        return orjson.loads(data)  # type: ignore[no-any-return]
    # orjson refuses invalid UTF-8 anywhere in a line; msgspec only checks the strings it
    # keeps, so the rest is checked here, to read exactly the lines orjson reads
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return orjson.loads(data)  # type: ignore[no-any-return]
    return record


def record_from_dict(raw: dict[str, Any]) -> Record:
    """A line the typed decoder refused, read as the dict-based parser read it: a
    ``message`` that is not an object is no message, ``content`` that is not a list holds no
    blocks, and a block that is not an object is passed over."""
    message = raw.get("message")
    return Record(
        type=raw.get("type"),
        timestamp=raw.get("timestamp"),
        sessionId=raw.get("sessionId"),
        isSidechain=raw.get("isSidechain"),
        agentId=raw.get("agentId"),
        cwd=raw.get("cwd"),
        gitBranch=raw.get("gitBranch"),
        requestId=raw.get("requestId"),
        costUSD=raw.get("costUSD"),
        summary=raw.get("summary"),
        customTitle=raw.get("customTitle"),
        message=_message_from_dict(message) if isinstance(message, dict) else None,
    )


def _message_from_dict(raw: dict[str, Any]) -> Message:
    content = raw.get("content")
    blocks = (
        [_block_from_dict(block) for block in content if isinstance(block, dict)]
        if isinstance(content, list)
        else None
    )
    return Message(
        id=raw.get("id"),
        model=raw.get("model"),
        role=raw.get("role"),
        usage=raw.get("usage"),
        content=blocks,
    )


def _block_from_dict(raw: dict[str, Any]) -> Block:
    arguments = msgspec.Raw(orjson.dumps(raw["input"])) if "input" in raw else msgspec.Raw(b"")
    return Block(
        type=raw.get("type"),
        id=raw.get("id"),
        name=raw.get("name"),
        input=arguments,
        tool_use_id=raw.get("tool_use_id"),
        is_error=raw.get("is_error"),
    )


def timestamp(value: object) -> datetime | None:
    """:func:`parse_timestamp`, with the usual ``...Z`` string read in one call."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return parse_timestamp(value)
        if parsed.tzinfo is UTC and EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            return parsed
    return parse_timestamp(value)
