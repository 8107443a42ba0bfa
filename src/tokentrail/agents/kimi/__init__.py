"""Kimi CLI: each session's wire log, one request per ``StatusUpdate.token_usage``."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="kimi",
    label="Kimi CLI",
    short_label="kimi",
    colour="#14b8a6",
    order=120,
    override="TOKENTRAIL_KIMI_PATHS",
    reader="tokentrail.agents.kimi.reader:KimiSource",
    locations=(
        "`~/.kimi/sessions/*/*/wire.jsonl` (sub-agents included), `~/.kimi/imported_sessions`"
    ),
    env=("KIMI_SHARE_DIR",),
)
