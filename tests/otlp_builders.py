"""OTLP export requests shaped as each agent sends them, built with the official protobuf
classes (attribute names, types and string-typed numbers as the agents write them; see the
docstring of :mod:`tokentrail.otlp.mapping` for the sources)."""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
    Metric,
)

Attr = str | int | float | bool


def kv(key: str, value: Attr) -> KeyValue:
    any_value = AnyValue()
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    else:
        any_value.string_value = value
    return KeyValue(key=key, value=any_value)


def nanos(when: str) -> int:
    return int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1_000_000_000)


def log_record(attrs: Mapping[str, Attr], *, when: str, body: str | None = None) -> LogRecord:
    record = LogRecord(time_unix_nano=nanos(when), observed_time_unix_nano=nanos(when))
    if body is not None:
        record.body.string_value = body
    record.attributes.extend(kv(k, v) for k, v in attrs.items())
    return record


def logs_request(
    records: Sequence[LogRecord], resource: Mapping[str, Attr]
) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(kv(k, v) for k, v in resource.items())
    scope = resource_logs.scope_logs.add()
    scope.scope.name = "com.anthropic.claude_code.events"
    scope.log_records.extend(records)
    return request


CLAUDE_RESOURCE = {
    "service.name": "claude-code",
    "service.version": "2.1.112",
    "os.type": "linux",
    "host.arch": "amd64",
}


def claude_api_request(
    session: str,
    request_id: str | None,
    *,
    when: str = "2026-03-02T10:00:05.000Z",
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: Attr = 100,
    output_tokens: Attr = 50,
    cache_read: Attr = 0,
    cache_creation: Attr = 0,
    cost: Attr = 0.0012,
    sequence: int = 1,
    speed: str = "normal",
    **extra: Attr,
) -> LogRecord:
    """``claude_code.api_request`` as cli.js 2.1.112 emits it: every number a string."""
    attrs: dict[str, Attr] = {
        "user.id": "d05889aa",
        "session.id": session,
        "organization.id": "a3ac161e-b4c2-447d-989c-7db8462305a0",
        "user.email": "dev@example.com",
        "terminal.type": "tmux",
        "event.name": "api_request",
        "event.timestamp": when,
        "event.sequence": sequence,
        "prompt.id": "8d1b7c7e-1111-4111-8111-111111111111",
        "model": model,
        "input_tokens": str(input_tokens),
        "output_tokens": str(output_tokens),
        "cache_read_tokens": str(cache_read),
        "cache_creation_tokens": str(cache_creation),
        "cost_usd": str(cost),
        "duration_ms": "845",
        "speed": speed,
    }
    if request_id is not None:
        attrs["request_id"] = request_id
    attrs.update(extra)
    return log_record(attrs, when=when, body="claude_code.api_request")


def claude_tool_result(
    session: str, *, when: str = "2026-03-02T10:00:06.000Z", sequence: int = 2, **extra: Attr
) -> LogRecord:
    attrs: dict[str, Attr] = {
        "session.id": session,
        "event.name": "tool_result",
        "event.timestamp": when,
        "event.sequence": sequence,
        "tool_name": "Bash",
        "success": "true",
        "duration_ms": "632",
        "tool_parameters": '{"bash_command":"cat","full_command":"cat SECRET-TOOL-INPUT.txt"}',
        "tool_result_size_bytes": "294",
        "decision_source": "config",
        "decision_type": "accept",
        **extra,
    }
    return log_record(attrs, when=when, body="claude_code.tool_result")


CODEX_RESOURCE = {"service.name": "codex_cli_rs", "service.version": "0.46.0"}


def codex_sse_completed(
    conversation: str,
    *,
    when: str = "2026-03-02T10:00:05.000Z",
    input_tokens: int = 1200,
    cached: int | None = 1000,
    output: int = 300,
    reasoning: int | None = 200,
    model: str = "gpt-5-codex",
) -> LogRecord:
    """``codex.sse_event`` / ``response.completed`` (session_telemetry.rs): counts recorded
    with ``%`` arrive as strings, the optional ones as integers."""
    attrs: dict[str, Attr] = {
        "event.name": "codex.sse_event",
        "event.kind": "response.completed",
        "input_token_count": str(input_tokens),
        "output_token_count": str(output),
        "tool_token_count": "0",
        "event.timestamp": when,
        "conversation.id": conversation,
        "app.version": "0.46.0",
        "auth_mode": "ChatGPT",
        "originator": "codex_cli_rs",
        "terminal.type": "tmux",
        "model": model,
        "slug": model,
    }
    if cached is not None:
        attrs["cached_token_count"] = cached
    if reasoning is not None:
        attrs["reasoning_token_count"] = reasoning
    return log_record(attrs, when=when)


GEMINI_RESOURCE = {"service.name": "gemini-cli", "service.version": "v22.0.0"}


def gemini_api_response(
    session: str,
    *,
    when: str = "2025-11-03T09:15:10.500Z",
    input_tokens: int = 1200,
    output: int = 80,
    cached: int = 0,
    thoughts: int = 0,
    tool: int = 0,
    model: str = "gemini-2.5-pro",
    response_text: str | None = "SECRET-RESPONSE-TEXT",
) -> LogRecord:
    """``gemini_cli.api_response`` (types.ts toLogRecord): integer attributes."""
    attrs: dict[str, Attr] = {
        "session.id": session,
        "installation.id": "inst-1",
        "event.name": "gemini_cli.api_response",
        "event.timestamp": when,
        "model": model,
        "duration_ms": 1432,
        "input_token_count": input_tokens,
        "output_token_count": output,
        "cached_content_token_count": cached,
        "thoughts_token_count": thoughts,
        "tool_token_count": tool,
        "total_token_count": input_tokens + output + thoughts + tool,
        "prompt_id": "prompt-1",
        "auth_type": "oauth-personal",
        "status_code": 200,
    }
    if response_text is not None:
        attrs["response_text"] = response_text
    return log_record(attrs, when=when, body=f"API response from {model}. Status: 200.")


def gemini_semantic_details(session: str, *, when: str = "2025-11-03T09:15:10.500Z") -> LogRecord:
    """The GenAI-convention copy gemini-cli writes of the same response."""
    attrs: dict[str, Attr] = {
        "session.id": session,
        "event.name": "gen_ai.client.inference.operation.details",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 80,
        "gen_ai.output.messages": "SECRET-RESPONSE-TEXT",
    }
    return log_record(attrs, when=when, body="GenAI operation details from gemini-2.5-pro.")


def genai_spans(
    service: str, spans: Sequence[Mapping[str, Attr]], *, when: str = "2026-03-02T10:00:05.000Z"
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(kv("service.name", service))
    scope = resource_spans.scope_spans.add()
    for index, attrs in enumerate(spans, start=1):
        span = scope.spans.add()
        span.trace_id = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
        span.span_id = index.to_bytes(8, "big")
        span.name = "chat gpt-4o"
        span.start_time_unix_nano = nanos(when) - 2_000_000_000
        span.end_time_unix_nano = nanos(when)
        span.attributes.extend(kv(k, v) for k, v in attrs.items())
    return request


def metrics_request(
    resource: Mapping[str, Attr], metrics: Sequence[Metric]
) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    resource_metrics.resource.attributes.extend(kv(k, v) for k, v in resource.items())
    scope = resource_metrics.scope_metrics.add()
    scope.scope.name = "com.anthropic.claude_code"
    scope.metrics.extend(metrics)
    return request


def sum_metric(
    name: str,
    points: Sequence[tuple[Mapping[str, Attr], float, str]],
    *,
    cumulative: bool,
    start: str = "2026-03-02T09:59:00.000Z",
) -> Metric:
    """A counter; ``points`` are (attributes, value, time)."""
    metric = Metric(name=name, unit="tokens")
    metric.sum.is_monotonic = True
    metric.sum.aggregation_temporality = (
        AGGREGATION_TEMPORALITY_CUMULATIVE if cumulative else AGGREGATION_TEMPORALITY_DELTA
    )
    for attrs, value, when in points:
        point = metric.sum.data_points.add()
        point.attributes.extend(kv(k, v) for k, v in attrs.items())
        point.start_time_unix_nano = nanos(start)
        point.time_unix_nano = nanos(when)
        if isinstance(value, int):
            point.as_int = value
        else:
            point.as_double = value
    return metric


def histogram_metric(
    name: str, points: Sequence[tuple[Mapping[str, Attr], float, int, str]]
) -> Metric:
    """A delta histogram; ``points`` are (attributes, sum, count, time)."""
    metric = Metric(name=name)
    metric.histogram.aggregation_temporality = AGGREGATION_TEMPORALITY_DELTA
    for attrs, total, count, when in points:
        point = metric.histogram.data_points.add()
        point.attributes.extend(kv(k, v) for k, v in attrs.items())
        point.time_unix_nano = nanos(when)
        point.sum = total
        point.count = count
    return metric


def encode(
    message: Message, encoding: str, *, gzipped: bool = False
) -> tuple[bytes, dict[str, str]]:
    """The body and headers an exporter sends."""
    if encoding == "json":
        body = json_format.MessageToJson(message).encode()
        headers = {"content-type": "application/json"}
    else:
        body = message.SerializeToString()
        headers = {"content-type": "application/x-protobuf"}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return body, headers


def otlp_json_logs(records: Sequence[Mapping[str, Any]], service: str) -> dict[str, Any]:
    """An OTLP/JSON logs body written by hand (lowerCamelCase, ``intValue`` as a string)."""
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeLogs": [{"logRecords": list(records)}],
            }
        ]
    }
