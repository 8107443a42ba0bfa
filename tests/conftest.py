"""Every test runs in its own home directory, with its own ledger and no configuration, so
nothing on the machine (real agent logs, a real ledger) leaks in or is touched: every
registered agent's variables are cleared, so its default folders are inside that home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_OTHER_VARIABLES = (
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "TOKENTRAIL_DB",
    "TOKENTRAIL_MACHINE",
)


def isolated_variables() -> tuple[str, ...]:
    """Every variable that could point a test at real files: each registered agent's own
    (``CODEX_HOME``, ``TOKENTRAIL_CODEX_PATHS``, ...; a new agent is covered by registering
    it), and the general ones."""
    from tokentrail.agents import all_agents

    return (*_OTHER_VARIABLES, *(name for a in all_agents() for name in a.variables))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    for name in isolated_variables():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TOKENTRAIL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("TOKENTRAIL_MACHINE", "test-machine")
    monkeypatch.setenv("TZ", "UTC")
    yield home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def midday_zone(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local zone (``TZ``) in which it is about noon now, for a test that writes usage some
    minutes or hours ago and reads it back as today's: in UTC, a run in the first hour after
    midnight would find it yesterday's. Etc/GMT-N is N hours *ahead* of UTC."""
    from datetime import UTC, datetime

    ahead = 12 - datetime.now(UTC).hour  # -11 to 12: every one is a zone
    name = "Etc/GMT" + (f"-{ahead}" if ahead > 0 else f"+{-ahead}" if ahead < 0 else "")
    monkeypatch.setenv("TZ", name)
    return name
