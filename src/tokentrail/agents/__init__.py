"""The agent registry: every coding agent tokentrail reads, one package each.

``tokentrail/agents/<name>/`` holds everything about one agent:

* ``__init__.py`` -- ``AGENT``, its :class:`Agent` description: name, labels, colour, where it
  writes (for the docs), the environment variables that move its files, and, when it exports
  OpenTelemetry, its :class:`Telemetry`. Cheap to import: data only, no reader.
* ``reader.py`` -- its log reader (a :class:`tokentrail.sources.base.Source`), imported only
  when a sync needs it.
* ``otel.py`` -- its OpenTelemetry mapping (``LOG_HANDLERS`` and ``otel_env``), when it has one.
* ``contract.py`` -- ``KIT``, what ``tests/test_agents_contract.py`` needs to test it generically
  (how to write a minimal log of N requests, one bad record, ...).
* anything else of its own (its edit-line counter, a counting rule another agent shares).

Every face reads this registry rather than naming agents: ``--source`` choices, terminal and
dashboard labels and colours, ``tokentrail otel-env``, the OTLP mapping and reconciliation, the
docs tables and the tests' isolation. Packages are found by listing this folder, so adding an
agent touches nothing outside its own package, its fixtures and its docs section
(docs/architecture.md, "Add an agent").
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tokentrail.sources.base import Source

__all__ = [
    "Agent",
    "Telemetry",
    "UsageMetric",
    "agent",
    "agent_names",
    "all_agents",
    "load",
    "telemetry_agents",
]

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_COLOUR = re.compile(r"#[0-9a-f]{6}")


@dataclass(frozen=True, slots=True)
class UsageMetric:
    """One OpenTelemetry usage metric an agent exports (kept for reconciliation only)."""

    name: str
    """The metric's name, e.g. ``claude_code.token.usage``."""
    split: str = ""
    """The attribute that splits its points by token type (``type``); "" when none."""
    token_kinds: tuple[str, ...] = ()
    """The token types that count as tokens; the others (Codex's ``total``, ``cached_input``)
    are parts or sums of these."""
    cost: bool = False
    """True for a cost metric (USD) rather than a token count."""


@dataclass(frozen=True, slots=True)
class Telemetry:
    """How an agent's OpenTelemetry export is recognised; its mapping is in
    ``tokentrail.agents.<name>.otel`` (``LOG_HANDLERS``, ``otel_env``)."""

    command: str
    """The argument of ``tokentrail otel-env`` (``claude``)."""
    services: tuple[str, ...] = ()
    """``service.name`` values that are this agent (``claude-code``)."""
    service_prefixes: tuple[str, ...] = ()
    """``service.name`` prefixes that are this agent (``codex`` for ``codex_cli_rs`` …)."""
    event_prefix: str = ""
    """Completes a short ``event.name`` sent by one of ``services`` (``api_request`` →
    ``claude_code.api_request``); "" when the agent sends full names."""
    metrics: tuple[UsageMetric, ...] = ()
    fingerprint: bool = False
    """True when a log copy and an OTLP copy of a request share no id and are matched by
    :func:`tokentrail.correlate.fingerprint` (session and token counts)."""

    def owns_service(self, service: str | None) -> bool:
        if not service:
            return False
        return service in self.services or service.startswith(self.service_prefixes or ("\0",))


@dataclass(frozen=True, slots=True)
class Agent:
    """One coding agent whose usage tokentrail reads."""

    name: str
    """Stable identifier stored with every event (``claude_code``); the package's name."""
    label: str
    """How the dashboard and the docs name it (``Claude Code``)."""
    short_label: str
    """Its column label in terminal tables (``claude``)."""
    colour: str
    """Its colour on the dashboard, ``#rrggbb``."""
    override: str
    """tokentrail's own variable replacing its default folders (``TOKENTRAIL_CLAUDE_CODE_PATHS``,
    an ``os.pathsep`` or comma list)."""
    reader: str
    """``module:Class`` of its log reader, imported only when used."""
    locations: str
    """Where it writes by default (Markdown, for the README's table): Linux and macOS, and
    Windows where known."""
    env: tuple[str, ...] = ()
    """The agent's own environment variables that move its files (``CLAUDE_CONFIG_DIR``)."""
    moved_by: str = ""
    """How those variables move it (Markdown for the README); default: the variables' names."""
    title: str = ""
    """Its section heading in docs/counting.md and its README name; default: ``label``."""
    order: int = 1000
    """Where it is listed (``--source`` choices, sync output); ties go by name."""
    telemetry: Telemetry | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"agent name {self.name!r} must be lower-case letters, digits, _")
        if not _COLOUR.fullmatch(self.colour):
            raise ValueError(f"agent {self.name}: colour {self.colour!r} is not #rrggbb")

    @property
    def heading(self) -> str:
        return self.title or self.label

    @property
    def variables(self) -> tuple[str, ...]:
        """Every environment variable that changes where it is read from."""
        return (self.override, *self.env)

    def source(self) -> Source:
        """An instance of its reader (imports the reader module)."""
        module, _, attribute = self.reader.partition(":")
        reader: type[Source] = getattr(importlib.import_module(module), attribute)
        return reader()

    def module(self, part: str) -> Any:
        """``tokentrail.agents.<name>.<part>`` (``otel``, ``contract``), imported."""
        return importlib.import_module(f"{__name__}.{self.name}.{part}")


@cache
def all_agents() -> tuple[Agent, ...]:
    """Every agent package's ``AGENT``, in listing order (``order``, then name)."""
    import pkgutil  # here: one sync of one agent's file (the status line's) lists none

    found: list[Agent] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        described = getattr(importlib.import_module(f"{__name__}.{info.name}"), "AGENT", None)
        if not isinstance(described, Agent) or described.name != info.name:
            raise TypeError(
                f"tokentrail.agents.{info.name} must define AGENT = Agent(name={info.name!r}, …)"
            )
        found.append(described)
    return tuple(sorted(found, key=lambda a: (a.order, a.name)))


def agent_names() -> tuple[str, ...]:
    """The names of the agents tokentrail reads (the ``--source`` choices)."""
    return tuple(a.name for a in all_agents())


def agent(name: str) -> Agent:
    """The agent called ``name``; KeyError naming the known ones otherwise.

    Its own package is imported first: one sync of one agent's file (the status line's) need
    not import every other agent's package, as listing them all does."""
    own = _own_package(name)
    if own is not None:
        return own
    for described in all_agents():
        if described.name == name:
            return described
    raise KeyError(f"unknown agent {name!r}; known agents: {', '.join(agent_names())}")


def _own_package(name: str) -> Agent | None:
    """``tokentrail.agents.<name>``'s ``AGENT`` when that package describes agent ``name``."""
    if not _NAME.fullmatch(name):
        return None
    package = f"{__name__}.{name}"
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name != package:
            raise  # the package exists and is broken: say so, as listing them would
        return None
    described = getattr(module, "AGENT", None)
    is_package = hasattr(module, "__path__")  # as all_agents() lists them: packages only
    return (
        described
        if is_package and isinstance(described, Agent) and described.name == name
        else None
    )


def telemetry_agents() -> tuple[tuple[Agent, Telemetry], ...]:
    """The agents that export OpenTelemetry, with how."""
    return tuple((a, a.telemetry) for a in all_agents() if a.telemetry is not None)


def load(name: str) -> Source:
    """The reader of agent ``name``."""
    return agent(name).source()
