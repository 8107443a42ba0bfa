"""One Codex rollout read line by line, resumable across reads: its session, model and
running total, the events whose total grew, rate limits, tool calls, and the rule that drops
the history a fork or subagent rollout replays (see :class:`RolloutReader`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

import orjson

from tokentrail.agents.codex import AGENT
from tokentrail.agents.codex.counts import (
    Counts,
    InfoUsage,
    difference,
    ledger_tokens,
    read_info,
    usage_total,
)
from tokentrail.agents.codex.ids import (
    from_us,
    id_from_filename,
    parent_thread_id,
    rank_time,
    to_us,
    uuid7_us,
)
from tokentrail.agents.codex.tools import tool_record
from tokentrail.errors import BadRecord
from tokentrail.ratelimits import RateLimitSnapshot, read_codex_rate_limits
from tokentrail.sources.files import ParseResult
from tokentrail.sources.lines import Line, LinesEnd
from tokentrail.sources.values import parse_timestamp, text_or_none
from tokentrail.usage import Session, Skip, Tokens, ToolCall, ToolResult, UsageEvent

REPLAY_GAP_US = 1_000_000
"""Largest gap (microseconds) between two lines of one replay burst; see RolloutReader."""

ReplayPhase = Literal["none", "active", "done"]


@dataclass(slots=True)
class _Memory:
    """What the reader must remember between chunks (stored in ``ParseState.memory``)."""

    session_id: str | None = None
    meta_seen: bool = False
    meta_id: str | None = None
    project: str | None = None
    git_branch: str | None = None
    parent_key: str | None = None
    relationship: str | None = None
    started_us: int | None = None
    ended_us: int | None = None
    created_us: int | None = None
    model: str | None = None
    session_model: str | None = None
    baseline: Counts | None = None
    last_total: int | None = None
    generation: int = 0
    counted_any: bool = False
    thread_name: str | None = None
    replay: ReplayPhase = "none"
    anchor_us: int | None = None
    limits: dict[str, list[Any]] | None = None
    """The last rate-limit figures kept per window: ``[used_percent, window_minutes,
    resets_at_ms]``; an event repeating them adds nothing."""

    @classmethod
    def load(cls, memory: Mapping[str, Any]) -> _Memory:
        known = {f.name for f in fields(cls)}
        loaded = cls(**{key: value for key, value in memory.items() if key in known})
        if loaded.baseline is not None:
            loaded.baseline = dict(loaded.baseline)  # never mutate the caller's state
        if loaded.limits is not None:
            loaded.limits = {name: list(v) for name, v in loaded.limits.items()}
        return loaded

    def dump(self) -> dict[str, Any]:
        """Plain JSON values only (str/int/bool/None/dict), as ParseState requires."""
        dumped = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.baseline is not None:
            dumped["baseline"] = dict(self.baseline)
        if self.limits is not None:
            dumped["limits"] = {name: list(v) for name, v in self.limits.items()}
        return dumped


class RolloutReader:
    """Turns the lines of one rollout into usage events, resumable across chunks.

    **Replayed history of forked and subagent rollouts.** When Codex forks a thread
    (``codex fork``, ``/fork``, Desktop "fork", or ``spawn_agent`` with a forked context),
    it builds the child from ``InitialHistory::Forked(parent items)`` and persists those
    items into the child's new rollout right after the child's own ``session_meta``
    (``Session::record_initial_history`` -> ``persist_rollout_items``; for spawned agents
    ``spawn.rs::keep_forked_rollout_item`` keeps every ``EventMsg`` and ``SessionMeta``).
    So the child file starts with the parent's ``token_count`` events, and the child's
    token info is restored from the last of them (``last_token_info_from_rollout``): its
    first real request reports ``total = parent total + last``. Counting the copies billed
    the parent's spend again in every fork (ccusage #897/#950/#1370/#1371/#1460, tokscale
    #520/#679, PokeTokenBar #128, TokenTracker #169, codeburn #1383: 3x-91x inflation).

    The copies carry one of two kinds of line timestamps: rewritten to the moment the child
    file was written (the recorder stamps every line with ``now_utc()``; ccusage #1370/#950:
    thousands of lines within milliseconds, straddling second ticks, ccusage #1501) or the
    parent's original ones (ccusage #1460, codeburn #1383), which are all earlier than the
    child's creation. Metadata alone cannot tell a replaying file from a fresh one: plain
    ``spawn_agent`` children start from zero (``InitialHistory::New``) yet newer versions
    still write ``forked_from_id`` (CodexBar #2193), and some replaying children only name
    their parent in ``source.subagent.thread_spawn`` (codeburn #1383). Hence the rule:

    1. A file is a *replay candidate* when its first ``session_meta`` names a fork parent
       (``forked_from_id``) or a parent thread, or when a ``session_meta`` with another id
       (copied ancestor metadata) appears before any usage was counted.
    2. The fork instant is the child's ``session_meta`` time (and its UUIDv7 id). Copies
       are written in one burst at that instant; the burst *anchor* starts there and moves
       forward with every line known to be a copy (a ``session_meta`` of another thread,
       a ``turn_context`` with an older turn id, a replayed ``token_count``), so a long
       burst is followed, and so is one written seconds after the header (possible with the
       older recorder, which wrote the header as soon as it was created).
    3. While the replay is active, a ``token_count`` no later than ``anchor + 1 s`` is a
       replayed copy: preserved timestamps are all before the anchor, rewritten ones are
       inside the burst. A genuine request of the child needs a model round trip after its
       turn started, so it lands later; the first one that does ends the replay for good.
    4. Turn ids are UUIDv7 minted when the turn started (agentsview PR #657): a
       ``turn_context`` whose turn id is older than the fork instant is a copy; one that is
       not older is the child's own first turn and ends the replay at once, so even a very
       fast first reply is counted. Without such ids rule 3 decides alone.
    5. Replayed events are not counted (each adds to ``duplicates``) but still move the
       running total, so the child's later events are computed from the right baseline
       and never re-count the inherited total.

    Limit: in files without UUIDv7 turn ids, a genuine first reply of a replay candidate
    that completes within one second of the fork burst is taken for a copy.
    """

    def __init__(self, path: str, memory: Mapping[str, Any]) -> None:
        self.path = path
        self.state = _Memory.load(memory)
        self.events: list[UsageEvent] = []
        self.rate_limits: list[RateLimitSnapshot] = []
        self.tool_calls: list[ToolCall | ToolResult] = []
        self.skips: list[Skip] = []
        self.duplicates = 0
        self._touched = False

    # -- chunk results --------------------------------------------------------------------

    def result(self, end: LinesEnd) -> ParseResult:
        """What this read found, and the cursor after it (with the reader's memory)."""
        end.state.memory = self.state.dump()
        return ParseResult(
            events=self.events,
            sessions=self.sessions(),
            skips=self.skips,
            state=end.state,
            duplicates=self.duplicates,
            pending_partial_line=end.pending_partial_line,
            rate_limits=self.rate_limits,
            tool_calls=self.tool_calls,
        )

    def sessions(self) -> list[Session]:
        state = self.state
        if not self._touched or state.session_id is None:
            return []
        return [
            Session(
                key=state.session_id,
                source=AGENT.name,
                parent_key=state.parent_key,
                relationship=state.relationship if state.parent_key else None,
                project=state.project,
                started_at=from_us(state.started_us),
                ended_at=from_us(state.ended_us),
                model=state.session_model,
                git_branch=state.git_branch,
                title=state.thread_name,
            )
        ]

    # -- line dispatch --------------------------------------------------------------------

    def handle(self, line: Line) -> None:
        record = self._decode(line)
        if record is None:
            return
        payload = record.get("payload")
        if not isinstance(payload, dict):
            return  # not a line this source reads (or an older rollout layout)
        kind = record.get("type")
        timestamp = parse_timestamp(record.get("timestamp"))
        if kind == "session_meta":
            self._on_session_meta(payload, timestamp)
        elif kind == "turn_context":
            self._on_turn_context(payload, timestamp)
        elif kind == "event_msg" and payload.get("type") == "token_count":
            self._on_token_count(line, record, payload, timestamp)
        elif kind == "event_msg" and payload.get("type") == "thread_name_updated":
            self._on_thread_name(payload)
        elif kind == "response_item" and timestamp is not None:
            self._on_response_item(payload, timestamp)

    def _on_thread_name(self, payload: dict[str, Any]) -> None:
        """The thread's name (set by the user or generated): the session's title. A fork's
        replay of its parent's history names the parent, not this thread: skipped."""
        name = text_or_none(payload.get("thread_name"))
        thread = text_or_none(payload.get("thread_id"))
        state = self.state
        if name is None or state.replay == "active":
            return
        if thread is not None and state.session_id is not None and thread != state.session_id:
            return
        state.thread_name = name
        self._touched = True

    # -- tool calls -----------------------------------------------------------------------

    def _on_response_item(self, payload: dict[str, Any], timestamp: datetime) -> None:
        """A tool call or its output (see :mod:`tokentrail.agents.codex.tools`)."""
        if self.state.replay == "active":
            return  # a forked rollout's copy of its parent's calls (see RolloutReader)
        session = self.state.session_id or id_from_filename(self.path)
        found = tool_record(payload, to_us(timestamp) // 1000, session, self.state.model)
        if found is not None:
            self.tool_calls.append(found)

    def _decode(self, line: Line) -> dict[str, Any] | None:
        try:
            record = orjson.loads(line.data)
        except orjson.JSONDecodeError as error:
            self._skip("malformed_json", line, str(error))
            return None
        if not isinstance(record, dict):
            self._skip("malformed_json", line, "line is not a JSON object")
            return None
        return record

    def _skip(self, reason: str, line: Line, detail: str = "") -> None:
        self.skips.append(Skip(reason, self.path, line.number, detail))

    # -- session_meta ---------------------------------------------------------------------

    def _on_session_meta(self, payload: dict[str, Any], timestamp: datetime | None) -> None:
        state = self.state
        meta_id = text_or_none(payload.get("id"))
        if not state.meta_seen:
            self._take_first_meta(payload, meta_id, timestamp)
            return
        if meta_id is None or meta_id == state.meta_id:
            # The child re-writing its own metadata later (tokscale #719) changes nothing,
            # and above all must not restart a replay that already ended.
            self._touch(timestamp)
            return
        # Another thread's metadata: a copied ancestor header, i.e. replayed history.
        if state.replay == "none" and not state.counted_any:
            state.replay = "active"
        if state.replay == "active" and timestamp is not None:
            self._extend_anchor(to_us(timestamp))

    def _take_first_meta(
        self, payload: dict[str, Any], meta_id: str | None, timestamp: datetime | None
    ) -> None:
        state = self.state
        state.meta_seen = True
        state.meta_id = meta_id
        meta_time = parse_timestamp(payload.get("timestamp"))
        self._fix_identity(meta_id, meta_time or timestamp)
        state.project = text_or_none(payload.get("cwd"))
        git = payload.get("git")
        state.git_branch = text_or_none(git.get("branch")) if isinstance(git, dict) else None
        fork_parent = text_or_none(payload.get("forked_from_id"))
        thread_parent = parent_thread_id(payload)
        if thread_parent is not None:
            state.parent_key, state.relationship = thread_parent, "subagent"
        elif fork_parent is not None:
            state.parent_key, state.relationship = fork_parent, "fork"
        instants = [to_us(t) for t in (meta_time, timestamp) if t is not None]
        id_instant = uuid7_us(meta_id)
        # The fork instant: the earliest trace of the child's creation for turn ids
        # (rule 4), the latest for where the copy burst starts (rule 2).
        candidates = instants + ([id_instant] if id_instant is not None else [])
        state.created_us = min(candidates) if candidates else None
        state.anchor_us = max(instants) if instants else id_instant
        if (fork_parent or thread_parent) and not state.counted_any:
            state.replay = "active"
        self._touch(timestamp)

    def _fix_identity(self, meta_id: str | None, started: datetime | None) -> None:
        """Decide the session id and start once, at the first line read, whatever the chunking."""
        state = self.state
        if state.session_id is None:
            state.session_id = meta_id or id_from_filename(self.path)
        if state.started_us is None and started is not None:
            state.started_us = to_us(started)

    # -- turn_context ---------------------------------------------------------------------

    def _on_turn_context(self, payload: dict[str, Any], timestamp: datetime | None) -> None:
        state = self.state
        self._fix_identity(None, timestamp)
        model = text_or_none(payload.get("model"))
        if model is not None:
            state.model = model
            state.session_model = state.session_model or model
        if state.replay == "active":
            self._turn_replay_evidence(uuid7_us(payload.get("turn_id")), timestamp)
        self._touch(timestamp)

    def _turn_replay_evidence(self, turn_us: int | None, timestamp: datetime | None) -> None:
        # A turn without a UUIDv7 id proves nothing either way: it may be a copy or the
        # child's own turn start, so it neither ends the replay nor stretches the burst.
        state = self.state
        if turn_us is None or state.created_us is None:
            return
        if turn_us >= state.created_us:
            state.replay = "done"  # the child's own turn has begun (rule 4)
        elif timestamp is not None:
            self._extend_anchor(to_us(timestamp))  # a copied parent turn

    # -- token_count ----------------------------------------------------------------------

    def _on_token_count(
        self,
        line: Line,
        record: dict[str, Any],
        payload: dict[str, Any],
        timestamp: datetime | None,
    ) -> None:
        info = payload.get("info")
        if timestamp is not None:
            self._on_rate_limits(payload.get("rate_limits"), timestamp)
        if info is None:
            self._touch(timestamp)  # rate limits only: no request to count, nothing wrong
            return
        if timestamp is None:
            self._skip("bad_timestamp", line, repr(record.get("timestamp")))
            return
        try:
            usage = read_info(info)
        except BadRecord as error:
            self._skip(error.reason, line, error.detail)
            return
        self._fix_identity(None, timestamp)
        self._touch(timestamp)
        if self.state.replay == "active":
            if self._is_replayed(to_us(timestamp)):
                self._absorb_replayed(usage)
                return
            self.state.replay = "done"
        self._count(line, usage, timestamp, info)

    def _on_rate_limits(self, value: object, timestamp: datetime) -> None:
        """Keep the official rate-limit figures of this event, unless they are a copy of the
        parent's (a replayed event: its figures are old, its timestamp may be new) or repeat
        the last figures kept for their window."""
        if value is None:
            return
        state = self.state
        at_us = to_us(timestamp)
        anchor = state.anchor_us
        if state.replay == "active" and anchor is not None and at_us <= anchor + REPLAY_GAP_US:
            return  # inside the fork burst: copied from the parent (see RolloutReader)
        found = read_codex_rate_limits(
            value,
            at_us // 1000,
            source=AGENT.name,
            session_key=state.session_id or id_from_filename(self.path),
        )
        last = state.limits if state.limits is not None else {}
        for snapshot in found:
            previous = last.get(snapshot.window)
            if previous is not None and snapshot.repeats((previous[0], previous[1], previous[2])):
                continue
            last[snapshot.window] = list(snapshot.figures)
            self.rate_limits.append(snapshot)
        if found:
            state.limits = last

    def _is_replayed(self, at_us: int) -> bool:
        """Rule 3: inside (or before) the fork burst means copied from the parent."""
        anchor = self.state.anchor_us
        if anchor is None:
            return False  # no fork instant known: count rather than guess
        if at_us <= anchor + REPLAY_GAP_US:
            self._extend_anchor(at_us)
            return True
        return False

    def _absorb_replayed(self, usage: InfoUsage) -> None:
        """Rule 5: not new spend, but it moves the running total the child continues from."""
        self.duplicates += 1
        try:
            total = self._running_total(usage)
        except BadRecord:
            return  # a broken copy cannot set a baseline; the next real total will
        if total is None:
            return
        if self.state.last_total is not None and total < self.state.last_total:
            self.state.generation += 1
        self.state.last_total = total
        if usage.total is not None:
            self.state.baseline = usage.total

    def _count(
        self, line: Line, usage: InfoUsage, timestamp: datetime, info: dict[str, Any]
    ) -> None:
        state = self.state
        state.counted_any = True
        try:
            total = self._running_total(usage)
        except BadRecord as error:
            self._skip(error.reason, line, error.detail)
            return
        if total is None:
            self._skip("invalid_usage", line, "token_count without a usable token total")
            return
        previous = state.baseline
        if state.last_total is not None:
            if total == state.last_total:
                self.duplicates += 1  # re-emitted info: the total did not grow
                return
            if total < state.last_total:
                # The running total restarted (a resume that did not restore it): new spend,
                # measured from zero, under keys that cannot collide with the earlier ones.
                state.generation += 1
                previous = None
        # Advance before validating the request, so a skipped bad request keeps its tokens
        # in the skip and does not leak them into the next request's difference.
        state.last_total = total
        if usage.total is not None:
            state.baseline = usage.total
        try:
            request = usage.last if usage.last is not None else difference(usage.total, previous)
            tokens = ledger_tokens(request)
        except BadRecord as error:
            self._skip(error.reason, line, error.detail)
            return
        self.events.append(self._event(total, tokens, timestamp, info, usage))

    def _running_total(self, usage: InfoUsage) -> int | None:
        """The thread's running total after this event, the identity of the request.

        Without ``total_token_usage`` the running total is rebuilt from the previous one,
        so keys stay unique and deterministic.
        """
        if usage.total is not None:
            reported = usage_total(usage.total)
            if reported is not None:
                return reported
        if usage.last is None:
            return None
        request_total = usage_total(usage.last)
        if request_total is None:
            return None
        return (self.state.last_total or 0) + request_total

    def _event(
        self,
        total: int,
        tokens: Tokens,
        timestamp: datetime,
        info: dict[str, Any],
        usage: InfoUsage,
    ) -> UsageEvent:
        state = self.state
        session_id = state.session_id or id_from_filename(self.path)
        generation = f"r{state.generation}:" if state.generation else ""
        started = from_us(state.started_us)
        return UsageEvent(
            key=f"codex:{session_id}:{generation}{total}",
            source=AGENT.name,
            timestamp=timestamp,
            tokens=tokens,
            model=text_or_none(info.get("model")) or state.model,
            provider="openai",
            session_key=session_id,
            project=state.project,
            git_branch=state.git_branch,
            raw_usage=orjson.dumps({"last": usage.last_raw, "total": usage.total_raw}),
            rank=f"0|{rank_time(started)}|",
        )

    # -- burst anchor and session end -----------------------------------------------------

    def _extend_anchor(self, at_us: int) -> None:
        anchor = self.state.anchor_us
        self.state.anchor_us = at_us if anchor is None else max(anchor, at_us)

    def _touch(self, timestamp: datetime | None) -> None:
        self._touched = True
        if timestamp is None:
            return
        at_us = to_us(timestamp)
        ended = self.state.ended_us
        self.state.ended_us = at_us if ended is None else max(ended, at_us)
