"""mux (coder/mux): per-workspace message history, else its cumulative usage snapshot."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="mux",
    label="mux",
    short_label="mux",
    colour="#ec4899",
    order=80,
    override="TOKENTRAIL_MUX_PATHS",
    reader="tokentrail.agents.mux.reader:MuxSource",
    locations=(
        "`~/.xum/sessions`, `~/.mux/sessions`, `~/.cmux/sessions`: each workspace's history,"
        " else its `session-usage.json`; Windows: the same three under `%USERPROFILE%`"
    ),
    env=("XUM_ROOT", "MUX_ROOT"),
)
