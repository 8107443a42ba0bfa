"""Waking up when the agents' logs change, for anything that follows them (``serve``'s
background sync, ``tokentrail live``).

    for _ in log_changes(ledger.config, stop):
        sync(ledger)            # reads only the bytes it has not seen

Changes are noticed through the operating system's file events (watchfiles); a wake-up also
comes every ``interval_s`` seconds regardless, which picks up a log folder that did not exist
when watching began and anything a file system without events (NFS, some containers) misses.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tokentrail.config import Config

DEFAULT_INTERVAL_S = 30.0
_DEBOUNCE_MS = 400


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
    follower starts from a current ledger."""
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
            rust_timeout=int(interval_s * 1000),
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        for changes in watcher:
            if stop.is_set():
                return
            yield bool(changes)
            if not changes and watched_roots(config, env, source_names) != roots:
                break  # a log folder appeared or went away: watch the new set
