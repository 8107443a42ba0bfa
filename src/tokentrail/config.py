"""Where things live, and the user's configuration file.

Precedence, highest first: command-line option, environment variable, configuration file,
built-in default. The configuration file is ``~/.config/tokentrail/config.toml`` on Linux (the
platform's user config dir), or the file named by ``TOKENTRAIL_CONFIG``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tokentrail.app_dirs import CONFIG_ENV, plain_app_folder
from tokentrail.errors import ConfigError

if TYPE_CHECKING:
    # PriceOverride, the TOML parser and the network module are imported where a file or a
    # machine name asks for them: a status line without a configuration file pays for none
    from tokentrail.config_schema import BudgetTable as ConfigBudget
    from tokentrail.config_schema import PriceTable as ConfigPrice
    from tokentrail.config_schema import SourceTable as ConfigSource
    from tokentrail.config_schema import StatuslineTable as ConfigStatusline
    from tokentrail.pricing import PriceOverride

DB_ENV = "TOKENTRAIL_DB"
MACHINE_ENV = "TOKENTRAIL_MACHINE"
USER_ENV = "TOKENTRAIL_USER"

BUDGET_PERIODS = ("day", "week", "month")
DEFAULT_SOFT = 0.8


@dataclass(frozen=True, slots=True)
class SourceSettings:
    """Per-source settings: ``paths`` replaces the default locations when given."""

    paths: tuple[Path, ...] | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending limit in USD per local day, ISO week or month, optionally for one project or
    source. ``soft`` is the warning level as a fraction of ``amount`` (the hard level)."""

    name: str
    period: str
    """``day``, ``week`` or ``month``."""
    amount: float
    soft: float = DEFAULT_SOFT
    project: str | None = None
    """Text in the project path, as ``--project`` matches it."""
    source: str | None = None
    webhook: str | None = None
    """Where ``tokentrail budget --check`` posts when this budget is past a level."""

    @property
    def soft_amount(self) -> float:
        return self.amount * self.soft


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    database: str | None = None
    machine: str | None = None
    user: str | None = None
    """Who this machine's usage is attributed to when pushed to a team ledger."""
    sources: Mapping[str, SourceSettings] = field(default_factory=dict)
    prices: tuple[PriceOverride, ...] = ()
    budgets: tuple[Budget, ...] = ()
    statusline_fields: tuple[str, ...] | None = None
    """``[statusline] fields``: what ``tokentrail statusline`` shows (None: its default)."""

    def source_settings(self, name: str) -> SourceSettings:
        return self.sources.get(name, SourceSettings())


def app_folder(kind: Literal["config", "data", "cache"]) -> Path:
    """tokentrail's folder of this kind for this user, as platformdirs names it. On Linux
    with an absolute XDG variable, or none and an absolute ``HOME``, the rule is plain
    (``$XDG_CACHE_HOME/tokentrail``, ``~/.cache/tokentrail``: :mod:`tokentrail.app_dirs`) and
    platformdirs, whose import costs a status line a tenth of its time, is not asked; anything
    else is its to answer."""
    plain = plain_app_folder(kind)
    if plain is not None:
        return Path(plain)
    import platformdirs

    if kind == "cache":
        return Path(platformdirs.user_cache_dir("tokentrail"))
    if kind == "config":
        return Path(platformdirs.user_config_dir("tokentrail", appauthor=False))
    return Path(platformdirs.user_data_dir("tokentrail", appauthor=False))


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    return app_folder("config") / "config.toml"


def default_database_path() -> Path:
    return app_folder("data") / "ledger.db"


def resolve_database(
    option: str | None, config: Config, env: Mapping[str, str] | None = None
) -> str:
    """The ledger location: ``-d/--database``, then ``TOKENTRAIL_DB``, then config, then default."""
    env = os.environ if env is None else env
    for candidate in (option, env.get(DB_ENV), config.database):
        if candidate:
            return candidate if "://" in candidate else str(Path(candidate).expanduser())
    return str(default_database_path())


def machine_name(config: Config, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get(MACHINE_ENV) or config.machine:
        return env.get(MACHINE_ENV) or config.machine or ""
    import socket

    return socket.gethostname()


def user_name(config: Config, env: Mapping[str, str] | None = None) -> str | None:
    """The user a push attributes usage to: ``TOKENTRAIL_USER``, then config; else none."""
    env = os.environ if env is None else env
    return env.get(USER_ENV) or config.user or None


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration file; a missing file is an empty configuration."""
    path = path or default_config_path(env)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config(path=None)
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file {path}: {exc.strerror}") from exc
    key = _kept_key(raw, path)
    kept = _kept_config(key)
    if kept is not None:
        return kept
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file or remove it") from exc
    config = parse_config(data, path)
    _keep_config(key, config)
    return config


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    """The configuration in ``data`` (a parsed TOML file at ``path``, named in messages)."""
    from pydantic import ValidationError

    from tokentrail.config_schema import ConfigFile

    try:
        raw = ConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_config_problem(exc.errors(include_url=False), path)) from None
    return Config(
        path=path,
        database=raw.database,
        machine=raw.machine,
        user=raw.user,
        sources={name: _source(table) for name, table in raw.sources.items()},
        prices=tuple(_price(table) for table in raw.prices),
        budgets=_unique_names(tuple(_budget(table) for table in raw.budgets), path),
        statusline_fields=_statusline_fields(raw.statusline, path),
    )


def _source(table: ConfigSource) -> SourceSettings:
    paths = table.paths
    return SourceSettings(
        paths=tuple(Path(p).expanduser() for p in paths) if paths is not None else None,
        enabled=table.enabled,
    )


def _price(table: ConfigPrice) -> PriceOverride:
    from tokentrail.pricing import PriceOverride

    # a [[prices]] table has the fields of an override, by name
    return PriceOverride(**table.model_dump())


def _budget(table: ConfigBudget) -> Budget:
    period = table.period or ""  # checked by the schema
    amount = table.amount or 0.0
    project = table.project
    if project and len(project) > 1:
        project = project.rstrip("/") or project  # projects are kept without the slash
    return Budget(
        name=table.name or _budget_name(period, project, table.source),
        period=period,
        amount=amount,
        soft=table.soft,
        project=project,
        source=table.source,
        webhook=table.webhook,
    )


def _unique_names(budgets: tuple[Budget, ...], path: Path) -> tuple[Budget, ...]:
    seen: dict[str, int] = {}
    for index, budget in enumerate(budgets, start=1):
        if budget.name in seen:
            raise ConfigError(
                f"{path} [[budgets]] #{index}: the name {budget.name!r} is already used by "
                f"budget #{seen[budget.name]}; give one of them another 'name'"
            )
        seen[budget.name] = index
    return budgets


def _statusline_fields(table: ConfigStatusline | None, path: Path) -> tuple[str, ...] | None:
    if table is None or table.fields is None:
        return None
    from tokentrail.statusline import parse_fields

    try:
        return parse_fields(table.fields)
    except ConfigError as exc:
        raise ConfigError(f"{path} [statusline]: {exc}") from None


def _budget_name(period: str, project: str | None, source: str | None) -> str:
    """A name for a budget without one: ``monthly``, ``daily claude_code``, ``weekly webapp``."""
    base = {"day": "daily", "week": "weekly", "month": "monthly"}[period]
    scope = [source] if source else []
    if project:
        scope.append(project.rstrip("/").rsplit("/", 1)[-1] or project)
    return " ".join([base, *scope])


# -- messages -------------------------------------------------------------------------------

_PHRASES = {
    "float_type": "must be a number, got {input!r}",
    "int_type": "must be a number, got {input!r}",
    "decimal_type": "must be a number of USD per million tokens, got {input!r}",
    "decimal_parsing": "must be a number, got {input!r}",
    "finite_number": "must be a finite number, got {input!r}",
    "greater_than_equal": "must be a non-negative number, got {input!r}",
    "string_type": "must be a string",
    "string_too_short": "must be a non-empty string",
    "bool_type": "must be true or false",
    "list_type": "must be a list of strings",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "date_type": "must be a date like 2026-01-31",
    "date_parsing": "must be a date like 2026-01-31",
    "date_from_datetime_parsing": "must be a date like 2026-01-31",
    "date_from_datetime_inexact": "must be a date like 2026-01-31",
}
"""pydantic's error types in this file's words (the rest: :mod:`tokentrail.validation`)."""


def _config_problem(errors: Sequence[Mapping[str, Any]], path: Path) -> str:
    """The first problem of a configuration file, as file, table, key, problem and fix."""
    from tokentrail.validation import and_more, problems

    found = problems(errors, _PHRASES)
    unknown = [p for p in found if p.kind == "extra_forbidden"]
    if unknown:  # a misspelt key first: it is often why another one is missing
        table = unknown[0].loc[:-1]
        keys = [p.loc[-1] for p in unknown if p.loc[:-1] == table]
        where, _ = _where(table, path)
        text = (
            f"{where}: unknown key(s) {', '.join(map(repr, keys))}; "
            f"allowed: {', '.join(sorted(_allowed(table)))}"
        )
        return text + and_more(len(found) - len(keys))
    first = found[0]
    where, key = _where(first.loc, path)
    if key is None:
        text = f"{where} {first.message}"
    elif first.kind == "list_type" and first.loc in (("prices",), ("budgets",)):
        text = f"{where}: {key} must be an array of tables ([[{first.loc[0]}]])"
    elif first.kind in ("missing", "string_too_short") and (hint := _description(first.loc)):
        text = f"{where}: {key} ({hint}) is required"
    else:
        text = f"{where}: {key} {first.message}"
    return text + and_more(len(found) - 1)


def _where(loc: tuple[str | int, ...], path: Path) -> tuple[str, str | None]:
    """The file and table of ``loc`` (``config.toml [[prices]] #2``), and its key if any."""
    top, rest = (loc[0], loc[1:]) if loc else ("", ())
    if top in ("prices", "budgets") and rest:
        where, rest = f"{path} [[{top}]] #{int(rest[0]) + 1}", rest[1:]
    elif top == "sources" and rest:
        where, rest = f"{path} [sources.{rest[0]}]", rest[1:]
    elif top == "statusline":
        where = f"{path} [statusline]"
    else:
        where, rest = f"{path}", loc
    if not rest:
        return where, None
    key = f"'{rest[0]}'" + "".join(f" #{int(i) + 1}" for i in rest[1:] if isinstance(i, int))
    return where, key


def _table_model(table: tuple[str | int, ...]) -> Any:
    """The model of the table at ``table`` (a validation error's location less its key)."""
    from tokentrail.config_schema import TABLES, ConfigFile

    if table[:1] == ("statusline",) or len(table) > 1:
        return TABLES[str(table[0])]
    return ConfigFile


def _allowed(table: tuple[str | int, ...]) -> list[str]:
    return list(_table_model(table).model_fields)


def _description(loc: tuple[str | int, ...]) -> str | None:
    field = _table_model(loc[:-1]).model_fields.get(str(loc[-1]))
    return field.description if field else None


# -- a valid file's configuration, kept between processes ------------------------------------

CONFIG_CACHE_FILE = "config.json"
"""In the user's cache directory: the last valid configuration file, already checked."""


def _kept_key(raw: bytes, path: Path) -> str:
    """What a kept configuration stands for: the file's text and place, the home its ``~``
    paths were expanded in, and the code that checked it (its modules' size and time). The
    text itself, not a digest of it: a file of a few hundred bytes, and no hashlib to import."""
    here = Path(__file__).parent
    stamps = []
    for module in (here / "config.py", here / "config_schema.py"):
        try:
            stat = module.stat()
        except OSError:
            return ""  # no way to tell the code changed: do not keep
        stamps.append(f"{stat.st_size}:{stat.st_mtime_ns}")
    home = Path("~").expanduser()
    return "\x1f".join([*stamps, str(path), str(home), raw.decode("utf-8", "replace")])


def _cache_file() -> Path:
    return app_folder("cache") / CONFIG_CACHE_FILE


def _kept_config(key: str) -> Config | None:
    """The configuration kept for ``key``; None when there is none (or it cannot be read).

    Checking a file with pydantic costs more start-up time (its import and the schema's
    build) than a whole report on an empty ledger; the file seldom changes."""
    if not key:
        return None
    import orjson

    try:
        kept = orjson.loads(_cache_file().read_bytes())
        if not isinstance(kept, dict) or kept.get("key") != key:
            return None
        return _config_from_json(kept["config"])
    except (OSError, ValueError, KeyError, TypeError, ArithmeticError):
        return None  # missing, or of another shape: check the file again


def _keep_config(key: str, config: Config) -> None:
    """Write the kept configuration (atomically: two processes at once leave one whole file)."""
    if not key:
        return
    import orjson

    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}")
        temporary.write_bytes(orjson.dumps({"key": key, "config": _config_to_json(config)}))
        os.replace(temporary, path)
    except OSError:
        pass  # a cache: the next process checks the file again


def _config_to_json(config: Config) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "path": str(config.path) if config.path else None,
        "database": config.database,
        "machine": config.machine,
        "user": config.user,
        "sources": {
            name: {
                "paths": [str(p) for p in s.paths] if s.paths is not None else None,
                "enabled": s.enabled,
            }
            for name, s in config.sources.items()
        },
        "prices": [
            {
                "model": p.model,
                "since": p.since.isoformat() if p.since else None,
                **{
                    bucket: str(getattr(p, bucket)) if getattr(p, bucket) is not None else None
                    for bucket in _PRICE_BUCKETS
                },
            }
            for p in config.prices
        ],
        "budgets": [asdict(b) for b in config.budgets],
        "statusline_fields": config.statusline_fields,
    }


def _config_from_json(data: dict[str, Any]) -> Config:
    from datetime import date
    from decimal import Decimal

    from tokentrail.pricing import PriceOverride

    def decimal(value: str | None) -> Decimal | None:
        return Decimal(value) if value is not None else None

    fields = data["statusline_fields"]
    return Config(
        path=Path(data["path"]) if data["path"] else None,
        database=data["database"],
        machine=data["machine"],
        user=data["user"],
        sources={
            name: SourceSettings(
                paths=tuple(Path(p) for p in s["paths"]) if s["paths"] is not None else None,
                enabled=s["enabled"],
            )
            for name, s in data["sources"].items()
        },
        prices=tuple(
            PriceOverride(
                model=p["model"],
                since=date.fromisoformat(p["since"]) if p["since"] else None,
                input=Decimal(p["input"]),
                output=Decimal(p["output"]),
                cache_read=decimal(p["cache_read"]),
                cache_write=decimal(p["cache_write"]),
                cache_write_1h=decimal(p["cache_write_1h"]),
            )
            for p in data["prices"]
        ),
        budgets=tuple(Budget(**b) for b in data["budgets"]),
        statusline_fields=tuple(fields) if fields is not None else None,
    )


_PRICE_BUCKETS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
