"""Where things live, and the user's configuration file.

Precedence, highest first: command-line option, environment variable, configuration file,
built-in default. The configuration file is ``~/.config/tokentrail/config.toml`` on Linux (the
platform's user config dir), or the file named by ``TOKENTRAIL_CONFIG``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokentrail.errors import ConfigError

if TYPE_CHECKING:
    # imported where a file asks for them: a status line without a configuration file
    # must not pay for the pricing, the TOML parser or the network module
    from decimal import Decimal

    from tokentrail.pricing import PriceOverride

DB_ENV = "TOKENTRAIL_DB"
CONFIG_ENV = "TOKENTRAIL_CONFIG"
MACHINE_ENV = "TOKENTRAIL_MACHINE"
USER_ENV = "TOKENTRAIL_USER"

_TOP_KEYS = {"database", "machine", "user", "sources", "prices", "budgets", "statusline"}
_SOURCE_KEYS = {"paths", "enabled"}
_PRICE_KEYS = {"model", "since", "input", "output", "cache_read", "cache_write", "cache_write_1h"}
_BUDGET_KEYS = {"name", "period", "amount", "soft", "project", "source", "webhook"}
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


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("tokentrail", appauthor=False)) / "config.toml"


def default_database_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("tokentrail", appauthor=False)) / "ledger.db"


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
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix the file or remove it") from exc
    return parse_config(data, path)


def parse_config(data: Mapping[str, Any], path: Path) -> Config:
    _reject_unknown(data, _TOP_KEYS, f"{path}")
    sources = {
        name: _parse_source(name, value, path) for name, value in data.get("sources", {}).items()
    }
    prices_raw = data.get("prices", [])
    if not isinstance(prices_raw, list):
        raise ConfigError(f"{path}: 'prices' must be an array of tables ([[prices]])")
    prices = tuple(_parse_price(i, item, path) for i, item in enumerate(prices_raw, start=1))
    budgets = parse_budgets(data.get("budgets", []), path)
    database = data.get("database")
    machine = data.get("machine")
    user = data.get("user")
    for key, value in (("database", database), ("machine", machine), ("user", user)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{path}: '{key}' must be a string")
    return Config(
        path=path,
        database=database,
        machine=machine,
        user=user,
        sources=sources,
        prices=prices,
        budgets=budgets,
        statusline_fields=_parse_statusline(data.get("statusline"), path),
    )


def _parse_statusline(value: Any, path: Path) -> tuple[str, ...] | None:
    if value is None:
        return None
    where = f"{path} [statusline]"
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    _reject_unknown(value, {"fields"}, where)
    fields = value.get("fields")
    if fields is None:
        return None
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ConfigError(
            f'{where}: \'fields\' must be a list of strings, e.g. ["session", "today"]'
        )
    from tokentrail.statusline import parse_fields

    try:
        return parse_fields(fields)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _parse_source(name: str, value: Any, path: Path) -> SourceSettings:
    where = f"{path} [sources.{name}]"
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a table")
    _reject_unknown(value, _SOURCE_KEYS, where)
    paths = value.get("paths")
    if paths is not None and (
        not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)
    ):
        raise ConfigError(f"{where}: 'paths' must be a list of strings")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: 'enabled' must be true or false")
    return SourceSettings(
        paths=tuple(Path(p).expanduser() for p in paths) if paths is not None else None,
        enabled=enabled,
    )


def _parse_price(index: int, item: Any, path: Path) -> PriceOverride:
    from tokentrail.pricing import PriceOverride

    where = f"{path} [[prices]] #{index}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table")
    _reject_unknown(item, _PRICE_KEYS, where)
    model = item.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigError(
            f"{where}: 'model' (a model name or glob such as 'my-model-*') is required"
        )
    since = item.get("since")
    if isinstance(since, str):
        try:
            since = date.fromisoformat(since)
        except ValueError:
            raise ConfigError(f"{where}: 'since' must be a date like 2026-01-31") from None
    if since is not None and not isinstance(since, date):
        raise ConfigError(f"{where}: 'since' must be a date like 2026-01-31")
    for required in ("input", "output"):
        if required not in item:
            raise ConfigError(f"{where}: '{required}' (USD per million tokens) is required")
    return PriceOverride(
        model=model,
        since=since,
        input=_price(item["input"], "input", where),
        output=_price(item["output"], "output", where),
        cache_read=_optional_price(item, "cache_read", where),
        cache_write=_optional_price(item, "cache_write", where),
        cache_write_1h=_optional_price(item, "cache_write_1h", where),
    )


def parse_budgets(raw: Any, path: Path) -> tuple[Budget, ...]:
    """The ``[[budgets]]`` tables; names (given or derived) must be unique."""
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: 'budgets' must be an array of tables ([[budgets]])")
    budgets = tuple(_parse_budget(i, item, path) for i, item in enumerate(raw, start=1))
    seen: dict[str, int] = {}
    for index, budget in enumerate(budgets, start=1):
        if budget.name in seen:
            raise ConfigError(
                f"{path} [[budgets]] #{index}: the name {budget.name!r} is already used by "
                f"budget #{seen[budget.name]}; give one of them another 'name'"
            )
        seen[budget.name] = index
    return budgets


def _parse_budget(index: int, item: Any, path: Path) -> Budget:
    where = f"{path} [[budgets]] #{index}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table")
    _reject_unknown(item, _BUDGET_KEYS, where)
    period = item.get("period")
    if period not in BUDGET_PERIODS:
        shown = "missing" if period is None else repr(period)
        raise ConfigError(
            f"{where}: 'period' is {shown}; it must be one of {', '.join(BUDGET_PERIODS)}"
        )
    if "amount" not in item:
        raise ConfigError(f"{where}: 'amount' (USD per {period}, e.g. amount = 200.0) is required")
    amount = _budget_number(item["amount"], "amount", where)
    if amount <= 0:
        raise ConfigError(f"{where}: 'amount' must be more than 0 USD, got {item['amount']!r}")
    soft = _budget_number(item.get("soft", DEFAULT_SOFT), "soft", where)
    if not 0 < soft <= 1:
        raise ConfigError(
            f"{where}: 'soft' is the warning level as a fraction of 'amount' and must be more "
            f"than 0 and at most 1 (e.g. 0.8 warns at 80%), got {item['soft']!r}"
        )
    project = _budget_text(item, "project", where)
    if project and len(project) > 1:
        project = project.rstrip("/") or project  # projects are kept without the slash
    source = _budget_text(item, "source", where)
    webhook = _budget_text(item, "webhook", where)
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: 'webhook' must be an http:// or https:// URL")
    name = _budget_text(item, "name", where) or _budget_name(period, project, source)
    return Budget(
        name=name,
        period=period,
        amount=amount,
        soft=soft,
        project=project,
        source=source,
        webhook=webhook,
    )


def _budget_name(period: str, project: str | None, source: str | None) -> str:
    """A name for a budget without one: ``monthly``, ``daily claude_code``, ``weekly webapp``."""
    base = {"day": "daily", "week": "weekly", "month": "monthly"}[period]
    scope = [source] if source else []
    if project:
        scope.append(project.rstrip("/").rsplit("/", 1)[-1] or project)
    return " ".join([base, *scope])


def _budget_number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: '{key}' must be a finite number, got {value!r}")
    return number


def _budget_text(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    return value.strip()


def _optional_price(item: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    return _price(item[key], key, where) if key in item else None


def _price(value: Any, key: str, where: str) -> Decimal:
    from decimal import Decimal, InvalidOperation

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where}: '{key}' must be a number of USD per million tokens")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}") from None
    if not price.is_finite() or price < 0:
        raise ConfigError(f"{where}: '{key}' must be a non-negative number, got {value!r}")
    return price


def _reject_unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
