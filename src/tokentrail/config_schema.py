"""The configuration file's schema: one pydantic model per TOML table, unknown keys refused.

Imported only when there is a file to read (pydantic costs start-up time); :mod:`tokentrail.
config` turns a validation error into a :class:`~tokentrail.errors.ConfigError` naming the
file, the table, the key and the fix.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tokentrail.config import BUDGET_PERIODS, DEFAULT_SOFT

# TOML has its own types: a string is never a number, nor a number a flag (strict); a day may
# be a TOML date or a string (lax, for ``since`` only); a price may be written as a string to
# keep its decimals ("0.075")
_Price = Annotated[Decimal, Field(strict=False, ge=0, allow_inf_nan=False)]
_Number = Annotated[float, Field(allow_inf_nan=False)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourceTable(_Table):
    """``[sources.<name>]``."""

    paths: list[str] | None = None
    enabled: bool = True


class PriceTable(_Table):
    """``[[prices]]``: a price override, USD per million tokens."""

    model: str = Field(min_length=1, description="a model name or glob such as 'my-model-*'")
    since: Annotated[date | None, Field(strict=False)] = None
    input: _Price = Field(description="USD per million tokens")
    output: _Price = Field(description="USD per million tokens")
    cache_read: _Price | None = None
    cache_write: _Price | None = None
    cache_write_1h: _Price | None = None


class BudgetTable(_Table):
    """``[[budgets]]``: a spending limit per local day, ISO week or month."""

    name: str | None = None
    period: str | None = Field(default=None, validate_default=True)
    amount: _Number | None = Field(default=None, validate_default=True)
    soft: _Number = DEFAULT_SOFT
    project: str | None = None
    source: str | None = None
    webhook: str | None = None

    @field_validator("period")
    @classmethod
    def _period(cls, value: str | None) -> str:
        if value not in BUDGET_PERIODS:
            shown = "missing" if value is None else repr(value)
            raise ValueError(f"is {shown}; it must be one of {', '.join(BUDGET_PERIODS)}")
        return value

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: float | None, info: ValidationInfo) -> float:
        if value is None:
            period = info.data.get("period") or "period"
            raise ValueError(f"(USD per {period}, e.g. amount = 200.0) is required")
        if value <= 0:
            raise ValueError(f"must be more than 0 USD, got {value!r}")
        return value

    @field_validator("soft")
    @classmethod
    def _soft(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError(
                "is the warning level as a fraction of 'amount' and must be more than 0 and at "
                f"most 1 (e.g. 0.8 warns at 80%), got {value!r}"
            )
        return value

    @field_validator("name", "project", "source", "webhook")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must be a non-empty string")
        return value.strip()

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class StatuslineTable(_Table):
    """``[statusline]``."""

    fields: list[str] | None = None


class ConfigFile(_Table):
    """The whole file."""

    database: str | None = None
    machine: str | None = None
    user: str | None = None
    sources: dict[str, SourceTable] = {}
    prices: list[PriceTable] = []
    budgets: list[BudgetTable] = []
    statusline: StatuslineTable | None = None


TABLES: dict[str, type[_Table]] = {
    "sources": SourceTable,
    "prices": PriceTable,
    "budgets": BudgetTable,
    "statusline": StatuslineTable,
}
"""Each table's model, by the top-level key that holds it."""
