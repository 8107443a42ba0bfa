"""The exceptions tokentrail raises on purpose. Each message names the input, the problem and
the fix; the CLI prints it without a traceback.

    TokentrailError
    ├── ConfigError      the configuration file or an option is wrong
    ├── StoreError       the ledger cannot be opened, migrated or written
    └── SyncError        a sync cannot run (e.g. a source path is not readable)
"""

from __future__ import annotations


class TokentrailError(Exception):
    """Base class of every error tokentrail reports to the user."""


class ConfigError(TokentrailError):
    """The configuration file, an environment variable or an option is invalid."""


class StoreError(TokentrailError):
    """The ledger cannot be opened, migrated, read or written."""


class SyncError(TokentrailError):
    """A sync cannot run."""
