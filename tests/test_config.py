"""The configuration file's messages: file, table, key, problem and fix (tokentrail.config)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tokentrail.config import parse_config
from tokentrail.errors import ConfigError


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"database": 5}, "config.toml: 'database' must be a string"),
        ({"nope": 1}, "config.toml: unknown key(s) 'nope'; allowed: budgets, database, machine"),
        (
            {"sources": {"codex": {"enabled": "yes"}}},
            "config.toml [sources.codex]: 'enabled' must be true or false",
        ),
        (
            {"sources": {"codex": {"paths": ["~/a", 3]}}},
            "config.toml [sources.codex]: 'paths' #2 must be a string",
        ),
        ({"prices": [5]}, "config.toml [[prices]] #1 must be a table"),
        (
            {"prices": [{"model": "", "input": 1, "output": 1}]},
            "[[prices]] #1: 'model' (a model name or glob such as 'my-model-*') is required",
        ),
        (
            {"prices": [{"model": "m", "output": 1}]},
            "[[prices]] #1: 'input' (USD per million tokens) is required",
        ),
        (
            {"prices": [{"model": "m", "input": float("inf"), "output": 1}]},
            "[[prices]] #1: 'input' must be a finite number, got inf",
        ),
        (
            {"prices": [{"model": "m", "input": 1, "output": 1, "since": "2026-13-01"}]},
            "[[prices]] #1: 'since' must be a date like 2026-01-31",
        ),
        # a misspelt key is named first: it is why 'amount' is missing
        (
            {"budgets": [{"period": "day", "amuont": 5}]},
            "[[budgets]] #1: unknown key(s) 'amuont'; allowed: amount, name, period, project, "
            "soft, source, webhook (and 1 more problem)",
        ),
        ({"statusline": 5}, "config.toml [statusline] must be a table"),
        ({"statusline": {"x": 1}}, "config.toml [statusline]: unknown key(s) 'x'; allowed: fields"),
        ({"statusline": {"fields": "x"}}, "[statusline]: 'fields' must be a list of strings"),
    ],
)
def test_messages_name_the_file_table_key_and_fix(
    data: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, tmp_path / "config.toml")
    assert message in str(caught.value)


def test_prices_keep_their_decimals_and_days(tmp_path: Path) -> None:
    from datetime import date
    from decimal import Decimal

    config = parse_config(
        {"prices": [{"model": "m", "input": "0.075", "output": 1.5, "since": "2026-01-31"}]},
        tmp_path / "config.toml",
    )
    (price,) = config.prices
    assert (price.input, price.output, price.since) == (
        Decimal("0.075"),
        Decimal("1.5"),
        date(2026, 1, 31),
    )


FULL = """
database = "~/ledgers/team.db"
machine = "laptop"
[sources.claude_code]
paths = ["~/elsewhere/.claude/projects"]
[sources.codex]
enabled = false
[[prices]]
model = "my-private-*"
since = 2026-01-31
input = "0.075"
output = 8
[[budgets]]
period = "month"
amount = 200
project = "/home/dev/code/webapp/"
[statusline]
fields = ["model", "today"]
"""


def test_a_checked_file_is_kept_and_read_back_the_same(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tokentrail.config import load_config

    path = tmp_path / "config.toml"
    path.write_text(FULL)
    first = load_config(path)
    assert load_config(path) == first  # the second time, from the kept copy
    assert first.sources["claude_code"].paths == (
        Path("~/elsewhere/.claude/projects").expanduser(),
    )
    # a new process reads the kept copy without pydantic (start-up time)
    probe = (
        "import sys; from pathlib import Path; from tokentrail.config import load_config; "
        f"c = load_config(Path({str(path)!r})); "
        "print(len(c.budgets), 'pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]
    path.write_text(FULL.replace("amount = 200", "amount = 0"))  # changed: checked again
    with pytest.raises(ConfigError, match="'amount' must be more than 0 USD"):
        load_config(path)


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"XDG_CONFIG_HOME": "/x/config", "XDG_DATA_HOME": "/x/data", "XDG_CACHE_HOME": "/x/cache"},
        {"XDG_CONFIG_HOME": "", "XDG_DATA_HOME": "", "XDG_CACHE_HOME": ""},
        {"XDG_CACHE_HOME": "relative/cache", "XDG_DATA_HOME": "  "},
        {"HOME": "relative-home"},
    ],
)
def test_the_folders_are_platformdirs_own(
    variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the ledger, the configuration and the caches live is platformdirs' answer, also
    where it is not asked (its import costs a status line a tenth of its time)."""
    import platformdirs

    from tokentrail.config import app_folder

    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert app_folder("cache") == Path(platformdirs.user_cache_dir("tokentrail"))
    assert app_folder("config") == Path(platformdirs.user_config_dir("tokentrail", appauthor=False))
    assert app_folder("data") == Path(platformdirs.user_data_dir("tokentrail", appauthor=False))
