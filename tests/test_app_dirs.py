"""The configuration file and the default ledger as the quick paths find them
(:mod:`tokentrail.app_dirs`, standard library only) are where :mod:`tokentrail.config` finds
them; and "no configuration file" is said only when it would read none."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokentrail.app_dirs import no_config_file, plain_config_file, plain_database_file
from tokentrail.config import Config, default_config_path, default_database_path, load_config


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"XDG_CONFIG_HOME": "/srv/conf", "XDG_DATA_HOME": "/srv/data"},
        {"XDG_CONFIG_HOME": "relative/conf", "XDG_DATA_HOME": "relative/data"},
        {"TOKENTRAIL_CONFIG": "~/elsewhere/tokentrail.toml"},
    ],
)
def test_the_plain_paths_are_the_configs(
    variables: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "TOKENTRAIL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    config_file = plain_config_file()
    if config_file is not None:
        assert Path(config_file) == default_config_path()
    database = plain_database_file()
    if database is not None:
        assert Path(database) == default_database_path()


def test_no_config_file_only_when_load_config_reads_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("TOKENTRAIL_CONFIG", str(path))
    assert no_config_file() and load_config() == Config(path=None)
    path.write_text('[statusline]\nfields = ["today"]\n')
    assert not no_config_file()
    monkeypatch.setenv("TOKENTRAIL_CONFIG", str(path / "below-a-file.toml"))
    assert not no_config_file()  # not "none": load_config says what is wrong
