"""OpenAI Codex CLI (and Codex Desktop / IDE): rollout files, and an OpenTelemetry export."""

from tokentrail.agents import Agent, Telemetry, UsageMetric

AGENT = Agent(
    name="codex",
    label="Codex CLI",
    short_label="codex",
    colour="#10a37f",
    order=20,
    override="TOKENTRAIL_CODEX_PATHS",
    reader="tokentrail.agents.codex.reader:CodexSource",
    locations=(
        "`~/.codex/sessions`, `~/.codex/archived_sessions`;"
        " Windows: `%USERPROFILE%\\.codex\\sessions`, `%USERPROFILE%\\.codex\\archived_sessions`"
    ),
    env=("CODEX_HOME",),
    telemetry=Telemetry(
        command="codex",
        service_prefixes=("codex",),
        metrics=(
            UsageMetric(
                "codex.turn.token_usage", split="token_type", token_kinds=("input", "output")
            ),
        ),
        fingerprint=True,
    ),
)
