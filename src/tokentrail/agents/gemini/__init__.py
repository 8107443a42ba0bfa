"""Gemini CLI (Google): chat recordings, and an OpenTelemetry export."""

from tokentrail.agents import Agent, Telemetry, UsageMetric

AGENT = Agent(
    name="gemini",
    label="Gemini CLI",
    short_label="gemini",
    colour="#4285f4",
    order=30,
    override="TOKENTRAIL_GEMINI_PATHS",
    reader="tokentrail.agents.gemini.reader:GeminiSource",
    locations=(
        "`~/.gemini/tmp/*/chats/session-*.json` and `.jsonl`;"
        " Windows: `%USERPROFILE%\\.gemini\\tmp\\*\\chats`"
    ),
    env=("GEMINI_CLI_HOME",),
    telemetry=Telemetry(
        command="gemini",
        services=("gemini-cli",),
        metrics=(
            UsageMetric(
                "gemini_cli.token.usage",
                split="type",
                token_kinds=("input", "output", "thought", "cache", "tool"),
            ),
        ),
        fingerprint=True,
    ),
)
