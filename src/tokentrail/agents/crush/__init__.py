"""Crush (charmbracelet/crush): each project's ``crush.db``; root sessions' cost only."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="crush",
    label="Crush",
    short_label="crush",
    colour="#6b50ff",
    order=160,
    override="TOKENTRAIL_CRUSH_PATHS",
    reader="tokentrail.agents.crush.reader:CrushSource",
    locations=(
        "each project's `crush.db` listed in `~/.local/share/crush/projects.json`"
        " (`%LOCALAPPDATA%\\crush` on Windows); session cost only, tokens not reported"
    ),
    env=("CRUSH_GLOBAL_DATA", "XDG_DATA_HOME", "LOCALAPPDATA"),
)
