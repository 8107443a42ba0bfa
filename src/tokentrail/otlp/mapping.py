"""OpenTelemetry (OTLP) exports of coding agents, turned into ledger events: pure mapping.

:mod:`tokentrail.otlp.wire` decodes an ``ExportLogsServiceRequest`` /
``ExportMetricsServiceRequest`` / ``ExportTraceServiceRequest`` (protobuf or JSON, gzip or
not); ``map_*`` here turn one into an :class:`~tokentrail.otlp.batch.OtlpBatch`;
:func:`record` writes a batch in one ledger transaction. No HTTP here:
:mod:`tokentrail.server.otlp_routes` serves it.

What each agent sends (checked against the agents' own code and docs):

* **Each agent that exports OpenTelemetry** (Claude Code, Codex CLI, Gemini CLI, …): what it
  sends, checked against its own code and docs, and how its events map onto ledger events are
  in its package, ``tokentrail.agents.<name>.otel``; the registry (:mod:`tokentrail.agents`)
  says which service names, event names and usage metrics are its.
* **Any other app** following the OpenTelemetry GenAI conventions: spans or log records with
  ``gen_ai.usage.input_tokens`` (which "SHOULD include all types of input tokens, including
  cached tokens"), ``gen_ai.usage.output_tokens``, ``gen_ai.usage.cache_read.input_tokens``,
  ``gen_ai.usage.cache_creation.input_tokens``, ``gen_ai.response.model`` /
  ``gen_ai.request.model`` and ``gen_ai.provider.name`` (older: ``gen_ai.system``). Their
  source is the resource's ``service.name``.

Only usage metadata is kept: prompt, response, tool input and output text in a payload is
never read into anything stored. A record with a malformed value (a count that is not a
whole number, a negative count, an impossible timestamp) is a counted reject, never a crash
and never a silent zero. Event keys, and how they meet the keys of the agents' log files,
are in :mod:`tokentrail.correlate`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AGGREGATION_TEMPORALITY_CUMULATIVE

from tokentrail.correlate import OTLP_RANK
from tokentrail.errors import BadRecord
from tokentrail.ingest import MAX_COST_USD, MAX_COUNT, MAX_ID_LENGTH
from tokentrail.otlp.batch import (
    Attrs,
    OtlpBatch,
    OtlpContext,
    add_event,
    attributes,
    count,
    digest,
    raw_usage,
    text,
)
from tokentrail.otlp.wire import Signal
from tokentrail.store.base import MetricSample
from tokentrail.usage import Tokens, UsageEvent

if TYPE_CHECKING:
    from tokentrail.ledger import Ledger
    from tokentrail.store.transaction import WriteTransaction


GENAI_USAGE_METRIC = "gen_ai.client.token.usage"


@cache
def usage_metrics() -> dict[str, tuple[str, str]]:
    """The usage metrics kept (for reconciliation only): metric name -> (source, or "" for the
    service's own name; the attribute that splits the points by token type). The agents'
    come from the registry."""
    from tokentrail.agents import telemetry_agents

    known = {
        metric.name: (agent.name, metric.split)
        for agent, telemetry in telemetry_agents()
        for metric in telemetry.metrics
    }
    known[GENAI_USAGE_METRIC] = ("", "gen_ai.token.type")
    return known


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_FUTURE_SLACK = timedelta(days=1)


def _timestamp(nanos: int, attrs: Mapping[str, Any], observed: int, now: datetime) -> datetime:
    """When the record happened: its time, else ``event.timestamp``, else when it was
    observed, else now. Before 2000 or more than a day ahead is a reject."""
    from tokentrail.sources.values import parse_timestamp

    when: datetime | None = None
    if nanos > 0:
        when = _from_nanos(nanos)
    if when is None:
        when = parse_timestamp(attrs.get("event.timestamp"))
    if when is None and observed > 0:
        when = _from_nanos(observed)
    if when is None:
        return now
    if when < _EARLIEST or when > now + _FUTURE_SLACK:
        raise BadRecord("bad_timestamp", when.isoformat())
    return when


def _from_nanos(nanos: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(nanos / 1e9, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def source_of_service(service: str | None) -> str:
    """The ledger source of a service name: an agent's own name, else the service name."""
    from tokentrail.agents import telemetry_agents

    for agent, telemetry in telemetry_agents():
        if telemetry.owns_service(service):
            return agent.name
    return (service or "otel")[:MAX_ID_LENGTH]


def _is_agent_service(service: str | None) -> bool:
    from tokentrail.agents import telemetry_agents

    return any(telemetry.owns_service(service) for _, telemetry in telemetry_agents())


LogHandler = Callable[["OtlpBatch", "OtlpContext", datetime, Attrs], None]
"""Maps one log event of an agent (``tokentrail.agents.<name>.otel.LOG_HANDLERS``)."""


@cache
def _log_handlers() -> dict[str, LogHandler]:
    """Every agent's log handlers, by full event name (their modules imported on first use)."""
    from tokentrail.agents import telemetry_agents

    handlers: dict[str, LogHandler] = {}
    for agent, _ in telemetry_agents():
        handlers.update(agent.module("otel").LOG_HANDLERS)
    return handlers


def _event_prefix(service: str | None) -> str:
    """The prefix completing a short ``event.name`` of this service's agent, or ""."""
    from tokentrail.agents import telemetry_agents

    for _, telemetry in telemetry_agents():
        if telemetry.event_prefix and service in telemetry.services:
            return telemetry.event_prefix
    return ""


_GENAI_USAGE_FIELDS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.response.id",
)


def map_logs(request: ExportLogsServiceRequest, *, now: datetime | None = None) -> OtlpBatch:
    """Usage events, tool calls and rejects of a logs export."""
    batch = OtlpBatch()
    now = now or datetime.now(UTC)
    for resource_logs in request.resource_logs:
        context = OtlpContext.of(attributes(resource_logs.resource.attributes), now)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                batch.items += 1
                attrs = attributes(record.attributes)
                try:
                    _map_log(
                        batch,
                        context,
                        record.time_unix_nano,
                        record.observed_time_unix_nano,
                        _log_name(record, attrs, context),
                        attrs,
                    )
                except BadRecord as bad:
                    batch.reject(bad.reason, bad.detail)
    return batch


def _log_name(record: Any, attrs: Attrs, context: OtlpContext) -> str:
    """The event's full name: ``event.name``, the record's ``event_name`` or its body, with
    Claude Code's short ``event.name`` (``api_request``) completed from its body."""
    body = record.body.string_value if record.body.WhichOneof("value") == "string_value" else ""
    name = attrs.get("event.name")
    name = name if isinstance(name, str) else ""
    handlers = _log_handlers()
    for candidate in (name, record.event_name, body):
        if candidate in handlers:
            return str(candidate)
    prefix = _event_prefix(context.service)
    if name and prefix:
        return f"{prefix}.{name}"
    return name or str(record.event_name)


def _map_log(
    batch: OtlpBatch, context: OtlpContext, nanos: int, observed: int, name: str, attrs: Attrs
) -> None:
    handler = _log_handlers().get(name)
    if handler is not None:
        handler(batch, context, _timestamp(nanos, attrs, observed, context.now), attrs)
        return
    if not _is_agent_service(context.service) and _has_genai_usage(attrs):
        when = _timestamp(nanos, attrs, observed, context.now)
        basis = text(attrs, "gen_ai.response.id") or digest(nanos, sorted(attrs.items()))
        _genai_event(batch, context, when, attrs, basis)
        return
    batch.ignored += 1


def _has_genai_usage(attrs: Mapping[str, Any]) -> bool:
    return "gen_ai.usage.input_tokens" in attrs or "gen_ai.usage.output_tokens" in attrs


def _genai_event(
    batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs, basis: str
) -> None:
    """An OpenTelemetry GenAI span or log record: ``gen_ai.usage.input_tokens`` includes the
    cache reads and writes, which are taken out of the uncached input here."""
    prompt = count(attrs, "gen_ai.usage.input_tokens")
    cache_read = count(attrs, "gen_ai.usage.cache_read.input_tokens")
    cache_write = count(attrs, "gen_ai.usage.cache_creation.input_tokens")
    output = count(attrs, "gen_ai.usage.output_tokens")
    reasoning = count(attrs, "gen_ai.usage.reasoning.output_tokens")
    cached = (cache_read or 0) + (cache_write or 0)
    if prompt is not None and cached > prompt:
        raise BadRecord(
            "invalid_count",
            f"cache read + write = {cached} > gen_ai.usage.input_tokens = {prompt}",
        )
    if reasoning is not None and output is not None and reasoning > output:
        reasoning = None
    tokens = Tokens(
        input=None if prompt is None else prompt - cached,
        cache_read=cache_read,
        cache_write_5m=cache_write,
        output=output,
        reasoning=reasoning,
    )
    if tokens.is_empty:
        raise BadRecord("empty_usage", "no gen_ai.usage counts")
    source = source_of_service(context.service)
    add_event(
        batch,
        context,
        UsageEvent(
            key=f"{source}:otlp:{basis}",
            source=source,
            timestamp=when,
            tokens=tokens,
            model=text(attrs, "gen_ai.response.model", "gen_ai.request.model"),
            provider=text(attrs, "gen_ai.provider.name", "gen_ai.system"),
            session_key=text(attrs, "gen_ai.conversation.id", "session.id"),
            raw_usage=raw_usage(attrs, _GENAI_USAGE_FIELDS),
            rank=OTLP_RANK,
            machine=context.machine,
        ),
    )


# -- traces -----------------------------------------------------------------------------------


def map_traces(request: ExportTraceServiceRequest, *, now: datetime | None = None) -> OtlpBatch:
    """Usage events of OpenTelemetry GenAI spans (``gen_ai.usage.*``) of apps other than the
    three agents (whose spans repeat what their log events already say)."""
    batch = OtlpBatch()
    now = now or datetime.now(UTC)
    for resource_spans in request.resource_spans:
        context = OtlpContext.of(attributes(resource_spans.resource.attributes), now)
        agent = _is_agent_service(context.service)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                batch.items += 1
                attrs = attributes(span.attributes)
                if agent or not _has_genai_usage(attrs):
                    batch.ignored += 1
                    continue
                try:
                    when = _timestamp(span.end_time_unix_nano, {}, span.start_time_unix_nano, now)
                    basis = f"{span.trace_id.hex()}:{span.span_id.hex()}"
                    if not span.span_id:
                        basis = digest(span.name, span.start_time_unix_nano, sorted(attrs.items()))
                    _genai_event(batch, context, when, attrs, basis)
                except BadRecord as bad:
                    batch.reject(bad.reason, bad.detail)
    return batch


# -- metrics ----------------------------------------------------------------------------------


def map_metrics(request: ExportMetricsServiceRequest) -> OtlpBatch:
    """Samples of the agents' usage metrics (for reconciliation; never added to totals)."""
    batch = OtlpBatch()
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        service = text(resource, "service.name")
        machine = text(resource, "host.name")
        resource_id = sorted((k, str(v)) for k, v in resource.items())
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                points: Iterable[Any] = ()
                cumulative = False
                histogram = False
                if kind == "sum":
                    points = metric.sum.data_points
                    cumulative = (
                        metric.sum.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE
                    )
                elif kind == "histogram":
                    points = metric.histogram.data_points
                    histogram = True
                    cumulative = (
                        metric.histogram.aggregation_temporality
                        == AGGREGATION_TEMPORALITY_CUMULATIVE
                    )
                elif kind == "gauge":
                    points = metric.gauge.data_points
                elif kind == "exponential_histogram":
                    points = metric.exponential_histogram.data_points
                elif kind == "summary":
                    points = metric.summary.data_points
                known = usage_metrics().get(metric.name)
                for point in points:
                    batch.items += 1
                    if known is None or kind not in ("sum", "histogram"):
                        batch.ignored += 1
                        continue
                    try:
                        batch.samples.append(
                            _sample(
                                metric.name,
                                known,
                                service,
                                machine,
                                resource_id,
                                point,
                                cumulative=cumulative,
                                histogram=histogram,
                            )
                        )
                    except BadRecord as bad:
                        batch.reject(bad.reason, bad.detail)
    return batch


def _sample(
    name: str,
    known: tuple[str, str],
    service: str | None,
    machine: str | None,
    resource_id: list[tuple[str, str]],
    point: Any,
    *,
    cumulative: bool,
    histogram: bool,
) -> MetricSample:
    attrs = attributes(point.attributes)
    source = known[0] or source_of_service(service)
    if histogram:
        value: float = point.sum
        observations: int | None = int(point.count)
    else:
        which = point.WhichOneof("value")
        value = point.as_int if which == "as_int" else point.as_double
        observations = None
    if not math.isfinite(value) or value < 0:
        raise BadRecord("invalid_value", f"{name}={value!r}")
    # the bounds of every other way usage comes in: more is corrupt, and would overflow the
    # ledger's integers
    bound = MAX_COST_USD if name.endswith("cost.usage") else MAX_COUNT
    if value > bound or (observations is not None and observations > MAX_COUNT):
        raise BadRecord("invalid_value", f"{name}={value!r} is not a plausible figure")
    if point.time_unix_nano <= 0:
        raise BadRecord("bad_timestamp", f"{name} point without a time")
    split = known[1]
    kind = (text(attrs, split) if split else None) or ("USD" if name.endswith("cost.usage") else "")
    series = digest(
        source,
        name,
        resource_id,
        sorted((k, str(v)) for k, v in attrs.items()),
        point.start_time_unix_nano,
    )
    return MetricSample(
        source=source,
        name=name,
        kind=kind,
        model=text(attrs, "model", "gen_ai.response.model", "gen_ai.request.model"),
        session=text(attrs, "session.id", "conversation.id"),
        series=series,
        time_ms=point.time_unix_nano // 1_000_000,
        value=float(value),
        cumulative=cumulative,
        start_ms=point.start_time_unix_nano // 1_000_000 or None,
        count=observations,
        machine=machine,
    )


# -- recording --------------------------------------------------------------------------------


def record(ledger: Ledger, batch: OtlpBatch) -> None:
    """Write a mapped batch in one ledger transaction: its events (merged with copies read
    from log files, see :mod:`tokentrail.correlate`), sessions, receipts, samples and tool
    calls."""
    if not (batch.events or batch.samples or batch.tool_calls):
        return

    def also(tx: WriteTransaction) -> None:
        tx.put_otlp_receipts(batch.receipts)
        tx.put_metric_samples(batch.samples)
        tx.put_tool_calls(batch.tool_calls)

    ledger.record_batch(batch.events, batch.sessions, also=also)


def map_request(signal: Signal, message: Message, *, now: datetime | None = None) -> OtlpBatch:
    if isinstance(message, ExportLogsServiceRequest):
        return map_logs(message, now=now)
    if isinstance(message, ExportMetricsServiceRequest):
        return map_metrics(message)
    if isinstance(message, ExportTraceServiceRequest):
        return map_traces(message, now=now)
    raise TypeError(f"not an OTLP export request for {signal}: {type(message).__name__}")
