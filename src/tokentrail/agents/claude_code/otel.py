"""Claude Code's OpenTelemetry export: its log events mapped onto ledger events, and the
settings (``tokentrail otel-env claude``) that point it at ``tokentrail serve``.

What it sends:
**Claude Code** (``service.name`` ``claude-code``). Log records with body
``claude_code.<event>`` and attribute ``event.name`` = ``<event>``; the standard attributes
``session.id``, ``user.id``, ``organization.id``, ``user.email``, ``terminal.type``,
``event.timestamp``, ``event.sequence`` and ``prompt.id``. ``api_request`` carries
``model``, ``input_tokens`` (uncached), ``output_tokens``, ``cache_read_tokens``,
``cache_creation_tokens``, ``cost_usd``, ``duration_ms``, ``request_id`` and ``speed``
(``fast``/``normal``) -- every number **as a string** (cli.js of @anthropic-ai/claude-code
2.1.112: ``input_tokens:String(A.input_tokens)`` …, ``String(undefined)`` when the API
omitted a count; a 2.0.62 capture shows ``{"stringValue": "372"}``). ``tool_result``
carries ``tool_name``, ``success`` ("true"/"false"), ``duration_ms`` and, with
``OTEL_LOG_TOOL_DETAILS``, ``tool_parameters``/``tool_input`` (dropped here). Metrics
``claude_code.token.usage`` (attribute ``type``: input, output, cacheRead, cacheCreation)
and ``claude_code.cost.usage`` (USD), per ``model`` (docs.anthropic.com, Claude Code
"Monitoring").

How ``otel-env`` points it here (settings the agent documents):
Claude Code (docs.anthropic.com, Claude Code "Monitoring"): ``CLAUDE_CODE_ENABLE_TELEMETRY``,
``OTEL_LOGS_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` = ``otlp``,
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc``, ``http/json``, ``http/protobuf``),
``OTEL_EXPORTER_OTLP_ENDPOINT`` (the SDK appends ``/v1/logs`` and ``/v1/metrics``) and
``OTEL_EXPORTER_OTLP_HEADERS`` (``Authorization=Bearer token``); ``OTEL_LOG_USER_PROMPTS``
stays off by default.
"""

from __future__ import annotations

from datetime import datetime

from tokentrail.correlate import OTLP_RANK
from tokentrail.errors import BadRecord
from tokentrail.otlp.batch import (
    Attrs,
    OtlpBatch,
    OtlpContext,
    add_event,
    add_tool,
    count,
    digest,
    number,
    raw_usage,
    text,
)
from tokentrail.usage import Tokens, UsageEvent

_CLAUDE_USAGE_FIELDS = (
    "model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost_usd",
    "duration_ms",
    "request_id",
    "speed",
)


def _claude_request(batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs) -> None:
    tokens = Tokens(
        input=count(attrs, "input_tokens"),
        cache_read=count(attrs, "cache_read_tokens"),
        cache_write_5m=count(attrs, "cache_creation_tokens"),
        output=count(attrs, "output_tokens"),
    )
    if tokens.is_empty:
        raise BadRecord("empty_usage", "claude_code.api_request without token counts")
    session = text(attrs, "session.id")
    request_id = text(attrs, "request_id")
    if request_id is not None:
        key = f"claude_code:req:{request_id}"
    else:
        basis = digest(session, attrs.get("event.sequence"), when.isoformat(), tokens.as_tuple())
        key = f"claude_code:otlp:{basis}"
    model = text(attrs, "model")
    speed = text(attrs, "speed")
    add_event(
        batch,
        context,
        UsageEvent(
            key=key,
            source="claude_code",
            timestamp=when,
            tokens=tokens,
            model=model,
            provider="anthropic" if model and model.startswith("claude") else None,
            session_key=session,
            reported_cost_usd=number(attrs, "cost_usd"),
            pricing_context=(("speed", speed),) if speed and speed != "normal" else (),
            raw_usage=raw_usage(attrs, _CLAUDE_USAGE_FIELDS),
            rank=OTLP_RANK,
            machine=context.machine,
        ),
    )


def _claude_tool(batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs) -> None:
    session = text(attrs, "session.id")
    name = text(attrs, "tool_name")
    sequence = attrs.get("event.sequence")
    identity = (sequence, name) if sequence is not None else (when.isoformat(), name)
    add_tool(batch, context, "claude_code", session, name, identity, when, attrs, "success")


LOG_HANDLERS = {
    "claude_code.api_request": _claude_request,
    "claude_code.tool_result": _claude_tool,
}
"""The log events this agent's export carries usage or tool calls in, by ``event.name``."""


def otel_env(base: str, token: str | None) -> str:
    """What to paste to send this agent's usage to ``base`` (the server's base URL)."""
    lines = [
        '# Claude Code: put these in your shell profile, or under "env" in',
        "# ~/.claude/settings.json (without 'export'). Start a new Claude Code afterwards.",
        "export CLAUDE_CODE_ENABLE_TELEMETRY=1",
        "export OTEL_LOGS_EXPORTER=otlp",
        "export OTEL_METRICS_EXPORTER=otlp",
        "export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
        f"export OTEL_EXPORTER_OTLP_ENDPOINT={base}",
    ]
    if token is not None:
        lines.append(f'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {token}"')
    lines.append("# Leave OTEL_LOG_USER_PROMPTS unset: tokentrail keeps no prompt text anyway.")
    return "\n".join(lines) + "\n"
