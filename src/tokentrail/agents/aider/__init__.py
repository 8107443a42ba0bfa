"""Aider (Aider-AI/aider): its opt-in analytics log (``--analytics-log FILE``)."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="aider",
    label="Aider",
    short_label="aider",
    colour="#14b8a6",
    order=170,
    override="TOKENTRAIL_AIDER_PATHS",
    reader="tokentrail.agents.aider.reader:AiderSource",
    locations=(
        "the opt-in analytics log: `aider --analytics-log ~/.aider/analytics.jsonl` (read by"
        " default), or another file named by `analytics-log:` in `~/.aider.conf.yml` or"
        " `[sources.aider] paths = [...]` in the config"
    ),
    env=("AIDER_ANALYTICS_LOG",),
)
