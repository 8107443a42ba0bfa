"""Official rate-limit figures that agents write into their own logs.

Codex CLI writes, with most ``token_count`` events, the account's rate-limit windows as the
API reported them: ``rate_limits.primary`` (the 5-hour window) and ``rate_limits.secondary``
(the weekly one), each ``{used_percent, window_minutes, resets_at | resets_in_seconds}``.
These are the provider's own numbers, so ``tokentrail blocks`` shows them in place of an
estimate. Only the numbers are kept (no plan name, no account id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

Figures = tuple[float, int | None, int | None]
"""A window's used percent, length in minutes and reset time (UTC epoch ms)."""

WINDOW_NAMES: tuple[str, ...] = ("primary", "secondary")
"""The windows Codex reports, in the order it lists them."""

RESET_TOLERANCE_MS = 60_000
"""Reset times computed from ``resets_in_seconds`` move by a second or so between two events
of the same window: closer than this, two snapshots are the same reset."""


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """One window's figures as an agent logged them at ``observed_ms`` (UTC epoch ms)."""

    source: str
    window: str
    """``primary`` or ``secondary`` (Codex's names for the 5-hour and the weekly window)."""
    observed_ms: int
    used_percent: float
    """Share of the window's allowance already used, 0-100, as the provider reported it."""
    window_minutes: int | None = None
    resets_at_ms: int | None = None
    session_key: str | None = None
    machine: str | None = None

    def with_machine(self, machine: str) -> RateLimitSnapshot:
        return self if self.machine is not None else replace(self, machine=machine)

    @property
    def figures(self) -> Figures:
        """What the snapshot reports: used percent, window minutes, reset time."""
        return (self.used_percent, self.window_minutes, self.resets_at_ms)

    def repeats(self, figures: Figures) -> bool:
        """True when these figures were already reported (same use, window and reset)."""
        used, minutes, resets_at_ms = figures
        if (self.used_percent, self.window_minutes) != (used, minutes):
            return False
        if self.resets_at_ms is None or resets_at_ms is None:
            return self.resets_at_ms == resets_at_ms
        return abs(self.resets_at_ms - resets_at_ms) < RESET_TOLERANCE_MS


def read_codex_rate_limits(
    value: object, observed_ms: int, *, source: str, session_key: str | None
) -> list[RateLimitSnapshot]:
    """The windows of a Codex ``rate_limits`` object; malformed or absent parts are left out
    (a missing figure is not reported, never a 0)."""
    if not isinstance(value, dict):
        return []
    found: list[RateLimitSnapshot] = []
    for name in WINDOW_NAMES:
        window = value.get(name)
        if not isinstance(window, dict):
            continue
        used = _number(window.get("used_percent"))
        if used is None or not 0 <= used <= 1000:
            continue
        found.append(
            RateLimitSnapshot(
                source=source,
                window=name,
                observed_ms=observed_ms,
                used_percent=used,
                window_minutes=_whole(window.get("window_minutes")),
                resets_at_ms=_reset_ms(window, observed_ms),
                session_key=session_key,
            )
        )
    return found


def _reset_ms(window: dict[str, Any], observed_ms: int) -> int | None:
    # Newer Codex writes an absolute epoch (seconds), older versions seconds from now.
    resets_at = _number(window.get("resets_at"))
    if resets_at is not None and resets_at > 0:
        return int(resets_at * 1000) if resets_at < 10_000_000_000 else int(resets_at)
    resets_in = _number(window.get("resets_in_seconds"))
    if resets_in is not None and resets_in >= 0:
        return observed_ms + int(resets_in * 1000)
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number > 0 else None
