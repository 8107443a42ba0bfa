"""The exceptions tokentrail raises on purpose, in one tree. Each message names the input, the
problem and the fix; the CLI prints it without a traceback.

    TokentrailError          base: catch it to catch every error tokentrail reports
    ├── ConfigError          the configuration file, an environment variable or an option
    │   └── OptionError      a command-line option's value or combination (exit status 2)
    ├── StoreError           the ledger cannot be opened, migrated, read or written
    │   ├── LedgerBusy       another process held the write lock too long; retry as it is
    │   ├── LedgerFull       the disk holding the ledger is full; nothing was written
    │   ├── LedgerTooNew     a newer tokentrail wrote the ledger: reads only, writes refused
    │   └── LedgerDamaged    the ledger's file is corrupt (see ``tokentrail db check``)
    ├── InvalidUsage         a reported usage or run/session change is refused; ``.field``
    ├── UnknownRun           no run has the given id; ``.run_id``
    ├── OtlpDecodeError      an OTLP/HTTP body cannot be read; ``.status`` (400, 413, 415)
    ├── BadRecord            one log record a parser cannot ingest; ``.reason`` (counted as a
    │                        skip by the sync, never shown as an error)
    └── ClientError          a request of :class:`tokentrail.client.Client` failed; ``.status``
                             (None when no answer came), ``.code`` and ``.field`` from the
                             server's error body

Each is also importable from where it is raised: ``tokentrail.ingest.InvalidUsage``,
``tokentrail.ledger.UnknownRun``, ``tokentrail.otlp.OtlpDecodeError``,
``tokentrail.sources.base.BadRecord``, ``tokentrail.client.ClientError``.
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


class InvalidUsage(TokentrailError):
    """A reported usage cannot be recorded; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownRun(TokentrailError):
    """No run has this id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}; start it first (POST /api/v1/runs)")
        self.run_id = run_id


class OtlpDecodeError(TokentrailError):
    """An OTLP/HTTP body cannot be read: ``status`` is the HTTP answer (400, 413 or 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadRecord(TokentrailError):
    """A record that cannot be ingested; the parser turns it into a counted
    :class:`~tokentrail.usage.Skip`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ClientError(TokentrailError):
    """A request failed: ``status`` is the HTTP status (None when no answer came), ``code``
    and ``field`` come from the server's error body."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
