"""``tokentrail otel-env``: the settings that point an agent's OpenTelemetry export here.

Each agent that exports OpenTelemetry writes its own snippet (``otel_env`` in
``tokentrail.agents.<name>.otel``), using only settings the agent documents; the registry
(:mod:`tokentrail.agents`) names it for the command line (``Telemetry.command``).
"""

from __future__ import annotations

DEFAULT_ENDPOINT = "http://127.0.0.1:8787"
"""``tokentrail serve`` on its default address (the OTLP routes are on the API's port; with
``--otlp-port 4318`` they are on that port too)."""

TOKEN_PLACEHOLDER = "$TOKENTRAIL_TOKEN"


def agent_commands() -> tuple[str, ...]:
    """The ``otel-env`` arguments, one per agent that exports OpenTelemetry (``claude``)."""
    from tokentrail.agents import telemetry_agents

    return tuple(telemetry.command for _, telemetry in telemetry_agents())


def snippet(command: str, endpoint: str = DEFAULT_ENDPOINT, token: str | None = None) -> str:
    """What to paste to send the agent ``command``'s usage to ``endpoint`` (the server's base
    URL); KeyError for an agent that exports no OpenTelemetry."""
    from tokentrail.agents import telemetry_agents

    for agent, telemetry in telemetry_agents():
        if telemetry.command == command:
            text: str = agent.module("otel").otel_env(endpoint.rstrip("/"), token)
            return text
    raise KeyError(command)
