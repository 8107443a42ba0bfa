"""What the agents' OpenTelemetry mappings share (each agent's ``otel.py`` maps its own
events; this is how one of them becomes a ledger request)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tokentrail.correlate import OTLP_RANK, fingerprint
from tokentrail.otlp.batch import Attrs, OtlpBatch, OtlpContext, add_event, digest, raw_usage
from tokentrail.usage import Tokens, UsageEvent


def add_request(
    batch: OtlpBatch,
    context: OtlpContext,
    when: datetime,
    attrs: Attrs,
    *,
    source: str,
    tokens: Tokens,
    session: str | None,
    model: str | None,
    provider: str,
    usage_fields: Iterable[str],
) -> None:
    """One request an agent's export reported, keyed by its log fingerprint (so the same
    request read from the agent's own log is one request), else by what the event says."""
    key = fingerprint(source, session, tokens) or (
        f"{source}:otlp:{digest(session, when.isoformat(), tokens.as_tuple())}"
    )
    add_event(
        batch,
        context,
        UsageEvent(
            key=key,
            source=source,
            timestamp=when,
            tokens=tokens,
            model=model,
            provider=provider,
            session_key=session,
            raw_usage=raw_usage(attrs, usage_fields),
            rank=OTLP_RANK,
            machine=context.machine,
        ),
    )
