"""OTLP/HTTP's wire format: the media types, gzip, decoding an export request (protobuf or
JSON) with the official ``opentelemetry-proto`` classes, and the export and error responses.
No mapping here (:mod:`tokentrail.otlp.mapping`) and no HTTP
(:mod:`tokentrail.server.otlp_routes`)."""

from __future__ import annotations

import gzip
import zlib
from typing import Literal

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tokentrail.errors import OtlpDecodeError

Signal = Literal["logs", "metrics", "traces"]
Encoding = Literal["protobuf", "json"]

MAX_OTLP_BODY_BYTES = 5 * 1024 * 1024
"""Largest OTLP body accepted, compressed or not, and largest after gunzip (5 MiB)."""

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


REQUEST_TYPES: dict[Signal, type[Message]] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}


def media_encoding(content_type: str | None) -> Encoding:
    """``protobuf`` or ``json`` from a Content-Type header; 415 for anything else."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == PROTOBUF:
        return "protobuf"
    if media == JSON:
        return "json"
    raise OtlpDecodeError(
        415,
        f"Content-Type {media or '(none)'!r} is not supported; send {PROTOBUF} or {JSON}",
    )


def inflate(body: bytes, content_encoding: str | None, limit: int = MAX_OTLP_BODY_BYTES) -> bytes:
    """The body without its Content-Encoding (gzip or identity), at most ``limit`` bytes."""
    coding = (content_encoding or "identity").strip().lower()
    if len(body) > limit:
        raise OtlpDecodeError(413, f"the body is larger than {limit:,} bytes")
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip"):
        raise OtlpDecodeError(415, f"Content-Encoding {coding!r} is not supported; use gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise OtlpDecodeError(413, f"the body is larger than {limit:,} bytes once unzipped")
        if not inflater.eof:
            raise OtlpDecodeError(400, "the gzip stream is truncated")
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise OtlpDecodeError(400, f"the body is not valid gzip: {exc}") from None
    return data


def decode(signal: Signal, body: bytes, encoding: Encoding) -> Message:
    """Parse an export request of ``signal``; 400 when it is not one."""
    message = REQUEST_TYPES[signal]()
    try:
        if encoding == "protobuf":
            message.ParseFromString(body)
        else:
            json_format.Parse(body, message, ignore_unknown_fields=True)
            if signal == "traces":
                _fix_json_ids(message)
    except (DecodeError, json_format.ParseError) as exc:
        raise OtlpDecodeError(400, f"not a valid OTLP {signal} {encoding} body: {exc}") from None
    except (ValueError, TypeError, RecursionError, UnicodeError, OverflowError) as exc:
        raise OtlpDecodeError(400, f"not a valid OTLP {signal} {encoding} body: {exc}") from None
    return message


def _fix_json_ids(request: Message) -> None:
    """OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping reads base64:
    undo that so a span's key is the same whichever encoding it came in."""
    assert isinstance(request, ExportTraceServiceRequest)
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.trace_id = _hex_id(span.trace_id)
                span.span_id = _hex_id(span.span_id)


def _hex_id(value: bytes) -> bytes:
    import base64

    if len(value) in (12, 24):
        try:
            return bytes.fromhex(base64.b64encode(value).decode())
        except ValueError:
            return value
    return value


# -- responses --------------------------------------------------------------------------------


def export_response(signal: Signal, rejected: int, message: str, encoding: Encoding) -> bytes:
    """The export response, with ``partial_success`` when something was rejected."""
    response: Message
    if signal == "logs":
        response = ExportLogsServiceResponse()
        if rejected or message:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = message
    elif signal == "metrics":
        response = ExportMetricsServiceResponse()
        if rejected or message:
            response.partial_success.rejected_data_points = rejected
            response.partial_success.error_message = message
    else:
        response = ExportTraceServiceResponse()
        if rejected or message:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = message
    if encoding == "json":
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


def status_body(code: int, message: str, encoding: Encoding) -> bytes:
    """A ``google.rpc.Status`` (what OTLP/HTTP answers with on errors): ``code`` is an RPC
    code (e.g. 3 = INVALID_ARGUMENT)."""
    if encoding == "json":
        return orjson.dumps({"code": code, "message": message})
    from google.rpc.status_pb2 import Status  # only errors need it

    return Status(code=code, message=message).SerializeToString()
