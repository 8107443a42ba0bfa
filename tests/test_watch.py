"""Following the logs: a change is never left unread until the next interval, even one made
while the watch was being set up."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from builders import claude_assistant, claude_session_file, write_jsonl
from tokentrail.config import Config
from tokentrail.watch import BackgroundSync, log_changes


@dataclass
class _Ledger:
    config: Config = field(default_factory=Config)


def test_a_write_between_the_first_read_and_the_watch_is_read_without_waiting(
    isolated_home: Path,
) -> None:
    log = claude_session_file(isolated_home, "w-1")
    write_jsonl(log, [claude_assistant("w-1", "2026-05-04T09:30:00.000Z", "m1")])
    rounds: list[float] = []

    def sync_then_the_agent_writes(ledger: Any) -> None:
        rounds.append(time.monotonic())
        if len(rounds) == 1:  # just after this read, before the watch is in place
            reply = claude_assistant("w-1", "2026-05-04T09:31:00.000Z", "m2")
            write_jsonl(log, [reply], append=True)

    # an interval far longer than the test: a second round can only come from the watch
    syncing = BackgroundSync(_Ledger(), interval_s=600, sync=sync_then_the_agent_writes)
    syncing.start()
    try:
        deadline = time.monotonic() + 30
        while len(rounds) < 2:
            assert time.monotonic() < deadline, "the write was left for the next interval"
            time.sleep(0.05)
    finally:
        syncing.stop()
    assert syncing.last_error is None


def test_changes_wake_the_follower_and_stop_ends_it_at_once(isolated_home: Path) -> None:
    log = claude_session_file(isolated_home, "w-2")
    write_jsonl(log, [claude_assistant("w-2", "2026-05-04T09:30:00.000Z", "m1")])
    stop = threading.Event()
    wakeups = log_changes(Config(), stop, interval_s=30)
    assert next(wakeups) is True  # at once, to start from a current ledger
    assert next(wakeups) is True  # the watch is in place
    write_jsonl(log, [claude_assistant("w-2", "2026-05-04T09:31:00.000Z", "m2")], append=True)
    assert next(wakeups) is True  # the change
    stop.set()
    started = time.monotonic()
    assert list(wakeups) == []
    assert time.monotonic() - started < 5
