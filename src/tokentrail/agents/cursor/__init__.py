"""Cursor: the usage export downloaded from its dashboard (it keeps no counts on disk)."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="cursor",
    label="Cursor",
    short_label="cursor",
    colour="#334155",
    order=180,
    override="TOKENTRAIL_CURSOR_PATHS",
    reader="tokentrail.agents.cursor.reader:CursorSource",
    locations=(
        "nothing on disk: `tokentrail import cursor FILE` reads the usage export downloaded from"
        " Cursor's dashboard (CSV or JSON); exports dropped in `~/.config/tokentrail/cursor/`"
        " are read by every sync"
    ),
    env=("XDG_CONFIG_HOME",),
)
