"""Amp: each thread's usage ledger, else its assistant messages' usage."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="amp",
    label="Amp",
    short_label="amp",
    colour="#dc2626",
    order=110,
    override="TOKENTRAIL_AMP_PATHS",
    reader="tokentrail.agents.amp.reader:AmpSource",
    locations=(
        "`~/.local/share/amp/threads/T-*.json`;"
        " Windows: `%USERPROFILE%\\.local\\share\\amp\\threads`"
    ),
    env=("XDG_DATA_HOME",),
)
