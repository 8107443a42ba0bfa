"""Cline (cline/cline): the task folders of its VS Code extension and of its CLI.

The task-folder format is in ``tasks.py`` (Roo Code and Kilo Code, Cline forks, read it too).
"""

from tokentrail.agents import Agent

AGENT = Agent(
    name="cline",
    label="Cline",
    short_label="cline",
    colour="#64748b",
    order=130,
    override="TOKENTRAIL_CLINE_PATHS",
    reader="tokentrail.agents.cline.reader:ClineSource",
    locations=(
        "`~/.cline/data/tasks/*/ui_messages.json`, and"
        " `<VS Code user dir>/globalStorage/saoudrizwan.claude-dev/tasks/*/` for the hosts Code,"
        " Code - Insiders, Code - OSS, Cursor, Windsurf, VSCodium, Positron (user dir:"
        " `~/.config/<host>/User` on Linux, `~/Library/Application Support/<host>/User` on"
        " macOS, `%APPDATA%\\<host>\\User` on Windows; `~/.vscode-server/data/User` remote)"
    ),
    env=("CLINE_DATA_DIR", "CLINE_DIR", "XDG_CONFIG_HOME", "APPDATA"),
)
