"""OpenCode (sst/opencode): its SQLite database and its legacy JSON storage tree."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="opencode",
    label="OpenCode",
    short_label="opencode",
    colour="#a855f7",
    order=40,
    override="TOKENTRAIL_OPENCODE_PATHS",
    reader="tokentrail.agents.opencode.reader:OpenCodeSource",
    locations=(
        "`~/.local/share/opencode/opencode.db` and the legacy `storage/` JSON tree;"
        " Windows: `%USERPROFILE%\\.local\\share\\opencode\\opencode.db`"
    ),
    env=("XDG_DATA_HOME", "OPENCODE_DB"),
)
