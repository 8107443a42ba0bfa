"""Every test runs in its own home directory, with its own ledger and no configuration, so
nothing on the machine (real agent logs, a real ledger) leaks in or is touched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

_AGENT_VARIABLES = (
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "GEMINI_CLI_HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "OPENCODE_DATA_DIR",
    "TOKENTRAIL_DB",
    "TOKENTRAIL_MACHINE",
    "TOKENTRAIL_CLAUDE_CODE_PATHS",
    "TOKENTRAIL_CODEX_PATHS",
    "TOKENTRAIL_GEMINI_PATHS",
    "TOKENTRAIL_OPENCODE_PATHS",
    "COPILOT_HOME",
    "TOKENTRAIL_COPILOT_PATHS",
    "QWEN_RUNTIME_DIR",
    "TOKENTRAIL_QWEN_PATHS",
    "PI_CODING_AGENT_DIR",
    "XUM_ROOT",
    "MUX_ROOT",
    "TOKENTRAIL_PI_PATHS",
    "TOKENTRAIL_MUX_PATHS",
    "APPDATA",
    "LOCALAPPDATA",
    "CLINE_DATA_DIR",
    "CLINE_DIR",
    "CRUSH_GLOBAL_DATA",
    "AIDER_ANALYTICS_LOG",
    "TOKENTRAIL_CLINE_PATHS",
    "TOKENTRAIL_ROO_PATHS",
    "TOKENTRAIL_KILO_PATHS",
    "TOKENTRAIL_CRUSH_PATHS",
    "TOKENTRAIL_AIDER_PATHS",
    "TOKENTRAIL_CURSOR_PATHS",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    for name in _AGENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TOKENTRAIL_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("TOKENTRAIL_MACHINE", "test-machine")
    monkeypatch.setenv("TZ", "UTC")
    yield home


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"
