"""Codex CLI rollouts: ``${CODEX_HOME:-~/.codex}/sessions/YYYY/MM/DD/rollout-*.jsonl``.

Archived rollouts are moved, unchanged, to the flat ``archived_sessions/`` directory.
Every line is ``{"timestamp", "type", "payload"}``. Three kinds matter here:

* ``session_meta`` -- the FIRST one defines the file's session: ``id``, ``cwd``,
  ``git.branch``, ``timestamp``, ``forked_from_id`` and, for agents spawned by another
  agent, ``source.subagent.thread_spawn.parent_thread_id`` (newer versions also write a
  flat ``parent_thread_id``). Codex itself treats only the first one as canonical
  (openai/codex PR #11241); later ones with another id are copied ancestor metadata.
* ``turn_context`` -- ``payload.model`` is the model of the turns that follow.
* ``event_msg`` with ``payload.type == "token_count"`` -- ``info.last_token_usage`` is the
  request just finished and ``info.total_token_usage`` the running total of the thread,
  each ``{input_tokens, cached_input_tokens, cache_write_input_tokens (Codex >= 0.145),
  output_tokens, reasoning_output_tokens, total_tokens}``. Cached reads and cache writes
  are INSIDE ``input_tokens``; reasoning is INSIDE ``output_tokens``. ``info`` is ``null``
  when the event only carries rate limits.

Counting rules (why each exists is in the function that applies it):

* one usage event per ``token_count`` whose running total grew; a repeat whose total did
  not grow is a duplicate (Codex re-emits the same info, e.g. with rate-limit updates);
* the event key is ``codex:<session id>:<running total>``: unique inside a session
  because the total only grows, and identical when the same file is found again under
  ``archived_sessions/``, so an archived rollout is never counted twice;
* forked and subagent rollouts replay the parent's history first; see
  :class:`~tokentrail.agents.codex.rollout.RolloutReader` for the rule that drops that
  replayed prefix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from tokentrail.agents.codex import AGENT
from tokentrail.agents.codex.rollout import RolloutReader
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import read_lines

PREFILTER: tuple[bytes, ...] = (
    b'"token_count"',
    b'"session_meta"',
    b'"turn_context"',
    b'"function_call',  # also "function_call_output"
    b'"custom_tool_call',  # also "custom_tool_call_output"
    b'"thread_name_updated"',
)
"""Only these lines are JSON-parsed; the bulk of a rollout is prompts and tool output."""


class CodexSource:
    """OpenAI Codex CLI (and Codex Desktop / IDE) rollout files."""

    name: ClassVar[str] = AGENT.name
    parser_version: ClassVar[int] = 4
    """2: also reads the official ``rate_limits`` figures (files read by 1 are read again
    once to find them; the ledger merges the requests it already has). 3: tool calls.
    4: thread names (``thread_name_updated``) as session titles."""
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``$CODEX_HOME`` (default ``~/.codex``): live and archived session directories."""
        configured = env.get("CODEX_HOME", "").strip()
        root = Path(configured).expanduser() if configured else home / ".codex"
        return [root / "sessions", root / "archived_sessions"]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Every ``*.jsonl`` under the roots, sorted; a root may also be a single file."""
        return find_files(
            self.name, roots, {"**/*.jsonl": "append"}, root_files={"*.jsonl": "append"}
        )

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        return read_lines(RolloutReader(file.path, state.memory), file.path, state, PREFILTER)
