"""What every face says of a session, by one definition (docs/counting.md, Sessions): which
sessions count (top-level, with a request; subagents rolled up on their parent), how long
each ran, its readable name and the models that served it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, TypedDict

from tokentrail.reports.query import from_ms
from tokentrail.shape import Default, Doc
from tokentrail.store.base import Filters, SessionTotalsRow, Store
from tokentrail.usage import Session


def session_families(
    rows: Sequence[SessionTotalsRow],
) -> tuple[list[SessionTotalsRow], dict[tuple[str, str | None], list[SessionTotalsRow]]]:
    """Top-level sessions, and the subagent sessions rolled up on each (per model when the
    rows are per model). A subagent whose parent has no usage row (an orphan) is top-level:
    shown on its own rather than lost. The one definition of a top-level session."""
    parents = [r for r in rows if r.session.relationship != "subagent" or not r.session.parent_key]
    children: dict[tuple[str, str | None], list[SessionTotalsRow]] = {}
    known = {r.session.key for r in rows}
    for r in rows:
        parent = r.session.parent_key
        if r.session.relationship == "subagent" and parent:
            if parent in known:
                children.setdefault((parent, r.model), []).append(r)
            else:
                parents.append(r)
    return parents, children


class SessionCountsJson(TypedDict):
    """The one session count as every JSON face shows it (docs/counting.md)."""

    sessions: Annotated[int, Doc("Top-level sessions with at least one request.")]
    subagent_sessions: Annotated[
        int, Doc("Subagent sessions with requests (rolled up on their parent)."), Default(0)
    ]
    sessions_without_usage: Annotated[int, Doc("Sessions that made no request."), Default(0)]


class SessionWhoJson(TypedDict):
    """Who a session is: the fields every session row starts with (in the API's order)."""

    session_key: str
    source: str
    run_id: str | None
    issue_id: str | None
    identifier: str | None
    title: str | None
    project: str | None
    model: str | None
    state: str | None
    turns: int | None
    parent_key: str | None
    relationship: str | None


class SessionIdentityJson(SessionWhoJson):
    """Who a session is with its readable name and served models (:func:`session_identity`)."""

    name: str
    models: list[str]


class RuntimeJson(TypedDict):
    """How long a session ran (:class:`Runtime`)."""

    runtime_seconds: float | None
    runtime_basis: str | None
    active_seconds: float | None


class SessionRuntimeJson(TypedDict):
    """How long a session ran and what it is called: the fields after its times, in the
    API's order (every session row has them)."""

    runtime_seconds: Annotated[float | None, Doc("Wall span (see runtime_basis).")]
    name: Annotated[
        str | None,
        Doc(
            "A readable name: the agent's title, else project · start (UTC) · first "
            "model; never prompt text."
        ),
        Default(None),
    ]
    models: Annotated[
        list[str],
        Doc("The models that served the session's requests, most-used first."),
        Default(factory=list),
    ]
    runtime_basis: Annotated[
        str | None,
        Doc(
            "What runtime_seconds spans: 'recorded' (the start and end an orchestrator "
            "recorded) or 'requests' (first to last own request)."
        ),
        Default(None),
    ]
    active_seconds: Annotated[
        float | None,
        Doc("Sum of the gaps between consecutive requests up to 15 minutes (idle gaps left out)."),
        Default(None),
    ]


@dataclass(frozen=True, slots=True)
class SessionCounts:
    """How many sessions, by the one definition every face uses (docs/counting.md):
    ``sessions`` are top-level sessions with at least one request; subagent sessions (rolled
    up on a parent) and sessions without any request are counted apart."""

    sessions: int
    subagent_sessions: int
    sessions_without_usage: int
    runtime_seconds: float | None = None
    """The summed wall span of the counted sessions (see :func:`session_runtime`)."""

    def as_dict(self) -> SessionCountsJson:
        return {
            "sessions": self.sessions,
            "subagent_sessions": self.subagent_sessions,
            "sessions_without_usage": self.sessions_without_usage,
        }


def session_counts(store: Store, filters: Filters, run_id: str | None = None) -> SessionCounts:
    """The sessions of the filters' sources and project (and of ``run_id``): with a time
    range, those whose last request falls in it (as in the session report); sessions without
    usage by their start."""
    return SessionCounter(store).counts(filters, run_id)


@dataclass(frozen=True, slots=True)
class _Family:
    """A scope's sessions with usage as the counts need them, worked out once for every time
    range asked of it: its top-level sessions as (last request of the session and of its
    subagents, wall span), the last request of each subagent rolled up on one, and the start
    of each session (epoch ms)."""

    parents: list[tuple[int | None, float | None]]
    kid_lasts: list[int | None]
    starts: list[int | None]


SessionFamilies = dict[tuple[Filters, str | None], _Family]
"""The families a :class:`SessionCounter` works out, by scope; valid for one ledger state."""


class SessionCounter:
    """:func:`session_counts` of several scopes (a page's blocks: all time, the range, this
    month, today, the current run) from one read of the per-session totals per scope of
    sources and project: each read is a pass over every session of the ledger.

    ``kept``: the families worked out for the same ledger state before (the dashboard keeps
    them until its change marker moves, as the store keeps its session index), filled in."""

    def __init__(self, store: Store, kept: SessionFamilies | None = None) -> None:
        self._store = store
        self._rows: dict[Filters, list[SessionTotalsRow]] = {}
        self._families: SessionFamilies = {} if kept is None else kept

    def counts(self, filters: Filters, run_id: str | None = None) -> SessionCounts:
        family = self._family(filters, run_id)
        since, until = filters.since_ms, filters.until_ms
        if since is None and until is None:  # in_range: everything, an unknown moment too
            spans = [span for _, span in family.parents]
            kids = len(family.kid_lasts)
            with_usage_started = len(family.starts)
        else:
            # in_range spelled out: a pass over every session per scope, without a call each
            low = since if since is not None else -_FAR
            high = until if until is not None else _FAR
            spans = [
                span for last, span in family.parents if last is not None and low <= last < high
            ]
            kids = sum(1 for last in family.kid_lasts if last is not None and low <= last < high)
            with_usage_started = sum(
                1 for ms in family.starts if ms is not None and low <= ms < high
            )
        runtimes = [span for span in spans if span is not None]
        started, _ = self._store.session_stats(filters, run_id=run_id)
        # session_stats counts a session by its start; one with no start only in all time
        return SessionCounts(
            len(spans),
            kids,
            max(started - with_usage_started, 0),
            sum(runtimes) if runtimes else None,
        )

    def _family(self, filters: Filters, run_id: str | None) -> _Family:
        whole = Filters(
            sources=filters.sources,
            project=filters.project,
            machines=filters.machines,
            users=filters.users,
        )
        found = self._families.get((whole, run_id))
        if found is None:
            every = self._rows.get(whole)
            if every is None:
                read = self._store.session_totals(whole, by_model=False)
                every = self._rows[whole] = [r for r in read if r.totals.requests]
            rows = [r for r in every if run_id is None or r.session.run_id == run_id]
            parents, children = session_families(rows)
            found = self._families[(whole, run_id)] = _Family(
                parents=[
                    (
                        family_last_ms(r, children),
                        session_runtime(r.session, r.first_ms, r.last_ms, None).span_seconds,
                    )
                    for r in parents
                ],
                kid_lasts=[k.last_ms for group in children.values() for k in group],
                starts=[
                    int(r.session.started_at.timestamp() * 1000) if r.session.started_at else None
                    for r in rows
                ],
            )
        return found


_FAR = 1 << 62
"""Beyond any epoch millisecond: an open end of a range."""


def family_last_ms(
    row: SessionTotalsRow, children: Mapping[tuple[str, str | None], Sequence[SessionTotalsRow]]
) -> int | None:
    """The last request of a session and of the subagents rolled up on it."""
    last = row.last_ms
    for kid in children.get((row.session.key, row.model), ()):
        if kid.last_ms is not None and (last is None or kid.last_ms > last):
            last = kid.last_ms
    return last


def models_served(per_model: Sequence[SessionTotalsRow]) -> dict[str, tuple[str, ...]]:
    """The models that actually served each session's requests, most-used first (by
    requests, then name): what a session's model column shows, rather than the model it
    declared."""
    return rank_models((r.session.key, r.model, r.totals.requests) for r in per_model)


def rank_models(
    model_requests: Iterable[tuple[str, str | None, int]],
) -> dict[str, tuple[str, ...]]:
    """Each session's models, most-used first (by requests, then name), from ``(session key,
    model, requests)``; a request without a model names none."""
    requests: dict[str, dict[str, int]] = {}
    for key, model, count in model_requests:
        if model and count:
            served = requests.setdefault(key, {})
            served[model] = served.get(model, 0) + count
    return {
        key: tuple(sorted(served, key=lambda m: (-served[m], m)))
        for key, served in requests.items()
    }


IDLE_GAP_SECONDS = 15 * 60
"""A gap between two consecutive requests of a session longer than this is idle time (the
user away, the session left open): it counts in the session's span, not its active time."""


@dataclass(frozen=True, slots=True)
class Runtime:
    """How long a session ran, said two ways (docs/counting.md, Sessions)."""

    span_seconds: float | None
    """Wall span from its first to its last event (see ``basis``)."""
    basis: str | None
    """``recorded``: the start and end an orchestrator recorded for the session; ``requests``:
    from its first to its last own request (sessions read from logs)."""
    active_seconds: float | None
    """The sum of the gaps between its consecutive requests up to IDLE_GAP_SECONDS."""

    def as_dict(self) -> RuntimeJson:
        return {
            "runtime_seconds": self.span_seconds,
            "runtime_basis": self.basis,
            "active_seconds": self.active_seconds,
        }


def session_runtime(
    session: Session, first_ms: int | None, last_ms: int | None, active_ms: int | None
) -> Runtime:
    """A session's wall span and active time. A session an orchestrator opened and closed
    (it has a state) runs from its recorded start to its recorded end; a session read from
    logs from its first to its last own request (a resumed session's copies of its parent's
    lines are not its own, so they do not stretch it)."""
    active = active_ms / 1000 if active_ms is not None else None
    recorded = session.runtime_seconds
    if session.state is not None and recorded is not None:
        return Runtime(recorded, "recorded", active)
    if first_ms is not None and last_ms is not None:
        return Runtime(max(last_ms - first_ms, 0) / 1000, "requests", active)
    return Runtime(recorded, "recorded" if recorded is not None else None, active)


def session_name(session: Session, models: Sequence[str] = (), first_ms: int | None = None) -> str:
    """A readable name: the agent's own title (Claude Code's summary or custom title, Gemini's
    chat summary, an orchestrator's title or issue), else project · start (UTC; its first
    own request when known, so a resumed session is not named by its parent's start) · first
    model. Never prompt text."""
    if session.title:
        return session.title
    if session.identifier:
        return session.identifier
    project = session.project.rstrip("/").rsplit("/", 1)[-1] if session.project else None
    start = from_ms(first_ms) or session.started_at
    started = start.strftime("%Y-%m-%d %H:%M") if start else None
    model = models[0] if models else session.model
    parts = [part for part in (project, started, model) if part]
    return " · ".join(parts) if parts else session.key


def session_identity(session: Session, name: str, models: Sequence[str]) -> SessionIdentityJson:
    """What every session row of the JSON contract starts with: who the session is, in this
    order. The model column: the models that served the session, most-used first; the model
    it declared only when it made no request."""
    return {
        "session_key": session.key,
        "name": name,
        "source": session.source,
        "run_id": session.run_id,
        "issue_id": session.issue_id,
        "identifier": session.identifier,
        "title": session.title,
        "project": session.project,
        "model": models[0] if models else session.model,
        "models": list(models),
        "state": session.state,
        "turns": session.turns,
        "parent_key": session.parent_key,
        "relationship": session.relationship,
    }


def session_activity(
    store: Store, keys: Sequence[str]
) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    """Active milliseconds and served models of these sessions (their own requests)."""
    if not keys:
        return {}, {}
    wanted = set(keys)
    per_model = [
        r
        for r in store.session_totals(Filters(), by_model=True, family=list(keys))
        if r.session.key in wanted
    ]
    return store.active_ms(keys, IDLE_GAP_SECONDS * 1000), models_served(per_model)
