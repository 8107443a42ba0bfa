"""Factory Droid: the growth of each session's running ``tokenUsage`` total."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="droid",
    label="Factory Droid",
    short_label="droid",
    colour="#ea580c",
    order=100,
    override="TOKENTRAIL_DROID_PATHS",
    reader="tokentrail.agents.droid.reader:DroidSource",
    locations=(
        "`~/.factory/sessions/**/*.settings.json` (the growth of each session's running total);"
        " Windows: `%USERPROFILE%\\.factory\\sessions`"
    ),
)
