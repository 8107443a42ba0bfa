"""What an export request maps to (:class:`OtlpBatch`) and the kit the mappings are made of:
reading attributes (a malformed count is a :class:`~tokentrail.errors.BadRecord`, never
a silent zero), and adding a usage event or a tool call to a batch. Each agent's
``tokentrail.agents.<name>.otel`` maps its events with these."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tokentrail.errors import BadRecord
from tokentrail.ingest import MAX_COUNT, MAX_ID_LENGTH
from tokentrail.store.base import MetricSample, OtlpReceipt
from tokentrail.usage import Session, ToolCall, UsageEvent

_DIGITS = re.compile(r"[0-9]{1,15}")
_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?")
_UNREPORTED = frozenset({"", "undefined", "null", "none", "nan"})
"""String values that mean "not reported": Claude Code writes ``String(undefined)`` for a
count the API left out."""
_MAX_REASONS_IN_MESSAGE = 3


@dataclass(slots=True)
class OtlpBatch:
    """What one export request maps to."""

    events: list[UsageEvent] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    receipts: list[OtlpReceipt] = field(default_factory=list)
    samples: list[MetricSample] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    items: int = 0
    """Records (log records, data points or spans) in the request."""
    ignored: int = 0
    """Records accepted but not about usage (other events, other metrics)."""
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def reject(self, reason: str, detail: str) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.examples) < _MAX_REASONS_IN_MESSAGE:
            self.examples.append(f"{reason} ({detail})" if detail else reason)

    @property
    def message(self) -> str:
        """The ``partial_success.error_message``: how many were rejected and why."""
        if not self.rejected:
            return ""
        counts = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.reasons.items()))
        return f"{self.rejected} rejected ({counts}); e.g. " + "; ".join(self.examples)


Attrs = dict[str, Any]


_SCALAR_KINDS = frozenset(("string_value", "int_value", "double_value", "bool_value"))
"""The fields of an ``AnyValue`` that hold a scalar (the oneof's other members are arrays,
maps and bytes)."""


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind in _SCALAR_KINDS:
        return getattr(value, kind)
    return _NOT_SCALAR if kind is not None else None


class _NotScalar:
    def __repr__(self) -> str:
        return "<not a scalar>"


_NOT_SCALAR = _NotScalar()


def attributes(pairs: Iterable[KeyValue]) -> Attrs:
    """Scalar attributes as a dict (arrays, maps and bytes are marked, never read)."""
    return {kv.key: _value(kv.value) for kv in pairs}


def text(attrs: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = attrs.get(name)
        if isinstance(value, str) and value and value.lower() not in _UNREPORTED:
            return value[:MAX_ID_LENGTH]
    return None


def count(attrs: Mapping[str, Any], name: str) -> int | None:
    """A token count: a non-negative whole number, sent as an integer, a float with no
    fraction, or a string of digits (Claude Code and Codex send strings). ``None`` when
    absent or written as ``undefined``; :class:`BadRecord` for anything else."""
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or value is _NOT_SCALAR:
        raise BadRecord("invalid_count", f"{name}={value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _UNREPORTED:
            return None
        if not _DIGITS.fullmatch(text):
            raise BadRecord("invalid_count", f"{name}={value[:40]!r}")
        value = int(text)
    elif isinstance(value, float):
        if not value.is_integer():
            raise BadRecord("invalid_count", f"{name}={value!r}")
        value = int(value)
    if value < 0:
        raise BadRecord("invalid_count", f"{name}={value} is negative")
    if value > MAX_COUNT:
        raise BadRecord("invalid_count", f"{name}={value} is not a plausible token count")
    return int(value)


def number(attrs: Mapping[str, Any], name: str) -> float | None:
    """A non-negative finite number (cost, duration); ``None`` when absent or unusable."""
    value = attrs.get(name)
    if isinstance(value, bool) or value is None or value is _NOT_SCALAR:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            return None
        value = float(text)
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _flag(attrs: Mapping[str, Any], name: str) -> bool | None:
    value = attrs.get(name)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def digest(*parts: object) -> str:
    return hashlib.sha256(orjson.dumps(parts, default=str)).hexdigest()[:32]


def raw_usage(attrs: Mapping[str, Any], names: Iterable[str]) -> bytes:
    """The usage attributes as received (numbers and ids only, never text content)."""
    return orjson.dumps({n: attrs[n] for n in names if isinstance(attrs.get(n), str | int | float)})


@dataclass(slots=True)
class OtlpContext:
    """What the resource says about every record under it."""

    service: str | None
    machine: str | None
    resource: Attrs
    now: datetime

    @classmethod
    def of(cls, resource: Attrs, now: datetime) -> OtlpContext:
        """The context of the records under ``resource``: its service and host names."""
        return cls(
            service=text(resource, "service.name"),
            machine=text(resource, "host.name"),
            resource=resource,
            now=now,
        )


def add_event(batch: OtlpBatch, context: OtlpContext, event: UsageEvent) -> None:
    if len(event.key) > 2 * MAX_ID_LENGTH + 60:
        raise BadRecord("invalid_id", f"key of {len(event.key)} characters")
    batch.events.append(event)
    batch.receipts.append(
        OtlpReceipt(
            key=event.key,
            source=event.source,
            timestamp_ms=event.timestamp_ms,
            tokens=event.tokens,
            reported_cost_usd=event.reported_cost_usd,
            machine=event.machine,
        )
    )
    if event.session_key is not None:
        batch.sessions.append(
            Session(
                key=event.session_key,
                source=event.source,
                started_at=event.timestamp,
                ended_at=event.timestamp,
                model=event.model,
            )
        )


def _tool_call(
    source: str, session: str | None, identity: tuple[object, ...], name: str | None
) -> str:
    if name is None:
        raise BadRecord("missing_tool_name", source)
    return f"{source}:tool:{digest(session, *identity)}"


def add_tool(
    batch: OtlpBatch,
    context: OtlpContext,
    source: str,
    session: str | None,
    name: str | None,
    identity: tuple[object, ...],
    when: datetime,
    attrs: Attrs,
    success_name: str,
) -> None:
    key = _tool_call(source, session, identity, name)
    duration = number(attrs, "duration_ms")
    batch.tool_calls.append(
        ToolCall(
            key=key,
            source=source,
            tool_name=name or "",
            timestamp_ms=int(when.timestamp() * 1000),
            session_key=session,
            duration_ms=int(duration) if duration is not None else None,
            success=_flag(attrs, success_name),
            machine=context.machine,
        )
    )
