"""What every reader shares: logs are opened only when they are regular files, and a token
count is bounded the same way for every source."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from tokentrail.agents import load
from tokentrail.ingest import MAX_COUNT
from tokentrail.sources.base import (
    BadRecord,
    NotRegularFile,
    ParseState,
    SourceFile,
    count_or_none,
    read_regular,
)


@contextmanager
def fails_instead_of_hanging(seconds: float) -> Iterator[None]:
    """Turn a read that would block forever into a test failure."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# (source, kind, where in its tree a FIFO could sit)
READERS = [
    ("claude_code", "append", "projects/p/s.jsonl"),
    ("codex", "append", "sessions/2026/05/04/rollout-x.jsonl"),
    ("gemini", "append", "tmp/p/chats/session-x.jsonl"),
    ("gemini", "whole", "tmp/p/chats/session-x.json"),
    ("opencode", "whole", "storage/message/ses_1/msg_1.json"),
    ("opencode", "whole", "storage/session/prj/ses_1.json"),
]


@pytest.mark.parametrize(("source", "kind", "where"), READERS)
def test_every_reader_refuses_a_fifo_without_blocking(
    tmp_path: Path, source: str, kind: str, where: str
) -> None:
    fifo = tmp_path / where
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    reader = load(source)
    with fails_instead_of_hanging(10), pytest.raises(NotRegularFile) as refused:
        reader.parse(SourceFile(source, str(fifo), kind), ParseState())  # type: ignore[arg-type]
    assert refused.value.kind == "a FIFO"


def test_a_link_to_a_device_is_refused_before_any_byte_is_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFile, match="a character device, not a regular file"):
        read_regular(str(link))
    with pytest.raises(NotRegularFile, match="a folder"):
        read_regular(str(tmp_path))


@pytest.mark.parametrize(
    "value", [MAX_COUNT + 1, 1e20, 2**63, 2**64 + 1, float("inf"), float("nan"), -1, 1.5, "7"]
)
def test_an_implausible_count_is_a_bad_record(value: object) -> None:
    with pytest.raises(BadRecord) as bad:
        count_or_none(value, "output_tokens")
    assert bad.value.reason == "invalid_count"


def test_plausible_counts_pass_as_ints() -> None:
    assert count_or_none(MAX_COUNT, "x") == MAX_COUNT
    assert count_or_none(12.0, "x") == 12
    assert count_or_none(None, "x") is None
