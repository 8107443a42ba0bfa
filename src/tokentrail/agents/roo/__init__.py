"""Roo Code (RooCodeInc/Roo-Code): the task folders of its VS Code extension (Cline's format)."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="roo",
    label="Roo Code",
    short_label="roo",
    colour="#e11d48",
    order=140,
    override="TOKENTRAIL_ROO_PATHS",
    reader="tokentrail.agents.roo.reader:RooSource",
    locations=(
        "`<VS Code user dir>/globalStorage/rooveterinaryinc.roo-cline/tasks/*/` in the same"
        " hosts as Cline"
    ),
    env=("XDG_CONFIG_HOME", "APPDATA"),
)
