"""What a store's write transaction does (:class:`WriteTransaction`, what
:meth:`tokentrail.store.base.Store.write` yields): the ledger's batches, runs, the push
watermarks, retractions, and what OpenTelemetry, tool calls and rate limits add."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tokentrail.ratelimits import RateLimitSnapshot
    from tokentrail.store.base import Cursor, Entry, PushWatermark
    from tokentrail.store.records import MetricSample, OtlpReceipt
    from tokentrail.usage import Run, Session, ToolCall, ToolResult


class WriteTransaction(Protocol):
    """One exclusive write transaction: everything in it commits together or not at all."""

    def get_entries(self, keys: Sequence[str]) -> dict[str, Entry]: ...

    def insert_entries(self, entries: Sequence[Entry]) -> None: ...

    def replace_entries(self, changes: Sequence[tuple[Entry, Entry]]) -> None:
        """Replace each old entry by its new version (same key), keeping rollups right."""
        ...

    def get_sessions(self, keys: Sequence[str]) -> dict[str, Session]: ...

    def put_sessions(self, sessions: Sequence[Session]) -> None: ...

    def put_cursors(self, cursors: Sequence[Cursor]) -> None: ...

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]: ...

    def running_runs(self, app: str) -> list[Run]: ...

    def last_event_ms(self, run_id: str) -> int | None: ...

    def open_sessions_of_run(self, run_id: str) -> list[tuple[Session, int | None]]:
        """The run's sessions not yet ended (no end time, or state ``running``), each with
        the time of its last request in UTC epoch milliseconds (None without requests)."""
        ...

    def put_runs(self, runs: Sequence[Run]) -> None: ...

    def get_push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        """The stored watermark (zeros when this ledger never pushed here)."""
        ...

    def put_push_watermark(self, mark: PushWatermark) -> None:
        """Store a watermark; no value ever moves backwards."""
        ...

    # -- retractions (tokentrail db retract) --------------------------------------------------

    def has_retractions(self) -> bool:
        """Whether any event was ever retracted (the usual answer, no, spares looking up every
        key and alias of a batch)."""
        ...

    def retracted_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` name a retracted event (never to be recorded again)."""
        ...

    def retract_entries(self, keys: Sequence[str], reason: str, at_ms: int) -> list[str]:
        """Take the recorded events of ``keys`` out of the ledger and every total, keeping
        each row in the retractions with ``reason``; returns the keys that were retracted."""
        ...

    # -- OpenTelemetry (see tokentrail.otlp and tokentrail.correlate) ------------------------

    def alias_targets(self, aliases: Sequence[str]) -> dict[str, str]:
        """For each of ``aliases`` that the alias index knows, the key of its request."""
        ...

    def put_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Record ``(alias, event key)`` pairs; an alias already recorded keeps its request."""
        ...

    def put_otlp_receipts(self, receipts: Sequence[OtlpReceipt]) -> None:
        """Record what OTLP reported for each request (a resent request replaces its row)."""
        ...

    def put_metric_samples(self, samples: Sequence[MetricSample]) -> int:
        """Record metric data points, each with its increase since the previous point of its
        series; a point already recorded (same series and time) is skipped. Returns how many
        were new."""
        ...

    def put_tool_calls(self, calls: Sequence[ToolCall]) -> None:
        """Record tool calls (a resent call replaces its row)."""
        ...

    # -- 5-hour blocks (see tokentrail.blocks) ----------------------------------------------

    def put_rate_limits(self, snapshots: Sequence[RateLimitSnapshot]) -> None:
        """Record official rate-limit snapshots; one already recorded (same source, machine,
        window and time) is kept as it is, so re-reading a log adds nothing."""
        ...

    def put_log_tool_calls(self, calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> None:
        """Record tool calls and results read from log files; a call or result already
        recorded keeps its first row (a resumed or forked session replays the same calls)."""
        ...
