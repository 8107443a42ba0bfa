"""The CLI's formatting rules (tokentrail.output)."""

from __future__ import annotations

from tokentrail.output import format_duration


def test_durations_read_at_a_glance_from_seconds_to_months() -> None:
    cases = (12, 245, 4320, 47 * 3600 + 60, 2373 * 3600 + 16 * 60)
    assert [format_duration(s) for s in cases] == [
        "12 s",
        "4 min 05 s",
        "1 h 12 min",
        "47 h 01 min",
        "98 d 21 h",
    ]
