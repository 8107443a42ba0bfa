"""One request, two channels: how a request read from a log file and the same request received
through OpenTelemetry (OTLP) are recognised as one, so it is counted once.

Each channel keys a request by the ids it has. Where they differ, the log copy carries the
OTLP key as an *alias* (``UsageEvent.aliases`` or :func:`fingerprint`), the ledger keeps an
alias index, and :meth:`tokentrail.ledger.Ledger.record_batch` folds the two copies into one
ledger row, whichever arrives first. What each agent allows (facts and sources are in
:mod:`tokentrail.otlp`):

* **Claude Code** -- exact. A transcript line is keyed ``claude_code:<message.id>`` and also
  carries its top-level ``requestId``; the ``claude_code.api_request`` OTLP event carries the
  same id as ``request_id`` (Claude Code >= 2.1; both are the API's ``request-id`` header),
  so the OTLP copy is keyed ``claude_code:req:<request_id>`` and the transcript line has it as
  alias. Older versions send no ``request_id``: such events get a key of their own and
  cannot be matched with a transcript.
* **Codex CLI** and **Gemini CLI** -- by fingerprint. Neither sends the id its log file uses
  (Codex keys by the thread's running token total, Gemini by a random message id), so both
  copies are keyed by :func:`fingerprint`: the session and the request's own token counts,
  which both channels copy from the same API usage object. Two requests of one session with
  exactly the same prompt size, cached part and output would be taken for one.
* **Other OpenTelemetry GenAI apps** have no log files: nothing to match.

When both copies are known, the log copy is the record (it knows the project, the branch, the
cache-write split and the subagent), and the OTLP copy contributes what the log lacks: the
agent's own cost, and a larger output count (Claude Code transcripts can keep a partial one).
"""

from __future__ import annotations

from functools import cache

from tokentrail.usage import Tokens, UsageEvent

OTLP_RANK = "9|otlp|"
"""The rank of an event received through OTLP: behind every log copy (ranks ``0|…`` and
``1|…``), so a log copy decides a request's session and project."""

ALIAS_HORIZON_MS = 7 * 24 * 3600 * 1000
"""A log copy's aliases are indexed only when the request is at most this old: an OTLP copy
arrives live (exporters retry for minutes, not days), so an older log line can only meet an
OTLP copy that was recorded first, which is found by its key without the index. This keeps a
cold sync of months of history from writing an index entry per request."""


@cache
def fingerprint_sources() -> frozenset[str]:
    """Sources whose log copies and OTLP copies can only be matched by :func:`fingerprint`
    (the registry's agents whose ``Telemetry.fingerprint`` is set)."""
    from tokentrail.agents import telemetry_agents

    return frozenset(agent.name for agent, telemetry in telemetry_agents() if telemetry.fingerprint)


@cache
def is_fingerprint_source(source: str) -> bool:
    """``source`` is one of the :func:`fingerprint_sources`: asked of its own agent package,
    so recording one agent's requests (a status line's) does not import every agent's."""
    from tokentrail.agents import agent

    try:
        telemetry = agent(source).telemetry
    except KeyError:  # not an agent (the SDK's, a custom ingest source): never fingerprinted
        return False
    return telemetry is not None and telemetry.fingerprint


def is_otlp(event: UsageEvent) -> bool:
    """True for a copy received through OTLP that no log copy has been folded into yet."""
    return event.rank.startswith(OTLP_RANK)


def fingerprint(source: str, session_key: str | None, tokens: Tokens) -> str | None:
    """``<source>:fp:<session>:<prompt>:<cache read>:<output>`` for the
    :func:`fingerprint_sources` (Codex, Gemini), else None.

    The prompt is every input-side token (uncached + cache read + cache write) and the output
    includes reasoning: the sums both channels agree on however an agent splits its buckets.
    """
    if not is_fingerprint_source(source) or not session_key or tokens.is_empty:
        return None
    return (
        f"{source}:fp:{session_key}:{tokens.prompt}:{tokens.cache_read or 0}:{tokens.output or 0}"
    )


def aliases_of(event: UsageEvent) -> tuple[str, ...]:
    """Every other key this (log) copy of a request may have been received under."""
    if not event.aliases and not is_fingerprint_source(event.source):
        return ()  # the usual case of most sources, answered before any string is built
    if is_otlp(event):
        return ()
    found = fingerprint(event.source, event.session_key, event.tokens)
    aliases = event.aliases if found is None else (*event.aliases, found)
    return tuple(alias for alias in aliases if alias != event.key)


def combine(a: UsageEvent, b: UsageEvent, key: str) -> UsageEvent:
    """One event for two copies of a request, under ``key``.

    Two copies from the same channel merge by :func:`tokentrail.usage.merge_events`. A log
    copy and an OTLP copy combine into the log copy, with the OTLP copy's reported cost when
    the log has none and its output count when that is larger; the earlier timestamp wins.
    """
    from tokentrail.usage import merge_events

    if is_otlp(a) == is_otlp(b):
        return merge_events(a.evolve(key=key), b.evolve(key=key))
    log, otlp = (b, a) if is_otlp(a) else (a, b)
    tokens = log.tokens
    if otlp.tokens.output is not None and (
        tokens.output is None or otlp.tokens.output > tokens.output
    ):
        tokens = Tokens(
            input=tokens.input,
            cache_read=tokens.cache_read,
            cache_write_5m=tokens.cache_write_5m,
            cache_write_1h=tokens.cache_write_1h,
            output=otlp.tokens.output,
            reasoning=tokens.reasoning,
        )
    return log.evolve(
        key=key,
        tokens=tokens,
        timestamp=min(log.timestamp, otlp.timestamp),
        model=log.model or otlp.model,
        provider=log.provider or otlp.provider,
        reported_cost_usd=log.reported_cost_usd
        if log.reported_cost_usd is not None
        else otlp.reported_cost_usd,
        run_id=log.run_id or otlp.run_id,
        machine=log.machine or otlp.machine,
        aliases=tuple(sorted({*log.aliases, *otlp.aliases})),
    )
