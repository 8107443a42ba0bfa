"""GitHub Copilot CLI: ``session-store.db``, else each session's ``events.jsonl``."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="copilot",
    label="Copilot CLI",
    title="GitHub Copilot CLI",
    short_label="copilot",
    colour="#bf3989",
    order=50,
    override="TOKENTRAIL_COPILOT_PATHS",
    reader="tokentrail.agents.copilot.reader:CopilotSource",
    locations=(
        "`~/.copilot/session-store.db`, else `~/.copilot/session-state/*/events.jsonl`;"
        " Windows: `%USERPROFILE%\\.copilot`"
    ),
    env=("COPILOT_HOME", "XDG_CONFIG_HOME"),
)
