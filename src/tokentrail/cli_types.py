"""The option types the commands share: each value is checked once, the same way for every
command, and a wrong one is a usage error (exit status 2) that names the option and the fix.

The types return plain strings in their canonical spelling (``2026-05-04``, ``UTC``,
``claude_code``), so the command bodies and the HTTP API keep one way of reading them.
"""

from __future__ import annotations

from typing import Any

import click

from tokentrail.errors import ConfigError


class Day(click.ParamType[str]):
    """A local day, ``YYYY-MM-DD`` (or ``YYYYMMDD``)."""

    name = "day"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from tokentrail.periods import DAY_ADVICE, parse_day

        try:
            return parse_day(str(value), "").isoformat()
        except ConfigError:
            self.fail(f"{value!r} is not a date; {DAY_ADVICE}", param, ctx)


class TimeZone(click.ParamType[str]):
    """An IANA time zone, in any letter case when that names one zone (``utc`` is ``UTC``)."""

    name = "zone"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "ZONE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from tokentrail.periods import resolve_timezone

        try:
            return resolve_timezone(str(value))[1]
        except ConfigError as exc:
            self.fail(str(exc).removeprefix("--tz "), param, ctx)


class OtelAgent(click.Choice[str]):
    """An agent that exports OpenTelemetry, by its ``otel-env`` name (``claude``): the choices
    come from the agent registry, read only when the command line is checked."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        from tokentrail.otel_env import agent_commands

        return agent_commands()

    @choices.setter
    def choices(self, value: object) -> None:
        """click.Choice sets its choices once; these are the registry's."""


class SourceName(click.ParamType[str]):
    """A source: one of the agents whose logs tokentrail reads (from the sources registry),
    in any letter case, or with ``reported`` also the HTTP API's default ``sdk`` and any other
    name usage may have been reported under (an OpenTelemetry service name); such a name is
    checked against the ledger once it is open (:func:`tokentrail.cli.common.check_sources`)."""

    name = "source"

    def __init__(self, *, reported: bool = True) -> None:
        self.reported = reported

    def known(self) -> tuple[str, ...]:
        from tokentrail.agents import agent_names
        from tokentrail.ingest import DEFAULT_SOURCE

        agents = agent_names()
        return (*agents, DEFAULT_SOURCE) if self.reported else agents

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return "[" + "|".join(self.known()) + ("|NAME]" if self.reported else "]")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        known = self.known()
        for name in known:
            if name.casefold() == text.casefold():
                return name
        if self.reported and text:
            return text
        self.fail(
            f"{value!r} is not an agent tokentrail reads; choose from {', '.join(known)}",
            param,
            ctx,
        )

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(name) for name in self.known() if name.startswith(incomplete)]


DAY = Day()
TIME_ZONE = TimeZone()
