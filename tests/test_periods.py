from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tokentrail.errors import ConfigError
from tokentrail.periods import (
    local_midnight_ms,
    month_label,
    offset_segments,
    parse_day,
    resolve_timezone,
    week_label,
)


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_segments_follow_dst_transitions_exactly() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    segments = offset_segments(berlin, ms(2026, 1, 1), ms(2026, 12, 31))
    assert [(s.start_ms, s.offset_ms // 3_600_000) for s in segments[1:]] == [
        (ms(2026, 3, 29, 1), 2),
        (ms(2026, 10, 25, 1), 1),
    ]
    assert segments[0].offset_ms == 3_600_000


def test_half_and_three_quarter_hour_zones_have_one_segment() -> None:
    for name, minutes in (("Asia/Kolkata", 330), ("Asia/Kathmandu", 345)):
        (segment,) = offset_segments(ZoneInfo(name), ms(2026, 1, 1), ms(2026, 12, 31))
        assert segment.offset_ms == minutes * 60_000


def test_labels() -> None:
    assert week_label(date(2026, 5, 4)) == "2026-W19"
    assert week_label(date(2027, 1, 1)) == "2026-W53"
    assert month_label(date(2026, 5, 31)) == "2026-05"


def test_local_midnight_in_a_dst_zone() -> None:
    ny = ZoneInfo("America/New_York")
    assert local_midnight_ms(date(2026, 3, 8), ny) == ms(2026, 3, 8, 5)
    assert local_midnight_ms(date(2026, 3, 9), ny) == ms(2026, 3, 9, 4)
    # Chile's old spring-forward skipped midnight itself: the day starts at 01:00
    santiago = ZoneInfo("America/Santiago")
    start = local_midnight_ms(date(2026, 9, 6), santiago)
    assert datetime.fromtimestamp(start / 1000, tz=santiago).date() == date(2026, 9, 6)


def test_bad_inputs_name_the_option_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"--tz 'Mars/Olympus'.*IANA"):
        resolve_timezone("Mars/Olympus")
    with pytest.raises(ConfigError, match=r"--since '2026-13-01'.*YYYY-MM-DD"):
        parse_day("2026-13-01", "--since")
    assert parse_day("20260504", "--until") == date(2026, 5, 4)


def test_the_local_zone_when_the_quick_ways_do_not_say(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokentrail.periods import _tzlocal_zone

    # tzlocal, where neither TZ nor an /etc/localtime link names the zone (here: TZ)
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert _tzlocal_zone() == (ZoneInfo("Asia/Kolkata"), "Asia/Kolkata")
    monkeypatch.setenv("TZ", "UTC")
    assert _tzlocal_zone() == (ZoneInfo("UTC"), "UTC")


def test_segments_are_the_changes_a_walk_in_six_hour_steps_finds() -> None:
    # the changes are probed (and kept) 30 days at a time: the same segments as a walk from
    # the range's start, across spans' edges and in zones with changes and without
    from tokentrail.periods import _PROBE_MS, _find_change, offset_ms
    from tokentrail.store.figures import BUCKET_MS, OffsetSegment

    def walked(zone: ZoneInfo, start_ms: int, end_ms: int) -> list[OffsetSegment]:
        start = start_ms - start_ms % BUCKET_MS
        segments = [OffsetSegment(start, offset_ms(zone, start))]
        probe = start
        while probe < end_ms:
            nxt = min(probe + _PROBE_MS, end_ms + BUCKET_MS)
            if offset_ms(zone, nxt) != segments[-1].offset_ms:
                change = _find_change(zone, probe, nxt)
                segments.append(OffsetSegment(change, offset_ms(zone, change)))
            probe = nxt
        return segments

    day = 86_400_000
    zones = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
    for name in zones:
        zone = ZoneInfo(name)
        for start in (ms(2025, 3, 30, 0, 59), ms(2026, 1, 1), ms(2026, 10, 25, 1) - 1):
            for length in (0, 1, 3_600_000, day, 31 * day, 400 * day, 1234 * day + 7):
                end = start + length
                assert offset_segments(zone, start, end) == walked(zone, start, end), (name, start)
