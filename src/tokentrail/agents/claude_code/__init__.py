"""Claude Code (Anthropic): JSONL transcripts, and an OpenTelemetry export."""

from tokentrail.agents import Agent, Telemetry, UsageMetric

AGENT = Agent(
    name="claude_code",
    label="Claude Code",
    short_label="claude",
    colour="#d97757",
    order=10,
    override="TOKENTRAIL_CLAUDE_CODE_PATHS",
    reader="tokentrail.agents.claude_code.reader:ClaudeCodeSource",
    locations=(
        "`~/.config/claude/projects`, `~/.claude/projects` (recursively, subagents included);"
        " Windows: `%USERPROFILE%\\.claude\\projects`, `%USERPROFILE%\\.config\\claude\\projects`"
    ),
    env=("CLAUDE_CONFIG_DIR",),
    moved_by="`CLAUDE_CONFIG_DIR` (comma list)",
    telemetry=Telemetry(
        command="claude",
        services=("claude-code",),
        event_prefix="claude_code",
        metrics=(
            UsageMetric(
                "claude_code.token.usage",
                split="type",
                token_kinds=("input", "output", "cacheRead", "cacheCreation"),
            ),
            UsageMetric("claude_code.cost.usage", cost=True),
        ),
    ),
)
