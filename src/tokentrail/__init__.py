"""tokentrail: a persistent, truthful ledger of what AI agents spend.

The public API for orchestrators::

    from tokentrail import Ledger, anthropic_usage, openai_usage, gemini_usage

See :mod:`tokentrail.sdk` for runs, sessions and attempts, and :mod:`tokentrail.client` for
recording into a tokentrail server over HTTP.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: `import tokentrail` stays as light as the status line needs

__all__ = [
    "ConfigError",
    "InvalidUsage",
    "Ledger",
    "LedgerBusy",
    "Run",
    "Session",
    "StoreError",
    "Tokens",
    "TokentrailError",
    "UsageEvent",
    "anthropic_usage",
    "gemini_usage",
    "openai_usage",
]

if TYPE_CHECKING:
    from typing import Any

    from tokentrail.errors import ConfigError, InvalidUsage, LedgerBusy, StoreError, TokentrailError
    from tokentrail.ledger import Ledger
    from tokentrail.providers import anthropic_usage, gemini_usage, openai_usage
    from tokentrail.usage import Run, Session, Tokens, UsageEvent

_HOMES = {
    "Ledger": "tokentrail.ledger",
    "InvalidUsage": "tokentrail.errors",
    "TokentrailError": "tokentrail.errors",
    "ConfigError": "tokentrail.errors",
    "StoreError": "tokentrail.errors",
    "LedgerBusy": "tokentrail.errors",
    "anthropic_usage": "tokentrail.providers",
    "gemini_usage": "tokentrail.providers",
    "openai_usage": "tokentrail.providers",
    "Run": "tokentrail.usage",
    "Session": "tokentrail.usage",
    "Tokens": "tokentrail.usage",
    "UsageEvent": "tokentrail.usage",
}


def __getattr__(name: str) -> Any:
    # imported on first use, so `import tokentrail` (and the CLI) stays fast
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'tokentrail' has no attribute {name!r}")
