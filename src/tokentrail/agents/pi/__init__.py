"""The pi coding agent: session files, forks, branches and subagents."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="pi",
    label="pi",
    short_label="pi",
    colour="#0ea5e9",
    order=70,
    override="TOKENTRAIL_PI_PATHS",
    reader="tokentrail.agents.pi.reader:PiSource",
    locations=(
        "`~/.pi/agent/sessions/**/*.jsonl` (forks, branches and subagents included);"
        " Windows: `%USERPROFILE%\\.pi\\agent\\sessions`"
    ),
    env=("PI_CODING_AGENT_DIR",),
)
