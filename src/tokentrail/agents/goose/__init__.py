"""Goose: its session database, the usage ledger, else each session's running totals."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="goose",
    label="Goose",
    short_label="goose",
    colour="#65a30d",
    order=90,
    override="TOKENTRAIL_GOOSE_PATHS",
    reader="tokentrail.agents.goose.reader:GooseSource",
    locations=(
        "`~/.local/share/goose/sessions/sessions.db` (read-only; `~/Library/Application"
        " Support/Block/goose/sessions` on older macOS builds, `%APPDATA%\\Block\\goose\\data\\"
        "sessions` on Windows)"
    ),
    env=("GOOSE_PATH_ROOT", "XDG_DATA_HOME", "APPDATA"),
)
