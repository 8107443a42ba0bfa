"""Time rules: local days in any IANA zone, ISO weeks, months, and date-range bounds.

The one place that decides which local day, week or month a moment belongs to.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tokentrail.errors import ConfigError
from tokentrail.store.figures import BUCKET_MS, OffsetSegment

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
_PROBE_MS = 6 * 3_600_000  # zones change offset at most once in six hours


DAY_ADVICE = "use YYYY-MM-DD, e.g. 2026-05-04"
"""How to write a day, for every message about one."""


def resolve_timezone(name: str | None) -> tuple[tzinfo, str]:
    """The zone for ``--tz`` (an IANA name such as ``Asia/Kolkata`` or ``UTC``, in any
    letter case when only one zone has that name: ``utc`` is ``UTC``), or local."""
    if name:
        canonical = canonical_zone_name(name)
        if canonical is None:
            raise ConfigError(
                f"--tz {name!r} is not a known IANA time zone; use a name like "
                "'Europe/Berlin', 'America/New_York', 'Asia/Kolkata' or 'UTC'"
            )
        return ZoneInfo(canonical), canonical
    return _local_zone()


def canonical_zone_name(name: str) -> str | None:
    """The IANA spelling of ``name``: as given when it is a zone, else the one zone whose name
    differs only in letter case; None when there is no such zone (or more than one)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    else:
        return name
    matches = _zones_by_folded_name().get(name.strip().casefold(), [])
    return matches[0] if len(matches) == 1 else None


@functools.cache
def _zones_by_folded_name() -> dict[str, list[str]]:
    # read once, and only when a name is not found as given (a scan of the zone database)
    from zoneinfo import available_timezones

    names: dict[str, list[str]] = {}
    for zone in sorted(available_timezones()):
        names.setdefault(zone.casefold(), []).append(zone)
    return names


def _local_zone() -> tuple[tzinfo, str]:
    """The machine's zone: ``TZ``, then the zone ``/etc/localtime`` links to, then tzlocal
    (``/etc/timezone``, a copied ``/etc/localtime``, other systems); a fixed offset only when
    nothing names an IANA zone.

    The first two answer almost every Linux and macOS machine in well under a millisecond,
    where tzlocal takes tens (its import, and probing each part of the link as a zone name):
    a report asks on every run."""
    from tokentrail.cached_reports import local_zone_name

    name = local_zone_name()
    if name is not None:
        return ZoneInfo(name), name
    return _tzlocal_zone()


def _tzlocal_zone() -> tuple[tzinfo, str]:
    import warnings

    import tzlocal

    try:
        with warnings.catch_warnings():
            # tzlocal warns when it guesses (no setting found, or an offset that disagrees):
            # its answer is still the best one to be had, and a report is no place for warnings
            warnings.simplefilter("ignore")
            zone = tzlocal.reload_localzone()  # not its copy kept from an earlier call
    except (ZoneInfoNotFoundError, ValueError, OSError):
        local = datetime.now().astimezone().tzinfo or UTC
        return local, datetime.now(local).tzname() or "local"
    return zone, zone.key or "local"


def offset_ms(zone: tzinfo, at_ms: int) -> int:
    offset = local_moment(at_ms, zone).utcoffset()
    return int(offset.total_seconds() * 1000) if offset is not None else 0


def offset_segments(zone: tzinfo, start_ms: int, end_ms: int) -> list[OffsetSegment]:
    """The zone's UTC offsets over ``[start_ms, end_ms]``, as bucket-aligned segments."""
    start = start_ms - start_ms % BUCKET_MS
    segments = [OffsetSegment(start_ms=start, offset_ms=offset_ms(zone, start))]
    if end_ms <= start:
        return segments
    # the changes up to the last probe a walk from ``start`` in _PROBE_MS steps would make
    steps = -(-(end_ms - start) // _PROBE_MS)
    last = min(start + steps * _PROBE_MS, end_ms + BUCKET_MS)
    for chunk in range(start // _CHUNK_MS, (last - 1) // _CHUNK_MS + 1):
        for change in _changes(zone, chunk):
            if start < change <= last and offset_ms(zone, change) != segments[-1].offset_ms:
                segments.append(OffsetSegment(start_ms=change, offset_ms=offset_ms(zone, change)))
    return segments


_CHUNK_MS = 120 * _PROBE_MS
"""The changes of a zone's offset are found (and kept) 30 days at a time."""


@functools.lru_cache(maxsize=4096)
def _changes(zone: tzinfo, chunk: int) -> tuple[int, ...]:
    """The bucket boundaries in the ``chunk``-th span of _CHUNK_MS (from the epoch) where the
    zone's offset changes. A zone's rules are fixed for the process, so each span is probed
    once (a dashboard page asks for a year of them three times: 4,000 probes)."""
    low = chunk * _CHUNK_MS
    changes: list[int] = []
    before = offset_ms(zone, low)
    for probe in range(low, low + _CHUNK_MS, _PROBE_MS):
        after = offset_ms(zone, probe + _PROBE_MS)
        if after != before:
            changes.append(_find_change(zone, probe, probe + _PROBE_MS))
            before = after
    return tuple(changes)


def _find_change(zone: tzinfo, low: int, high: int) -> int:
    """The first bucket boundary in (low, high] with ``high``'s offset (offsets are quarter
    hours, so transitions fall on bucket boundaries)."""
    target = offset_ms(zone, high)
    low_b, high_b = low // BUCKET_MS, high // BUCKET_MS + (1 if high % BUCKET_MS else 0)
    while high_b - low_b > 1:
        mid = (low_b + high_b) // 2
        if offset_ms(zone, mid * BUCKET_MS) == target:
            high_b = mid
        else:
            low_b = mid
    return high_b * BUCKET_MS


def day_to_date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


def date_to_day(day: date) -> int:
    """The local day number reports group by (days since 1970-01-01): ``day_to_date``'s
    inverse."""
    return (day - _EPOCH).days


def local_moment(ms: int, zone: tzinfo) -> datetime:
    """The moment ``ms`` (UTC epoch milliseconds) on the clocks of ``zone``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(zone)


def day_label(day: date) -> str:
    return day.isoformat()


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def parse_day(value: str, option: str) -> date:
    """A ``YYYY-MM-DD`` (or ``YYYYMMDD``) option value."""
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date; {DAY_ADVICE}") from None


def local_midnight_ms(day: date, zone: tzinfo) -> int:
    """UTC milliseconds of the first moment of ``day`` in ``zone`` (DST-gap safe)."""
    naive = datetime(day.year, day.month, day.day)
    guess = naive.replace(tzinfo=zone)
    # fold handling: the earliest valid instant whose local date is ``day``
    utc = guess.astimezone(UTC)
    back = utc.astimezone(zone)
    if back.date() != day or back.replace(tzinfo=None) != naive:
        # midnight fell in a gap; the day starts at the gap's end
        utc = (naive + timedelta(hours=1)).replace(tzinfo=zone).astimezone(UTC)
    return int(utc.timestamp() * 1000)


def period_start(day: date, unit: str) -> date:
    """The first local day of the ISO week (Monday) or month holding ``day``; for any other
    unit (a day, an hour) the day itself."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def next_period_start(day: date, unit: str) -> date:
    """The first local day of the week, month or day after the one starting on ``day``."""
    if unit == "week":
        return day + timedelta(days=7)
    if unit == "month":
        return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def period_bounds_ms(at_ms: int, zone: tzinfo, unit: str) -> tuple[int, int]:
    """UTC milliseconds of the start (inclusive) and end (exclusive) of the local day, ISO week
    or month of ``zone`` that holds the moment ``at_ms``. Local midnights, so a period that
    spans a DST change is an hour shorter or longer than its days times 24 hours."""
    first = period_start(local_moment(at_ms, zone).date(), unit)
    return local_midnight_ms(first, zone), local_midnight_ms(next_period_start(first, unit), zone)
