"""A sync's worker processes: each opens its own connection to the ledger, parses and
records the jobs it is given (:func:`tokentrail.sync.run_job`), taking turns with the other
workers to write, and ends when the sync that started it ends."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.sync import FileTask, SyncSummary, run_job


@dataclass(slots=True)
class _Worker:
    ledger: Ledger
    write_turn: AbstractContextManager[Any]


_WORKER: list[_Worker] = []


def open_worker_ledger(
    location: str,
    config: Config,
    machine: str,
    write_turn: AbstractContextManager[Any],
    parent: int,
) -> None:
    _end_with(parent)
    # parsing makes hundreds of thousands of short-lived, acyclic objects: collecting the
    # young generation every 700 allocations only costs time
    gc.set_threshold(50_000, 20, 20)
    ledger = Ledger(location, config=config, machine=machine)
    ledger.store.expect_bulk_writes()  # a worker is started only for a large sync
    _WORKER.append(_Worker(ledger, write_turn))


PARENT_CHECK_S = 1.0
"""How often a worker looks whether the sync that started it is still there, where the
operating system cannot tell it (no ``PR_SET_PDEATHSIG``)."""
_PR_SET_PDEATHSIG = 1


def _end_with(parent: int) -> None:
    """Make this worker end when the sync that started it dies (killed, or SIGTERM, which
    gives it no time to stop its pool): otherwise it waits for work forever, holding the
    caller's pipes open (``$(tokentrail sync)`` would never return). What it had not
    committed is rolled back by the ledger, as for any killed sync."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes  # here: only a worker process needs it

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the watch below still works
            pass
    if os.getppid() != parent:  # the parent died before it could be told
        os._exit(1)
    watch = threading.Thread(
        target=exit_when_orphaned, args=(parent,), name="tokentrail-parent-watch", daemon=True
    )
    watch.start()


def exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def run_job_in_worker(tasks: Sequence[FileTask]) -> SyncSummary:
    from tokentrail.pricing import keep_rate_cards

    worker = _WORKER[0]
    try:
        return run_job(worker.ledger, tasks, worker.write_turn)
    finally:
        keep_rate_cards()
        _give_back_memory()


def _give_back_memory() -> None:
    """Return the heap a finished job freed to the operating system. Python frees a big
    file's objects to the C allocator, which keeps the pages: without this each worker stays
    at the size of the largest job it has run, and the next job grows from there."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes  # here: only a worker process needs it

            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc: the memory is reused, not returned
            pass
