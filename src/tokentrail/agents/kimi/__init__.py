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
        " Kimi Code: `~/.kimi-code/sessions/*/*/agents/*/wire.jsonl`, and the one the Kimi"
        " desktop app bundles (`kimi-desktop/daimon-share/daimon/runtime/kimi-code/home/sessions`"
        " in `~/Library/Application Support` on macOS, `%APPDATA%` on Windows); Windows: the"
        " others under `%USERPROFILE%`"
    ),
    env=("KIMI_SHARE_DIR", "KIMI_CODE_HOME", "APPDATA"),
)
