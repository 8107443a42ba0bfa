"""The exceptions tokentrail raises on purpose. Each message names the input, the problem and
the fix; the CLI prints it without a traceback.

    TokentrailError
    ├── ConfigError      the configuration file or an option is wrong
    │   └── OptionError  a command-line option's value or combination (exit status 2)
    ├── StoreError       the ledger cannot be opened, migrated or written
    │   ├── LedgerBusy   another process held the ledger's write lock too long; retry
    │   ├── LedgerFull   the disk holding the ledger is full; nothing was written
    │   ├── LedgerTooNew a newer tokentrail wrote the ledger: reads only, writes refused
    │   └── LedgerDamaged  the ledger's file is corrupt (see ``tokentrail db check``)
    ├── SyncError        a sync cannot run (e.g. a source path is not readable)
    ├── InvalidUsage     a reported usage is refused; ``.field`` names the field
    │                    (tokentrail.ingest)
    └── UnknownRun       no run has the given id (tokentrail.ledger)

:class:`tokentrail.client.ClientError` is the HTTP client's own: it carries the server's
status and error body.
"""

from __future__ import annotations


class TokentrailError(Exception):
    """Base class of every error tokentrail reports to the user."""


class ConfigError(TokentrailError):
    """The configuration file, an environment variable or an option is invalid."""


class OptionError(ConfigError):
    """A command-line option has a wrong value or cannot be combined with another: a usage
    error, which the CLI reports with exit status 2."""


class StoreError(TokentrailError):
    """The ledger cannot be opened, migrated, read or written."""


class LedgerBusy(StoreError):
    """Another process kept the ledger locked for writing longer than the wait allows; the
    write was not made and can be retried as it is."""


class LedgerFull(StoreError):
    """The disk (or the file system's quota) holding the ledger is full: the write was rolled
    back whole and can be retried once there is space."""


class LedgerTooNew(StoreError):
    """The ledger was migrated by a newer tokentrail, whose schema this one does not know:
    it may be read, never written."""


class LedgerDamaged(StoreError):
    """The ledger's file is corrupt (damaged pages, or not a database any more)."""


class SyncError(TokentrailError):
    """A sync cannot run."""
