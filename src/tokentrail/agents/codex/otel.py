"""Codex CLI's OpenTelemetry export: its log events mapped onto ledger events, and the
settings (``tokentrail otel-env codex``) that point it at ``tokentrail serve``.

What it sends:
**Codex CLI** (``codex-rs/otel/src/events/session_telemetry.rs``). Log records whose
``event.name`` attribute is ``codex.sse_event``; with ``event.kind`` = ``response.completed``
they carry ``input_token_count`` (INCLUDES cached), ``output_token_count`` (includes
reasoning), ``cached_token_count``, ``reasoning_token_count`` and ``tool_token_count``
(some as strings: they are recorded with ``%`` Display), plus on every event
``conversation.id`` (the rollout's session id), ``model``, ``slug``, ``app.version``,
``event.timestamp``. ``codex.tool_result`` has ``tool_name``, ``call_id``, ``duration_ms``,
``success`` and the tool's ``arguments``/``output`` (dropped here). The histogram
``codex.turn.token_usage`` (attribute ``token_type``: total, input, cached_input, output,
reasoning_output) is per turn and has no session id: kept for reconciliation only.

How ``otel-env`` points it here (settings the agent documents):
Codex CLI (``[otel]`` of the user-level ``~/.codex/config.toml``; a project's
``.codex/config.toml`` is ignored for it): ``exporter`` (log events) and
``metrics_exporter`` as ``{ otlp-http = { endpoint, protocol = "binary" | "json", headers } }``
with the full signal URL, and ``log_user_prompt = false``.
"""

from __future__ import annotations

from datetime import datetime

import orjson

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
from tokentrail.usage import Tokens

_CODEX_USAGE_FIELDS = (
    "model",
    "input_token_count",
    "output_token_count",
    "cached_token_count",
    "reasoning_token_count",
    "tool_token_count",
    "duration_ms",
)


def _codex_event(batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs) -> None:
    if attrs.get("event.kind") != "response.completed" or "input_token_count" not in attrs:
        batch.ignored += 1  # other SSE events, and failed responses (no usage)
        return
    prompt = count(attrs, "input_token_count")
    cached = count(attrs, "cached_token_count")
    output = count(attrs, "output_token_count")
    reasoning = count(attrs, "reasoning_token_count")
    if prompt is not None and cached is not None and cached > prompt:
        raise BadRecord("invalid_count", f"cached_token_count={cached} > input={prompt}")
    if reasoning is not None and output is not None and reasoning > output:
        reasoning = None  # display only: never worth the request
    tokens = Tokens(
        input=None if prompt is None else prompt - (cached or 0),
        cache_read=cached,
        output=output,
        reasoning=reasoning,
    )
    add_request(
        batch,
        context,
        when,
        attrs,
        source="codex",
        tokens=tokens,
        session=text(attrs, "conversation.id"),
        model=text(attrs, "model", "slug"),
        provider="openai",
        usage_fields=_CODEX_USAGE_FIELDS,
    )


def _codex_tool(batch: OtlpBatch, context: OtlpContext, when: datetime, attrs: Attrs) -> None:
    session = text(attrs, "conversation.id")
    name = text(attrs, "tool_name")
    call_id = text(attrs, "call_id")
    identity = (call_id,) if call_id else (when.isoformat(), name)
    add_tool(batch, context, "codex", session, name, identity, when, attrs, "success")


def _toml_string(value: str) -> str:
    return orjson.dumps(value).decode()  # a JSON string is a valid TOML basic string


LOG_HANDLERS = {
    "codex.sse_event": _codex_event,
    "codex.tool_result": _codex_tool,
}
"""The log events this agent's export carries usage or tool calls in, by ``event.name``."""


def otel_env(base: str, token: str | None) -> str:
    """What to paste to send this agent's usage to ``base`` (the server's base URL)."""
    headers = ""
    if token is not None:
        headers = f", headers = {{ {_toml_string('Authorization')} = " + (
            f"{_toml_string('Bearer ' + token)} }}"
        )

    def exporter(signal: str) -> str:
        url = _toml_string(f"{base}/v1/{signal}")
        return f'{{ otlp-http = {{ endpoint = {url}, protocol = "binary"{headers} }} }}'

    return (
        "# Codex CLI: add to ~/.codex/config.toml (the user-level file: Codex ignores [otel]\n"
        "# in a project's .codex/config.toml). Start a new Codex afterwards.\n"
        "[otel]\n"
        "log_user_prompt = false\n"
        f"exporter = {exporter('logs')}\n"
        f"metrics_exporter = {exporter('metrics')}\n"
    )
