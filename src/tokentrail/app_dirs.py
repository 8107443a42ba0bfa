"""Where tokentrail's folders are on a plain Linux home, with the standard library alone: the
rule :func:`tokentrail.config.app_folder` applies before it asks platformdirs, here so that the
quick paths (a status line, a kept report) can find the configuration file and the default
ledger without importing :mod:`tokentrail.config` (its dataclasses and pathlib are a fifth of
a status line's time)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing is not imported on the quick paths
if TYPE_CHECKING:
    from collections.abc import Mapping

CONFIG_ENV = "TOKENTRAIL_CONFIG"

_XDG_FOLDERS = {
    "config": ("XDG_CONFIG_HOME", ".config"),
    "data": ("XDG_DATA_HOME", ".local/share"),
    "cache": ("XDG_CACHE_HOME", ".cache"),
}


def plain_app_folder(kind: str, env: Mapping[str, str] | None = None) -> str | None:
    """tokentrail's folder of this kind (``config``, ``data``, ``cache``) when the rule is
    plain: on Linux with an absolute XDG variable (``$XDG_CACHE_HOME/tokentrail``), or none and
    an absolute ``HOME`` (``~/.cache/tokentrail``). None when platformdirs has to answer."""
    env = os.environ if env is None else env
    if sys.platform != "linux":
        return None
    variable, under_home = _XDG_FOLDERS[kind]
    value = env.get(variable)
    if value and os.path.isabs(value):
        return os.path.join(value, "tokentrail")
    home = env.get("HOME", "")
    if not value and os.path.isabs(home):
        return os.path.join(home, under_home, "tokentrail")
    return None


def plain_config_file(env: Mapping[str, str] | None = None) -> str | None:
    """The configuration file's path (``TOKENTRAIL_CONFIG``, else ``config.toml`` in the
    config folder), or None when only platformdirs can say where the folder is."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return os.path.expanduser(env[CONFIG_ENV])
    folder = plain_app_folder("config", env)
    return None if folder is None else os.path.join(folder, "config.toml")


def no_config_file(env: Mapping[str, str] | None = None) -> bool:
    """True when there is certainly no configuration file (so the configuration is the
    defaults, as :func:`tokentrail.config.load_config` would find); False when there is one,
    or when only :mod:`tokentrail.config` can tell (it then reads or reports it)."""
    path = plain_config_file(env)
    if path is None:
        return False
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:  # e.g. a parent that is a file: load_config reports it
        return False
    return False


def plain_database_file(env: Mapping[str, str] | None = None) -> str | None:
    """The default ledger's path (``ledger.db`` in the data folder) when the rule is plain."""
    folder = plain_app_folder("data", env)
    return None if folder is None else os.path.join(folder, "ledger.db")
