"""Kilo Code (Kilo-Org/kilocode): its extension's task folders (Cline's format) and its CLI's
OpenCode-shaped database (read by the OpenCode reader)."""

from tokentrail.agents import Agent

AGENT = Agent(
    name="kilo",
    label="Kilo Code",
    short_label="kilo",
    colour="#eab308",
    order=150,
    override="TOKENTRAIL_KILO_PATHS",
    reader="tokentrail.agents.kilo.reader:KiloSource",
    locations=(
        "`~/.local/share/kilo/kilo.db` (and `kilo-<channel>.db`, the legacy `storage/` tree),"
        " and `<VS Code user dir>/globalStorage/kilocode.kilo-code/tasks/*/` in the same hosts"
        " as Cline"
    ),
    env=("XDG_DATA_HOME", "XDG_CONFIG_HOME", "APPDATA"),
)
