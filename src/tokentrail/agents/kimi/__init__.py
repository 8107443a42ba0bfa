"""Kimi CLI: each session's wire log, one request per ``StatusUpdate.token_usage``; and the
newer Kimi Code's, one request per ``usage.record``."""

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
        "`~/.kimi/sessions/*/*/wire.jsonl` (sub-agents included), `~/.kimi/imported_sessions`;"
        " Kimi Code: `~/.kimi-code/sessions/*/*/agents/*/wire.jsonl`; Windows: the same under"
        " `%USERPROFILE%`"
    ),
    env=("KIMI_SHARE_DIR", "KIMI_CODE_HOME"),
)
