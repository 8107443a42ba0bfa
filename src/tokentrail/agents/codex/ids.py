"""The ids and times of a Codex rollout: its session id (from the file name when no
``session_meta`` says it), the parent thread, UUIDv7 creation instants, and the microsecond
clock the reader keeps its memory in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tokentrail.sources.values import text_or_none

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parent_thread_id(payload: Mapping[str, Any]) -> str | None:
    """The spawning thread: ``source.subagent.thread_spawn.parent_thread_id`` or flat."""
    source = payload.get("source")
    if isinstance(source, dict):
        subagent = source.get("subagent")
        if isinstance(subagent, dict):
            spawn = subagent.get("thread_spawn")
            if isinstance(spawn, dict):
                parent = text_or_none(spawn.get("parent_thread_id"))
                if parent is not None:
                    return parent
    return text_or_none(payload.get("parent_thread_id"))


def id_from_filename(path: str) -> str:
    """``rollout-2025-05-07T17-24-21-<uuid>.jsonl`` -> the uuid (else the file stem)."""
    stem = Path(path).name.removesuffix(".jsonl")
    found = _UUID.findall(stem)
    return found[-1].lower() if found else stem


def uuid7_us(value: object) -> int | None:
    """The creation instant (microseconds) embedded in a UUIDv7, or None for other ids."""
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        return None
    digits = value.replace("-", "")
    if digits[12] != "7" or digits[16].lower() not in "89ab":
        return None
    return int(digits[:12], 16) * 1000


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def rank_time(moment: datetime | None) -> str:
    # Fixed width, so ranks sort as text in time order.
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment is not None else ""
