"""Gemini CLI's OpenTelemetry export: its log events mapped onto ledger events, and the
settings (``tokentrail otel-env gemini``) that point it at ``tokentrail serve``.

What it sends:
**Gemini CLI** (``packages/core/src/telemetry/types.ts``, ``sdk.ts``). Resource
``service.name`` = ``gemini-cli`` and ``session.id``; the log record attribute
``event.name`` = ``gemini_cli.api_response`` with ``model``, ``input_token_count``
(``promptTokenCount``, INCLUDES ``cached_content_token_count``), ``output_token_count``,
``thoughts_token_count`` (billed as output), ``tool_token_count``, ``total_token_count``,
``duration_ms``, ``prompt_id`` and, unless disabled, ``response_text`` (dropped here).
``gemini_cli.tool_call`` has ``function_name``, ``duration_ms``, ``success`` and
``function_args`` (dropped). Metric ``gemini_cli.token.usage`` (attribute ``type``).
Gemini also writes ``gen_ai.client.inference.operation.details`` records with
``gen_ai.usage.*``: the same requests again, so they are not counted a second time.

How ``otel-env`` points it here (settings the agent documents):
Gemini CLI (``packages/cli/src/config`` and ``core/src/telemetry/sdk.ts``): settings
``telemetry.enabled``, ``target`` (``local``), ``otlpEndpoint``, ``otlpProtocol`` (``http``
appends ``/v1/logs``, ``/v1/metrics``, ``/v1/traces`` to the endpoint) and ``logPrompts``, or
the ``GEMINI_TELEMETRY_*`` variables that override them. Gemini builds its exporters with
a URL only, so a token goes in the path (``/otlp/<token>``).
"""

from __future__ import annotations

from datetime import datetime

import orjson

from tokentrail.agents.gemini.usage import OTLP_FIELDS, tokens_from
from tokentrail.agents.otel import add_request
from tokentrail.errors import BadRecord
from tokentrail.otlp.batch import (
    Attrs,
    OtlpBatch,
    OtlpContext,
    add_tool,
    count,
    text,
)

_GEMINI_USAGE_FIELDS = (
    "model",
    "input_token_count",
    "output_token_count",
    "cached_content_token_count",
    "thoughts_token_count",
    "tool_token_count",
    "total_token_count",
    "duration_ms",
    "prompt_id",
)


def _session(context: OtlpContext, attrs: Attrs) -> str | None:
    """The session a record belongs to: its own ``session.id``, else its resource's."""
    session_id = text(attrs, "session.id") or text(context.resource, "session.id")
    return f"gemini:{session_id}" if session_id else None


def _gemini_response(batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs) -> None:
    # the same rule as the chat recordings; the event's total is not consulted
    tokens = tokens_from(lambda name: count(attrs, name), OTLP_FIELDS, use_total=False)
    if tokens.is_empty:
        raise BadRecord("empty_usage", "gemini_cli.api_response without token counts")
    add_request(
        batch,
        context,
        when,
        attrs,
        source="gemini",
        tokens=tokens,
        session=_session(context, attrs),
        model=text(attrs, "model"),
        provider="google",
        usage_fields=_GEMINI_USAGE_FIELDS,
    )


def _gemini_tool(batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs) -> None:
    session = _session(context, attrs)
    name = text(attrs, "function_name")
    identity = (text(attrs, "prompt_id"), name, when.isoformat())
    add_tool(batch, context, "gemini", session, name, identity, when, attrs, "success")


LOG_HANDLERS = {
    "gemini_cli.api_response": _gemini_response,
    "gemini_cli.tool_call": _gemini_tool,
}
"""The log events this agent's export carries usage or tool calls in, by ``event.name``."""


def otel_env(base: str, token: str | None) -> str:
    """What to paste to send this agent's usage to ``base`` (the server's base URL)."""
    endpoint = f"{base}/otlp/{token}" if token is not None else base
    settings = {
        "telemetry": {
            "enabled": True,
            "target": "local",
            "otlpEndpoint": endpoint,
            "otlpProtocol": "http",
            "logPrompts": False,
        }
    }
    return (
        "# Gemini CLI: put these in your shell profile (they override settings.json) ...\n"
        "export GEMINI_TELEMETRY_ENABLED=true\n"
        "export GEMINI_TELEMETRY_TARGET=local\n"
        "export GEMINI_TELEMETRY_OTLP_PROTOCOL=http\n"
        f"export GEMINI_TELEMETRY_OTLP_ENDPOINT={endpoint}\n"
        "export GEMINI_TELEMETRY_LOG_PROMPTS=false\n"
        "# ... or merge this into ~/.gemini/settings.json:\n"
        + orjson.dumps(settings, option=orjson.OPT_INDENT_2).decode()
        + "\n"
    )
