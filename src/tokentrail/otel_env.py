"""``tokentrail otel-env``: the settings that point an agent's OpenTelemetry export here.

Each snippet uses only settings the agent documents:

* Claude Code (docs.anthropic.com, Claude Code "Monitoring"): ``CLAUDE_CODE_ENABLE_TELEMETRY``,
  ``OTEL_LOGS_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` = ``otlp``,
  ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc``, ``http/json``, ``http/protobuf``),
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the SDK appends ``/v1/logs`` and ``/v1/metrics``) and
  ``OTEL_EXPORTER_OTLP_HEADERS`` (``Authorization=Bearer token``); ``OTEL_LOG_USER_PROMPTS``
  stays off by default.
* Codex CLI (``[otel]`` of the user-level ``~/.codex/config.toml``; a project's
  ``.codex/config.toml`` is ignored for it): ``exporter`` (log events) and
  ``metrics_exporter`` as ``{ otlp-http = { endpoint, protocol = "binary" | "json", headers } }``
  with the full signal URL, and ``log_user_prompt = false``.
* Gemini CLI (``packages/cli/src/config`` and ``core/src/telemetry/sdk.ts``): settings
  ``telemetry.enabled``, ``target`` (``local``), ``otlpEndpoint``, ``otlpProtocol`` (``http``
  appends ``/v1/logs``, ``/v1/metrics``, ``/v1/traces`` to the endpoint) and ``logPrompts``, or
  the ``GEMINI_TELEMETRY_*`` variables that override them. Gemini builds its exporters with
  a URL only, so a token goes in the path (``/otlp/<token>``).
"""

from __future__ import annotations

from typing import Literal

import orjson

Agent = Literal["claude", "codex", "gemini"]
AGENTS: tuple[Agent, ...] = ("claude", "codex", "gemini")

DEFAULT_ENDPOINT = "http://127.0.0.1:8787"
"""``tokentrail serve`` on its default address (the OTLP routes are on the API's port; with
``--otlp-port 4318`` they are on that port too)."""

TOKEN_PLACEHOLDER = "$TOKENTRAIL_TOKEN"


def snippet(agent: Agent, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None) -> str:
    """What to paste to send ``agent``'s usage to ``endpoint`` (the server's base URL)."""
    base = endpoint.rstrip("/")
    if agent == "claude":
        return _claude(base, token)
    if agent == "codex":
        return _codex(base, token)
    return _gemini(base, token)


def _claude(base: str, token: str | None) -> str:
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


def _toml_string(value: str) -> str:
    return orjson.dumps(value).decode()  # a JSON string is a valid TOML basic string


def _codex(base: str, token: str | None) -> str:
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


def _gemini(base: str, token: str | None) -> str:
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
