"""Recording from an orchestrator in Python: runs, agent sessions, attempts.

    from tokentrail import Ledger

    ledger = Ledger()                       # the default ledger, a path, or a URL
    with ledger.run(app="my-orchestrator", reason="deploy") as run:
        with run.session(key="issue-42", issue_id="42", model="claude-sonnet-4-5") as session:
            with session.attempt() as attempt:      # kept only if the block succeeds
                response = client.messages.create(...)
                attempt.record(event_id=response.id, model=response.model,
                               usage=anthropic_usage(response))
            session.finish(state="completed", turns=3)

Every write is its own transaction in the ledger, so whatever was recorded before a crash is
there after it; the next run of the same app closes the crashed one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tokentrail.ingest import DEFAULT_SOURCE, UsageReport, event_from_report, report_fields
from tokentrail.usage import Run, Session, Tokens, UsageEvent

if TYPE_CHECKING:
    from tokentrail.ledger import Ledger

__all__ = ["AttemptRecorder", "RunRecorder", "SessionRecorder"]


def _now() -> datetime:
    return datetime.now(UTC)


class RunRecorder:
    """One boot of an orchestrator. Use as a context manager."""

    def __init__(
        self, ledger: Ledger, app: str, *, reason: str | None = None, run_id: str | None = None
    ) -> None:
        self.ledger = ledger
        self.app = app
        self.reason = reason
        self._requested_id = run_id
        self._run: Run | None = None
        self._lock = threading.Lock()
        self._active = 0
        self._peak = 0
        self._launched = 0

    @property
    def id(self) -> str:
        if self._run is None:
            raise RuntimeError("the run has not started: use it as a context manager")
        return self._run.run_id

    def __enter__(self) -> RunRecorder:
        self._run = self.ledger.start_run(self.app, reason=self.reason, run_id=self._requested_id)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        with self._lock:
            peak, launched = self._peak, self._launched
        self.ledger.update_run(
            self.id,
            stopped_at=_now(),
            state="failed" if exc_type is not None else "stopped",
            peak_concurrency=peak,
            sessions_launched=launched,
        )

    def session(self, key: str, **details: Any) -> SessionRecorder:
        """An agent session launched by this run (``issue_id``, ``identifier``, ``model``,
        ``project``, ``parent``, ``title``, ``source``)."""
        return SessionRecorder(self.ledger, key, run=self, **details)

    def _session_started(self) -> None:
        with self._lock:
            self._active += 1
            self._launched += 1
            self._peak = max(self._peak, self._active)
            peak, launched = self._peak, self._launched
        self.ledger.update_run(self.id, peak_concurrency=peak, sessions_launched=launched)

    def _session_ended(self) -> None:
        with self._lock:
            self._active -= 1


class SessionRecorder:
    """One agent session. Use as a context manager; an exception inside records ``failed``."""

    def __init__(
        self,
        ledger: Ledger,
        key: str,
        *,
        run: RunRecorder | None,
        issue_id: str | None = None,
        identifier: str | None = None,
        model: str | None = None,
        project: str | None = None,
        parent: str | None = None,
        relationship: str | None = None,
        title: str | None = None,
        source: str = DEFAULT_SOURCE,
    ) -> None:
        self.ledger = ledger
        self.key = key
        self.run = run
        self.model = model
        self.project = project
        self.source = source
        self._details: dict[str, Any] = {
            "issue_id": issue_id,
            "identifier": identifier,
            "model": model,
            "project": project,
            "parent_key": parent,
            "relationship": relationship or ("subagent" if parent else None),
            "title": title,
            "source": source,
        }
        self._finished = False
        self.session: Session | None = None

    def __enter__(self) -> SessionRecorder:
        self.session = self.ledger.update_session(
            self.key,
            run_id=self.run.id if self.run else None,
            started_at=_now(),
            state="running",
            **self._details,
        )
        if self.run is not None:
            self.run._session_started()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if not self._finished:
                self.finish(state="failed" if exc_type is not None else "completed")
        finally:
            if self.run is not None:
                self.run._session_ended()

    def finish(self, state: str = "completed", turns: int | None = None) -> Session:
        """Record how the session ended (``completed``, ``failed``, ``cancelled``,
        ``timed_out``) and, optionally, its number of turns."""
        self._finished = True
        self.session = self.ledger.update_session(
            self.key, state=state, turns=turns, ended_at=_now()
        )
        return self.session

    def record(self, **fields: Any) -> str:
        """Record one request's usage now; returns ``created`` or ``duplicate``.

        Takes the HTTP API's event fields (``event_id``, ``timestamp``, ``model``,
        ``input_tokens`` …, ``cost_usd``) or ``usage=`` a :class:`~tokentrail.usage.Tokens`
        from one of the helpers in :mod:`tokentrail.providers`.
        """
        (status,) = self.ledger.record_events([self._event(fields)])
        return status

    def attempt(self) -> AttemptRecorder:
        """A block whose usage is kept only if it ends without an exception."""
        return AttemptRecorder(self)

    def _event(self, fields: dict[str, Any]) -> UsageEvent:
        usage = fields.pop("usage", None)
        if usage is not None:
            if not isinstance(usage, Tokens):
                raise TypeError("usage= takes a Tokens (see tokentrail.providers)")
            fields = {**report_fields(usage), **fields}
        fields.setdefault("model", self.model)
        fields.setdefault("project", self.project)
        fields.setdefault("source", self.source)
        report = UsageReport(
            session_key=self.key, run_id=self.run.id if self.run else None, **fields
        )
        return event_from_report(report)


class AttemptRecorder:
    """Collects an attempt's usage; written in one transaction when the block succeeds."""

    def __init__(self, session: SessionRecorder) -> None:
        self.session = session
        self._events: list[UsageEvent] = []
        self.statuses: list[str] = []

    def __enter__(self) -> AttemptRecorder:
        return self

    def record(self, **fields: Any) -> None:
        """Like :meth:`SessionRecorder.record`, but held until the attempt succeeds."""
        self._events.append(self.session._event(fields))

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None and self._events:
            self.statuses = self.session.ledger.record_events(self._events)
        self._events = []
