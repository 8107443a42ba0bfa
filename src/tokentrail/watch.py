"""Waking up when the agents' logs change, for anything that follows them (``serve``'s
background sync, ``tokentrail live``): :func:`log_changes`, and :class:`BackgroundSync`, which
syncs on each wake-up in a thread of its own.

    for _ in log_changes(ledger.config, stop):
        sync(ledger)            # reads only the bytes it has not seen

Changes are noticed through the operating system's file events (watchfiles); a wake-up also
comes every ``interval_s`` seconds regardless, which picks up a log folder that did not exist
when watching began and anything a file system without events (NFS, some containers) misses.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tokentrail.config import Config

_log = logging.getLogger("tokentrail.watch")

DEFAULT_INTERVAL_S = 30.0
_DEBOUNCE_MS = 400
_QUIET_CHECK_MS = 1000
"""How long the watch waits for an event before it looks at the clock."""


def watched_roots(
    config: Config, env: Mapping[str, str] | None = None, source_names: Sequence[str] = ()
) -> list[Path]:
    """The existing folders (or files) that the enabled sources read from."""
    from tokentrail.sync import enabled_sources, source_roots

    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    found: list[Path] = []
    for source in enabled_sources(config, source_names):
        for root in source_roots(source, config, env, home):
            if root.exists() and root not in found:
                found.append(root)
    return found


def log_changes(
    config: Config,
    stop: threading.Event,
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    env: Mapping[str, str] | None = None,
    source_names: Sequence[str] = (),
) -> Iterator[bool]:
    """Yields ``True`` soon after a log file changes and ``False`` every ``interval_s`` seconds
    without a change, until ``stop`` is set. The first value comes at once (``True``), so a
    follower starts from a current ledger; another ``True`` comes once the watch is in place,
    for what was written between that first read and the start of the watch."""
    import watchfiles

    yield True
    while not stop.is_set():
        roots = watched_roots(config, env, source_names)
        if not roots:
            if stop.wait(interval_s):
                return
            yield False
            continue
        watcher = watchfiles.watch(
            *roots,
            stop_event=stop,
            debounce=_DEBOUNCE_MS,
            rust_timeout=_QUIET_CHECK_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        # the watch is set up when the first value comes, not before: a write in between
        # makes no event, so the first quiet check reads the logs once more
        caught_up = False
        quiet_since = time.monotonic()
        for changes in watcher:
            if stop.is_set():
                return
            if changes or not caught_up:
                caught_up = True
                quiet_since = time.monotonic()
                yield True
                continue
            if time.monotonic() - quiet_since < interval_s:
                continue
            quiet_since = time.monotonic()
            yield False
            if watched_roots(config, env, source_names) != roots:
                break  # a log folder appeared or went away: watch the new set


class BackgroundSync:
    """Reads new usage from the agents' logs into the ledger in a thread of its own: at once,
    then whenever a log file changes (file system events) and at least every ``interval_s``
    seconds (``serve``: so the pages, which poll ``/api/v1/version``, show it without a
    reload; ``live``: so the screen follows the logs). A no-change sync takes milliseconds; a
    failed one is logged, kept in ``last_error`` and retried on the next wake-up.

        syncing = BackgroundSync(ledger)
        syncing.start()
        ...  # serve
        syncing.stop()

    ``watch=False`` only polls every ``interval_s`` seconds; ``log=False`` keeps failures out
    of the log (a full-screen view shows ``last_error`` itself).
    """

    def __init__(
        self,
        ledger: Any,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        sync: Callable[[Any], Any] | None = None,
        watch: bool = True,
        log: bool = True,
    ) -> None:
        self.ledger = ledger
        self.interval_s = interval_s
        self._sync = sync
        self._watch = watch
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tokentrail-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _wakeups(self) -> Iterator[bool]:
        if self._watch:
            yield from log_changes(self.ledger.config, self._stop, interval_s=self.interval_s)
            return
        yield True
        while not self._stop.wait(self.interval_s):
            yield False

    def _run(self) -> None:
        for _ in self._wakeups():
            if self._stop.is_set():
                return
            try:
                if self._sync is not None:
                    self._sync(self.ledger)
                else:
                    from tokentrail.sync import sync

                    sync(self.ledger)
                self.last_error = None
            except Exception as exc:  # keep serving; say why the ledger is not current
                self.last_error = str(exc)
                if self._log:
                    _log.warning("background sync failed (retrying on the next change): %s", exc)
            self.rounds += 1
