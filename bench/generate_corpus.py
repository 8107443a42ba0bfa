"""Generate a realistic heavy-user home directory of agent logs for the sync benchmark.

    python bench/generate_corpus.py --out DIR [--size-mb 1024] [--seed 1]
    python bench/generate_corpus.py --append DIR [--files 10]

writes ``DIR/home/`` with

* ``.claude/projects/<project-dir>/<sessionId>.jsonl`` (about 3,000 files at 1 GiB, some with
  ``<sessionId>/subagents/agent-<id>.jsonl``), a long tail of sizes (most small, the largest
  ~80 MB at 1 GiB). Most bytes are prompts, tool output and thinking text; assistant lines
  carry ``message.usage`` the way Claude Code writes it, including the traps of DESIGN.md §3:
  streamed replies written 2-3 times with growing output, resumed sessions that copy an
  earlier session, ``<synthetic>`` lines, Task results carrying a subagent's usage;
* ``.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`` (session_meta, turn_context,
  response_item, event_msg token_count with cumulative and last usage, repeated totals,
  rate-limit-only events);
* ``.gemini/tmp/<projectHash>/chats/session-*.json`` (one object with ``messages[]``);

and ``DIR/manifest.json`` with the ground truth: the token totals a correct reader must find
per source, after the dedupe rules. Everything scales with ``--size-mb`` and is
deterministic from ``--seed``. Speed comes from building every line out of slices of a few
pre-escaped text pools and writing in large buffered chunks.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import json
import math
import os
import random
import string
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

MIB = 1024 * 1024
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1

# Shares of the corpus bytes per agent, and file counts at 1 GiB (scaled linearly).
CLAUDE_SHARE, CODEX_SHARE = 0.90, 0.07
CLAUDE_FILES_PER_GIB, CODEX_FILES_PER_GIB, GEMINI_FILES_PER_GIB = 3000, 300, 60
SUBAGENT_FILE_SHARE = 0.12
LARGEST_FILE_SHARE = 80 / 1024  # the biggest session is ~80 MB of a 1 GiB corpus
RESUMED_SESSION_SHARE = 0.04
MAX_RESUME_SOURCE_BYTES = 4 * MIB
PROJECT_COUNT = 45
CODEX_AUTO_COMPACT_TOKENS = 240_000  # a little below gpt-5-codex's 272k window
GEMINI_COMPRESSION_TOKENS = 700_000  # Gemini CLI compresses at ~70% of a 1M window
APPEND_TARGET_SCALE = 200_000  # appended turns are sized like those of a mid-sized session

TIMELINE_START = datetime(2025, 6, 10, tzinfo=UTC)
TIMELINE_DAYS = 183  # about six months of use
WRITE_CHUNK_CHARS = 4 * MIB

B62 = string.ascii_letters + string.digits
CHARS_PER_TOKEN = 3.6


# --------------------------------------------------------------------------- text pools


_PROSE_TEXT = (
    "the a to of and in that is for it with as on this be are we can will not should "
    "function value file test error config module request response cache token session "
    "update change check build run return handle parse read write call path user data "
    "model type class method field option default missing because then when after before "
    "first next also only still already instead rather maybe probably likely looks seems "
    "fix bug issue failure crash regression performance memory database query index table "
    "migration schema import export server client endpoint route handler middleware auth "
    "login password permission logging retry timeout queue worker thread process signal "
    "refactor rename extract inline simplify remove add keep move split merge rebase commit "
    "branch diff patch review approve deploy release version dependency package lockfile "
    "let me look at how the current implementation handles this case carefully so that "
    "I need to understand why the test fails here and what the expected output should be"
)
_PROSE_WORDS = tuple(_PROSE_TEXT.split())
_UNICODE_BITS = ("café", "naïve", "→", "✓", "日本語のテキスト", "Grüße", "🚀", "—", "…", "µs")
_IDENTS_TEXT = (
    "user_id session_store parse_line read_chunk flush_batch apply_migration get_config "
    "TokenCounter RequestHandler cache_key load_settings retry_policy build_index "
    "normalize_path render_table format_cost compute_totals open_store close_store "
    "handleSubmit fetchUser useEffect setState createServer parseArgs writeFile readFile "
    "validate_input encode_payload decode_payload emit_event subscribe unsubscribe"
)
_IDENTS = tuple(_IDENTS_TEXT.split())
_TYPES = ("int", "str", "bool", "float", "dict[str, Any]", "list[str]", "Path", "None", "bytes")
_FILES_TEXT = (
    "src/app/main.py src/app/models.py src/app/store.py src/app/api/routes.py "
    "src/components/Header.tsx src/components/Table.tsx src/lib/client.ts src/lib/utils.ts "
    "tests/test_store.py tests/test_api.py README.md pyproject.toml package.json "
    "internal/server/handler.go cmd/tool/main.go Cargo.toml src/lib.rs docs/usage.md"
)
_FILES = tuple(_FILES_TEXT.split())
_PROJECT_NAMES_TEXT = (
    "api-gateway web-dashboard tokentrail infra ml-pipeline mobile-app docs-site cli-tool "
    "payments auth-service search-indexer data-warehouse billing notebook sandbox "
    "design-system chat-bot scheduler metrics-agent edge-proxy"
)


def _words(rng: random.Random, n: int) -> str:
    words = rng.choices(_PROSE_WORDS, k=n)
    if rng.random() < 0.03:
        words[rng.randrange(n)] = rng.choice(_UNICODE_BITS)
    return " ".join(words)


def _prose_line(rng: random.Random) -> str:
    sentence = _words(rng, rng.randint(6, 28))
    prefix = rng.choice(("", "", "", "- ", "1. ", "## ", "**Note:** "))
    return prefix + sentence[0].upper() + sentence[1:] + rng.choice((".", ".", ":", "?"))


def _code_line(rng: random.Random) -> str:
    a, b, c = rng.choice(_IDENTS), rng.choice(_IDENTS), rng.choice(_IDENTS)
    indent = " " * rng.choice((0, 4, 4, 8, 8, 12))
    templates = (
        f"def {a}({b}: {rng.choice(_TYPES)}) -> {rng.choice(_TYPES)}:",
        f"return {a}.{b}({c}, {rng.randint(0, 4096)})",
        f"if {a} is None:",
        f"{a} = {b}.get('{c}', {rng.randint(0, 99)})",
        f'raise ValueError(f"bad {a}: {{{b}!r}}")',
        f"for {a} in {b}:",
        f"# {_words(rng, rng.randint(4, 12))}",
        f'const {a} = await {b}.{c}("{rng.choice(_FILES)}");',
        f"    expect({a}).toEqual({{ {b}: {rng.randint(0, 999)} }});",
        f"import {{ {a}, {b} }} from './{c}';",
        f"func ({a} *{b.title()}) {c}(ctx context.Context) error {{",
        f'        "{a}": "{b}",',
        "}",
        "",
    )
    return indent + rng.choice(templates)


def _shell_line(rng: random.Random) -> str:
    name = rng.choice(_FILES)
    templates = (
        f"-rw-r--r--  1 alex  staff  {rng.randint(100, 90000):>6} Oct {rng.randint(1, 30):>2} "
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} {name}",
        f"tests/test_{rng.choice(_IDENTS)}.py::test_{rng.choice(_IDENTS)} PASSED"
        f"{' ' * rng.randint(1, 20)}[{rng.randint(1, 100):>3}%]",
        f"{name}:{rng.randint(1, 900)}:{rng.randint(1, 80)}: E501 Line too long "
        f"({rng.randint(101, 140)} > 100)",
        f"commit {rng.getrandbits(160):040x}",
        f"    {_words(rng, rng.randint(3, 9))}",
        f"npm WARN deprecated {rng.choice(_IDENTS)}@{rng.randint(1, 9)}.{rng.randint(0, 20)}.0",
        f'  File "/home/alex/code/app/{name}", line {rng.randint(1, 500)}, in '
        f"{rng.choice(_IDENTS)}",
        f"{rng.randint(0, 9)} passed, {rng.randint(0, 3)} failed in {rng.random() * 9:.2f}s",
        f"{datetime(2025, 10, 1, tzinfo=UTC).isoformat()} INFO {_words(rng, 6)}",
        f"\t{name} | {rng.randint(1, 300)} ++++{'-' * rng.randint(0, 9)}",
    )
    return rng.choice(templates)


@dataclass
class TextPool:
    """A few MB of JSON-escaped text with known line starts; texts are slices of it.

    Slicing at line boundaries keeps every slice a valid JSON string body (no escape
    sequence is ever cut in half), and slicing is a memcpy, so no line is ever
    serialised with ``json.dumps`` while the corpus is written.
    """

    text: str
    starts: list[int]

    @classmethod
    def build(cls, rng: random.Random, make_line: Any, target_chars: int) -> TextPool:
        parts: list[str] = []
        starts: list[int] = []
        size = 0
        while size < target_chars:
            escaped = json.dumps(make_line(rng), ensure_ascii=False)[1:-1] + "\\n"
            starts.append(size)
            parts.append(escaped)
            size += len(escaped)
        return cls("".join(parts), starts)

    def take(self, rng: random.Random, chars: int) -> str:
        """About ``chars`` characters of escaped text (at least one line)."""
        if chars >= len(self.text):
            repeats = chars // len(self.text)
            return self.text * repeats + self.take(rng, chars - repeats * len(self.text) + 1)
        first = rng.randrange(len(self.starts))
        begin = self.starts[first]
        if begin + chars > len(self.text):
            first = bisect.bisect_left(self.starts, len(self.text) - chars)
            first = max(0, first - 1)
            begin = self.starts[first]
        end_index = bisect.bisect_left(self.starts, begin + chars)
        end = self.starts[end_index] if end_index < len(self.starts) else len(self.text)
        if end <= begin:
            end = self.starts[first + 1] if first + 1 < len(self.starts) else len(self.text)
        return self.text[begin:end]


@dataclass
class Pools:
    prose: TextPool
    code: TextPool
    shell: TextPool
    b64: str  # base64 noise for signatures, encrypted reasoning and images

    @classmethod
    def build(cls, seed: int, size_mb: float) -> Pools:
        """Pools of up to 2 MiB of text each (smaller for small corpora, to start fast)."""
        rng = random.Random(f"pools:{seed}")
        corpus = size_mb * MIB
        text_chars = int(min(2 * MIB, max(128 * 1024, corpus / 64)))
        noise_bytes = int(min(3 * MIB, max(64 * 1024, corpus / 16))) // 3 * 3
        return cls(
            prose=TextPool.build(rng, _prose_line, text_chars),
            code=TextPool.build(rng, _code_line, text_chars),
            shell=TextPool.build(rng, _shell_line, text_chars),
            b64=base64.b64encode(rng.randbytes(noise_bytes)).decode(),
        )

    def noise(self, rng: random.Random, chars: int) -> str:
        chars = min(chars, len(self.b64))
        start = rng.randrange(len(self.b64) - chars + 1)
        return self.b64[start : start + chars]


# --------------------------------------------------------------------------- small helpers


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def _b62(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(B62, k=n))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _lognormal_chars(rng: random.Random, median: float, sigma: float, cap: float) -> int:
    return int(min(cap, max(20.0, rng.lognormvariate(math.log(median), sigma))))


def _clip(escaped: str, limit: int) -> str:
    """At most ``limit`` characters of escaped text, cut after a line so no escape is split."""
    end = escaped.rfind("\\n", 0, limit)
    return escaped[: end + 2] if end >= 0 else ""


def _tokens_of(chars: int) -> int:
    return max(1, int(chars / CHARS_PER_TOKEN))


def long_tail_sizes(rng: random.Random, count: int, total: int, largest: int) -> list[int]:
    """``count`` file sizes summing to ~``total``: Zipf-like with noise, the top one pinned."""
    if count == 1:
        return [total]
    largest = min(largest, total // 2)
    weights = sorted(
        ((rank**-0.9) * rng.lognormvariate(0.0, 1.2) for rank in range(1, count + 1)),
        reverse=True,
    )
    rest = weights[1:]
    rest_total = total - largest
    cap = 0.9 * largest
    sizes = [w / sum(rest) * rest_total for w in rest]
    for _ in range(20):  # cap the runners-up below the pinned largest, spreading the excess
        excess = sum(max(0.0, s - cap) for s in sizes)
        if excess <= 0:
            break
        free = sum(s for s in sizes if s < cap)
        sizes = [cap if s >= cap else s + excess * s / free for s in sizes]
    floor = 1500
    return [largest] + [max(floor, int(s)) for s in sizes]


# --------------------------------------------------------------------------- ground truth


@dataclass
class Totals:
    """Token totals in tokentrail's buckets (input = uncached, output includes reasoning)."""

    requests: int = 0
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    output_tokens_first_snapshot: int = 0  # what a reader keeping the first streamed copy sees

    def add(
        self,
        *,
        input: int,
        cache_read: int = 0,
        cache_write_5m: int = 0,
        cache_write_1h: int = 0,
        output: int,
        reasoning: int = 0,
        first_output: int | None = None,
    ) -> None:
        self.requests += 1
        self.input_tokens += input
        self.cache_read_tokens += cache_read
        self.cache_write_5m_tokens += cache_write_5m
        self.cache_write_1h_tokens += cache_write_1h
        self.output_tokens += output
        self.reasoning_tokens += reasoning
        self.output_tokens_first_snapshot += output if first_output is None else first_output

    def as_dict(self, unreported: tuple[str, ...] = ()) -> dict[str, int | None]:
        """The totals by name; buckets in ``unreported`` are None (the agent never says)."""
        cache_write = self.cache_write_5m_tokens + self.cache_write_1h_tokens
        values: dict[str, int | None] = {
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": cache_write,
            "cache_write_5m_tokens": self.cache_write_5m_tokens,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.input_tokens
            + self.cache_read_tokens
            + cache_write
            + self.output_tokens,
            "output_tokens_first_snapshot": self.output_tokens_first_snapshot,
        }
        values.update(dict.fromkeys(unreported))
        return values

    @classmethod
    def from_dict(cls, data: dict[str, int | None]) -> Totals:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names and v is not None})


_NO_CACHE_WRITE = ("cache_write_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")
UNREPORTED_BUCKETS: dict[str, tuple[str, ...]] = {
    "claude_code": ("reasoning_tokens",),  # thinking is inside output_tokens, never split out
    "codex": _NO_CACHE_WRITE,  # OpenAI bills no cache writes and reports none
    "gemini": _NO_CACHE_WRITE,
}
"""Buckets an agent never reports: the truth says None (not reported), not 0."""


@dataclass
class Traps:
    """How many lines of each known trap the corpus holds (for the report)."""

    streaming_partial_lines: int = 0
    resumed_copy_lines: int = 0
    synthetic_lines: int = 0
    task_result_usage_lines: int = 0
    huge_lines: int = 0
    codex_repeated_token_counts: int = 0
    codex_rate_limit_only_events: int = 0
    advisor_calls: int = 0


@dataclass
class Ledger:
    """What the generator wrote: truth per source, trap counts, bytes and files."""

    truth: dict[str, Totals] = field(
        default_factory=lambda: {"claude_code": Totals(), "codex": Totals(), "gemini": Totals()}
    )
    sessions: dict[str, Totals] = field(default_factory=dict)
    """Truth per session, under tokentrail's session key: each request belongs to the
    session whose own transcript wrote it first (a resumed copy adds nothing here)."""
    session_sources: dict[str, str] = field(default_factory=dict)
    resumed_originals: list[str] = field(default_factory=list)
    """Sessions a later session resumed (copied): append mode leaves them alone, as Claude
    Code does (the original stops when it is continued elsewhere)."""
    traps: Traps = field(default_factory=Traps)
    files: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    largest: tuple[str, int] = ("", 0)

    def request(self, source: str, session: str, **buckets: int) -> None:
        """One request of ``session``: counted in its source's truth and in the session's."""
        self.truth[source].add(**buckets)
        self.sessions.setdefault(session, Totals()).add(**buckets)
        self.session_sources[session] = source

    def wrote(self, kind: str, path: Path, size: int) -> None:
        self.files[kind] = self.files.get(kind, 0) + 1
        self.bytes[kind] = self.bytes.get(kind, 0) + size
        if size > self.largest[1]:
            self.largest = (str(path), size)


# --------------------------------------------------------------------------- writing


@dataclass
class Budget:
    """Keeps an agent's bytes close to its share of ``--size-mb``.

    A file stops after the turn that crosses its target, so files overshoot; scaling each
    next target by what is left of the budget corrects the drift as the corpus is written.
    """

    total: int
    planned: int  # the sum of the targets not yet handed out
    written: int = 0

    def target(self, planned_size: int) -> int:
        left = self.total - self.written
        factor = left / self.planned if self.planned > 0 else 1.0
        self.planned -= planned_size
        return max(1000, int(planned_size * min(1.5, max(0.3, factor))))

    def spent(self, size: int) -> None:
        self.written += size


class ChunkWriter:
    """Collects lines and writes them in multi-MB chunks; counts characters written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []
        self.pending = 0
        self.written = 0

    def line(self, text: str) -> None:
        self.parts.append(text)
        self.parts.append("\n")
        self.pending += len(text) + 1
        self.written += len(text) + 1
        if self.pending >= WRITE_CHUNK_CHARS:
            self.flush()

    def flush(self) -> None:
        self.stream.write("".join(self.parts))
        self.parts.clear()
        self.pending = 0


# --------------------------------------------------------------------------- Claude Code


ADVISOR_MODEL = "claude-opus-4-1-20250805"
"""The advisor model of the corpus's advisor calls (Opus advising the session's model)."""

CLAUDE_TOOLS = ("Bash", "Read", "Edit", "Grep", "Write", "Glob", "TodoWrite", "WebFetch")
CLAUDE_TOOL_WEIGHTS = (30, 30, 18, 8, 4, 4, 4, 2)


def claude_model_for(day: datetime, rng: random.Random) -> str:
    """Models as a heavy user would have used them over the second half of 2025."""
    choices: tuple[str, ...]
    weights: tuple[int, ...]
    if day < datetime(2025, 8, 5, tzinfo=UTC):
        choices, weights = ("claude-sonnet-4-20250514", "claude-opus-4-20250514"), (70, 30)
    elif day < datetime(2025, 9, 29, tzinfo=UTC):
        choices, weights = ("claude-sonnet-4-20250514", "claude-opus-4-1-20250805"), (55, 45)
    elif day < datetime(2025, 10, 15, tzinfo=UTC):
        choices, weights = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805"), (75, 25)
    else:
        choices = (
            "claude-sonnet-4-5-20250929",
            "claude-opus-4-1-20250805",
            "claude-haiku-4-5-20251001",
        )
        weights = (65, 15, 20)
    return rng.choices(choices, weights=weights)[0]


def claude_version_for(day: datetime, rng: random.Random) -> str:
    if day < datetime(2025, 8, 1, tzinfo=UTC):
        return f"1.0.{rng.randint(24, 64)}"
    if day < datetime(2025, 9, 29, tzinfo=UTC):
        return f"1.0.{rng.randint(70, 128)}"
    return f"2.0.{rng.randint(0, 55)}"


@dataclass
class Project:
    cwd: str
    dir_name: str
    branches: tuple[str, ...]


def make_projects(rng: random.Random) -> list[Project]:
    names = tuple(_PROJECT_NAMES_TEXT.split())
    projects = []
    for i in range(PROJECT_COUNT):
        name = names[i % len(names)] + ("" if i < len(names) else f"-{i // len(names) + 1}")
        parent = rng.choice(("code", "work/acme", "src/github.com/alex", "projects"))
        cwd = f"/home/alex/{parent}/{name}"
        dir_name = "".join(ch if ch.isalnum() else "-" for ch in cwd)
        topics = (
            f"{rng.choice(('feat', 'fix', 'chore', 'refactor'))}/{rng.choice(_IDENTS)}"
            for _ in range(rng.randint(1, 5))
        )
        branches = ("main", *topics)
        projects.append(Project(cwd, dir_name, branches))
    return projects


@dataclass
class SubagentSpec:
    """A subagent launched from a parent session; its file is written after the parent."""

    agent_id: str
    parent_session: str
    project: Project
    branch: str
    version: str
    model: str
    start: datetime
    target: int


@dataclass
class ClaudeSession:
    """Everything one Claude Code transcript needs; lines are produced by ``ClaudeWriter``."""

    session_id: str
    project: Project
    start: datetime
    target: int
    model: str
    version: str
    branch: str
    one_hour_cache: bool
    long_context: bool
    subagents: int = 0
    resume_of: str | None = None  # session id whose lines this file starts with
    keep_lines: bool = False  # a later resumed session copies this one
    agent_id: str | None = None  # set for a subagent transcript
    force_synthetic: bool = False  # end the first turn with a <synthetic> line (small corpora)


class ClaudeWriter:
    """Writes one Claude Code transcript: turns of user prompt, tool loop, final answer."""

    def __init__(
        self,
        session: ClaudeSession,
        pools: Pools,
        rng: random.Random,
        ledger: Ledger,
        out: ChunkWriter,
    ) -> None:
        self.s = session
        self.writes_cache_split = not session.version.startswith("1.0.2")
        if not self.writes_cache_split:  # 1h caching came with the versions that report it
            session.one_hour_cache = False
        self.pools = pools
        self.rng = rng
        self.ledger = ledger
        self.out = out
        self.session_key = (
            f"{session.session_id}:agent-{session.agent_id}"
            if session.agent_id
            else session.session_id
        )
        self.now = session.start
        self.parent_uuid: str | None = None
        self.context = 0  # tokens in the cached prompt prefix
        self.pending_tokens = 0  # tokens added since the last request (prompt, results, output)
        self.last_request_at: datetime | None = None
        self.kept: list[str] | None = [] if session.keep_lines else None
        self.subagents: list[SubagentSpec] = []
        sidechain = "true" if session.agent_id else "false"
        agent = f'"agentId":"{session.agent_id}",' if session.agent_id else ""
        self.common = (
            f'"isSidechain":{sidechain},"userType":"external","cwd":"{session.project.cwd}",'
            f'"sessionId":"{session.session_id}","version":"{session.version}",'
            f'"gitBranch":"{session.branch}",{agent}'
        )
        scale = max(1.0, session.target / 400)
        self.tool_median = min(6000.0, max(300.0, scale))
        self.tool_cap = float(min(max(2000, session.target // 4), 400_000))
        self.text_scale = min(1.0, max(0.15, session.target / 200_000))

    # -- plumbing

    def emit(self, line: str) -> None:
        self.out.line(line)
        if self.kept is not None:
            self.kept.append(line)

    def tick(self, seconds: float) -> str:
        self.now += timedelta(seconds=seconds)
        return _iso(self.now)

    def chain(self) -> tuple[str, str]:
        """(parentUuid JSON value, new uuid) for the next line of the conversation."""
        parent = f'"{self.parent_uuid}"' if self.parent_uuid else "null"
        self.parent_uuid = _uuid(self.rng)
        return parent, self.parent_uuid

    # -- whole file

    def write(self, copied: list[str] | None = None) -> None:
        rng = self.rng
        if rng.random() < 0.1 and not self.s.agent_id:
            leaf = _uuid(rng)
            summary = _words(rng, rng.randint(3, 8))
            self.emit(f'{{"type":"summary","summary":"{summary}","leafUuid":"{leaf}"}}')
        if copied:
            self.copy_resumed(copied)
        agents_by_turn = self.plan_agent_turns()
        turn = 0
        while self.out.written < self.s.target or turn == 0:
            self.user_turn(agents=agents_by_turn.pop(turn, 0))
            turn += 1
            self.now += timedelta(seconds=rng.lognormvariate(math.log(150), 1.4))
        if agents_by_turn:  # the session ended before every planned subagent was launched
            self.user_turn(agents=sum(agents_by_turn.values()))

    def plan_agent_turns(self) -> dict[int, int]:
        expected_turns = max(1, self.s.target // 60_000)
        plan: dict[int, int] = {}
        for _ in range(self.s.subagents):
            turn = self.rng.randrange(expected_turns)
            plan[turn] = plan.get(turn, 0) + 1
        return plan

    def copy_resumed(self, copied: list[str]) -> None:
        """A resumed session starts with the earlier session's lines under its own id."""
        old = json.loads(copied[-1])
        old_id = old.get("sessionId", "")
        for line in copied:
            if old_id:
                line = line.replace(f'"sessionId":"{old_id}"', f'"sessionId":"{self.s.session_id}"')
            self.emit(line)
            self.ledger.traps.resumed_copy_lines += 1
        last_time = old.get("timestamp")
        if last_time:
            resumed_from = datetime.fromisoformat(last_time.replace("Z", "+00:00"))
            self.now = max(self.now, resumed_from + timedelta(minutes=self.rng.randint(5, 600)))
        self.parent_uuid = old.get("uuid") or self.parent_uuid
        self.context = 0  # cache expired since: the next request writes the cache again

    # -- one user turn

    def user_turn(self, agents: int = 0) -> None:
        """A prompt, a loop of tool calls (``agents`` of them launch subagents), an answer."""
        rng = self.rng
        self.user_prompt()
        steps = max(agents, min(60, int(rng.expovariate(1 / 6)) + 1))
        agent_steps = set(rng.sample(range(steps), agents))
        for step in range(steps):
            if self.out.written >= self.s.target and step > 0 and not agent_steps:
                break
            self.tool_step(task=step in agent_steps)
            agent_steps.discard(step)
        if rng.random() < 0.004 or self.s.force_synthetic:
            self.s.force_synthetic = False
            self.synthetic_line()
            return
        self.final_answer()

    def user_prompt(self) -> None:
        rng = self.rng
        parent, uuid = self.chain()
        chars = _lognormal_chars(rng, 260 * self.text_scale + 40, 1.1, 30_000)
        if rng.random() < 0.02:  # a pasted log or file
            chars = int(chars * rng.uniform(10, 60))
        pool = rng.choice((self.pools.prose, self.pools.prose, self.pools.code))
        text = pool.take(rng, chars)
        ts = self.tick(rng.uniform(1, 5))
        self.emit(
            f'{{"parentUuid":{parent},{self.common}"type":"user","message":{{"role":"user",'
            f'"content":"{text}"}},"uuid":"{uuid}","timestamp":"{ts}"}}'
        )
        self.pending_tokens += _tokens_of(len(text))

    def tool_step(self, task: bool) -> None:
        rng = self.rng
        tools: list[str]
        if task:
            tools = ["Task"]
        else:
            count = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            tools = rng.choices(CLAUDE_TOOLS, weights=CLAUDE_TOOL_WEIGHTS, k=count)
        calls = [(f"toolu_01{_b62(rng, 22)}", name) for name in tools]
        blocks: list[tuple[str, int]] = []
        if rng.random() < 0.55:
            blocks.append(self.thinking_block())
        if rng.random() < 0.5:
            blocks.append(self.text_block(short=True))
        blocks.extend(self.tool_use_block(tool_id, name) for tool_id, name in calls)
        self.assistant_reply(blocks)
        for tool_id, name in calls:
            self.tool_result(tool_id, name)

    def final_answer(self) -> None:
        blocks: list[tuple[str, int]] = []
        if self.rng.random() < 0.5:
            blocks.append(self.thinking_block())
        blocks.append(self.text_block(short=False))
        self.assistant_reply(blocks)

    # -- content blocks: (JSON text of the block, output tokens it stands for)

    def thinking_block(self) -> tuple[str, int]:
        rng = self.rng
        median = 900 * self.text_scale
        text = self.pools.prose.take(rng, _lognormal_chars(rng, median, 0.9, 12_000))
        signature = self.pools.noise(rng, rng.randint(200, 300 + int(1300 * self.text_scale)))
        block = f'{{"type":"thinking","thinking":"{text}","signature":"{signature}"}}'
        return block, _tokens_of(len(text))

    def text_block(self, short: bool) -> tuple[str, int]:
        rng = self.rng
        median = (180 if short else 700) * self.text_scale
        text = self.pools.prose.take(rng, _lognormal_chars(rng, median, 0.9, 8000))
        return f'{{"type":"text","text":"{text}"}}', _tokens_of(len(text))

    def tool_use_block(self, tool_id: str, name: str) -> tuple[str, int]:
        rng = self.rng
        path = f"{self.s.project.cwd}/{rng.choice(_FILES)}"
        if name == "Bash":
            cmd = rng.choice(("pytest -q", "git status", "npm test", "ls -la", "ruff check ."))
            args = f'{{"command":"{cmd}","description":"{_words(rng, 5)}"}}'
        elif name == "Read":
            args = f'{{"file_path":"{path}"}}'
        elif name == "Edit":
            old = self.pools.code.take(rng, _lognormal_chars(rng, 400, 1.0, 8000))
            new = self.pools.code.take(rng, _lognormal_chars(rng, 500, 1.0, 8000))
            args = f'{{"file_path":"{path}","old_string":"{old}","new_string":"{new}"}}'
        elif name == "Write":
            body = self.pools.code.take(rng, _lognormal_chars(rng, 2500, 1.0, 30_000))
            args = f'{{"file_path":"{path}","content":"{body}"}}'
        elif name == "Task":
            prompt = self.pools.prose.take(rng, _lognormal_chars(rng, 800, 0.7, 6000))
            args = (
                f'{{"description":"{_words(rng, 4)}","prompt":"{prompt}",'
                f'"subagent_type":"{rng.choice(("general-purpose", "Explore", "Plan"))}"}}'
            )
        elif name == "TodoWrite":
            items = ",".join(
                f'{{"content":"{_words(rng, 6)}","status":"pending",'
                f'"activeForm":"{_words(rng, 3)}"}}'
                for _ in range(rng.randint(2, 7))
            )
            args = f'{{"todos":[{items}]}}'
        else:
            args = f'{{"pattern":"{rng.choice(_IDENTS)}","path":"{self.s.project.cwd}"}}'
        block = f'{{"type":"tool_use","id":"{tool_id}","name":"{name}","input":{args}}}'
        return block, _tokens_of(len(args)) + 20

    # -- lines

    def usage_json(
        self,
        input_tokens: int,
        cache_read: int,
        cw5: int,
        cw1h: int,
        output: int,
        advisor: str = "",
    ) -> str:
        split = (
            f'"cache_creation":{{"ephemeral_5m_input_tokens":{cw5},'
            f'"ephemeral_1h_input_tokens":{cw1h}}},'
            if self.writes_cache_split
            else ""  # old versions wrote no 5m/1h split
        )
        server = (
            '"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},'
            if self.s.version.startswith("2.")
            else ""
        )
        return (
            f'{{"input_tokens":{input_tokens},"cache_creation_input_tokens":{cw5 + cw1h},'
            f'"cache_read_input_tokens":{cache_read},{split}"output_tokens":{output},'
            f'{server}{advisor}"service_tier":"standard"}}'
        )

    def advisor_call(self) -> tuple[dict[str, int], str] | None:
        """Now and then (newer versions) the executor consults an advisor model: a separate
        billed call under its own model, written as a ``usage.iterations[]`` entry beside
        the executor's own ``message`` entry and outside the top-level counters. Returns its
        tokens and the model, or None."""
        rng = self.rng
        chance = 0.03 if self.ledger.traps.advisor_calls else 0.3  # small corpora hold one too
        if self.s.agent_id or not self.s.version.startswith("2.") or rng.random() >= chance:
            return None
        tokens = {
            "input": rng.randint(200, 4_000),
            "cache_read": rng.choice((0, 18_000, 42_000)),
            "cache_write_5m": rng.randint(0, 3_000),
            "output": rng.randint(150, 1_800),
        }
        return tokens, ADVISOR_MODEL

    @staticmethod
    def iterations_json(own: str, advisor: dict[str, int], model: str, output: int) -> str:
        """``"iterations":[…],``: the executor's own call, then the advisor's (its output as
        of this snapshot)."""
        return (
            f'"iterations":[{{"type":"message",{own[1:-1]}}},{{"type":"advisor_message",'
            f'"model":"{model}","input_tokens":{advisor["input"]},'
            f'"cache_creation_input_tokens":{advisor["cache_write_5m"]},'
            f'"cache_read_input_tokens":{advisor["cache_read"]},"output_tokens":{output}}}],'
        )

    def request_tokens(self) -> tuple[int, int, int, int]:
        """(input, cache_read, cache_write_5m, cache_write_1h) of the next request."""
        rng = self.rng
        ttl = 3600 if self.s.one_hour_cache else 300
        if self.context == 0:  # first request: system prompt and tools, maybe cached globally
            self.pending_tokens += rng.randint(14_000, 24_000)
        warm = (
            self.last_request_at is not None
            and (self.now - self.last_request_at).total_seconds() < ttl
            and self.context > 0
        )
        cache_read = self.context if warm else (rng.choice((0, 0, 12_500)))
        prompt = self.context + self.pending_tokens
        input_tokens = rng.randint(1, 9)
        cache_write = max(0, prompt - cache_read - input_tokens)
        self.context = prompt
        self.pending_tokens = 0
        self.last_request_at = self.now
        if self.s.one_hour_cache:
            return input_tokens, cache_read, 0, cache_write
        return input_tokens, cache_read, cache_write, 0

    def assistant_reply(self, blocks: list[tuple[str, int]]) -> None:
        """One API response, written once per content block with the output growing."""
        rng = self.rng
        self.maybe_compact()
        model = self.s.model
        msg_id = f"msg_01{_b62(rng, 22)}"
        request_id = f"req_011C{_b62(rng, 20)}"
        input_tokens, cache_read, cw5, cw1h = self.request_tokens()
        final = sum(tokens for _, tokens in blocks) + rng.randint(2, 40)
        self.now += timedelta(seconds=rng.uniform(2, 25))
        outputs = self.growing_outputs(final, len(blocks))
        advised = self.advisor_call()
        advisor_outputs = self.growing_outputs(advised[0]["output"], len(blocks)) if advised else []
        for index, (block, _tokens) in enumerate(blocks):
            parent, uuid = self.chain()
            last = index == len(blocks) - 1
            stop = '"tool_use"' if last and '"tool_use"' in block[:20] else "null"
            iterations = ""
            if advised is not None:
                own = self.usage_json(input_tokens, cache_read, cw5, cw1h, outputs[index])
                iterations = self.iterations_json(
                    own, advised[0], advised[1], advisor_outputs[index]
                )
            usage = self.usage_json(input_tokens, cache_read, cw5, cw1h, outputs[index], iterations)
            ts = self.tick(rng.uniform(0.05, 3.0))
            self.emit(
                f'{{"parentUuid":{parent},{self.common}"message":{{"model":"{model}",'
                f'"id":"{msg_id}","type":"message","role":"assistant","content":[{block}],'
                f'"stop_reason":{stop},"stop_sequence":null,"usage":{usage}}},'
                f'"requestId":"{request_id}","type":"assistant","uuid":"{uuid}",'
                f'"timestamp":"{ts}"}}'
            )
            if not last:
                self.ledger.traps.streaming_partial_lines += 1
        self.ledger.request(
            "claude_code",
            self.session_key,
            input=input_tokens,
            cache_read=cache_read,
            cache_write_5m=cw5,
            cache_write_1h=cw1h,
            output=final,
            first_output=outputs[0],
        )
        if advised is not None:
            self.ledger.traps.advisor_calls += 1
            self.ledger.request(
                "claude_code",
                self.session_key,
                input=advised[0]["input"],
                cache_read=advised[0]["cache_read"],
                cache_write_5m=advised[0]["cache_write_5m"],
                output=advised[0]["output"],
                first_output=advisor_outputs[0],
            )
        self.pending_tokens += final

    def growing_outputs(self, final: int, copies: int) -> list[int]:
        if copies == 1:
            return [final]
        partial = sorted(self.rng.randint(1, max(1, final // 2)) for _ in range(copies - 1))
        return [*partial, final]

    def maybe_compact(self) -> None:
        limit = 850_000 if self.s.long_context else 155_000
        if self.context + self.pending_tokens < limit:
            return
        rng = self.rng
        parent, uuid = self.chain()
        ts = self.tick(rng.uniform(20, 90))
        self.emit(
            f'{{"parentUuid":{parent},"logicalParentUuid":{parent},{self.common}'
            f'"type":"system","subtype":"compact_boundary","content":"Conversation compacted",'
            f'"isMeta":false,"timestamp":"{ts}","uuid":"{uuid}","level":"info",'
            f'"compactMetadata":{{"trigger":"auto","preTokens":{self.context}}}}}'
        )
        parent, uuid = self.chain()
        summary = self.pools.prose.take(rng, rng.randint(3000, 12_000))
        self.emit(
            f'{{"parentUuid":{parent},{self.common}"type":"user","message":{{"role":"user",'
            f'"content":"This session is being continued from a previous conversation. '
            f'{summary}"}},"isCompactSummary":true,"uuid":"{uuid}","timestamp":"{ts}"}}'
        )
        self.context = 0
        self.pending_tokens = _tokens_of(len(summary))

    def tool_result(self, tool_id: str, name: str) -> None:
        rng = self.rng
        parent, uuid = self.chain()
        ts = self.tick(rng.uniform(0.2, 30.0))
        if name == "Task":
            self.task_result(parent, uuid, tool_id, ts)
            return
        chars = _lognormal_chars(rng, self.tool_median, 1.3, self.tool_cap)
        path = f"{self.s.project.cwd}/{rng.choice(_FILES)}"
        if name == "Read" and self.s.target > 20 * MIB and rng.random() < 0.004:
            self.image_result(parent, uuid, tool_id, ts)
            return
        if name in ("Read", "Edit", "Write"):
            body = self.pools.code.take(rng, chars)
        elif name == "WebFetch":
            body = self.pools.prose.take(rng, chars)
        else:
            body = self.pools.shell.take(rng, chars)
        if name == "Read":
            lines = body.count("\\n")
            extra = (
                f'{{"type":"text","file":{{"filePath":"{path}","content":"{body}",'
                f'"numLines":{lines},"startLine":1,"totalLines":{lines}}}}}'
            )
        elif name == "Edit":
            extra = (
                f'{{"filePath":"{path}","oldString":"","newString":"","originalFile":"{body}",'
                f'"userModified":false,"replaceAll":false}}'
            )
        elif name == "Bash":
            extra = f'{{"stdout":"{body}","stderr":"","interrupted":false,"isImage":false}}'
        else:
            extra = f'"{_clip(body, 2000)}"'
        self.emit(
            f'{{"parentUuid":{parent},{self.common}"type":"user","message":{{"role":"user",'
            f'"content":[{{"tool_use_id":"{tool_id}","type":"tool_result","content":"{body}",'
            f'"is_error":false}}]}},"uuid":"{uuid}","timestamp":"{ts}","toolUseResult":{extra}}}'
        )
        self.pending_tokens += _tokens_of(len(body))

    def image_result(self, parent: str, uuid: str, tool_id: str, ts: str) -> None:
        """A screenshot read back as base64: one line of several MB."""
        data = self.pools.noise(self.rng, self.rng.randint(1 * MIB, 3 * MIB))
        self.emit(
            f'{{"parentUuid":{parent},{self.common}"type":"user","message":{{"role":"user",'
            f'"content":[{{"tool_use_id":"{tool_id}","type":"tool_result","content":[{{'
            f'"type":"image","source":{{"type":"base64","media_type":"image/png",'
            f'"data":"{data}"}}}}]}}]}},"uuid":"{uuid}","timestamp":"{ts}"}}'
        )
        self.ledger.traps.huge_lines += 1
        self.pending_tokens += 1600

    def task_result(self, parent: str, uuid: str, tool_id: str, ts: str) -> None:
        """A subagent's answer; its usage copy here is NOT a new request."""
        rng = self.rng
        agent_id = f"{rng.getrandbits(32):08x}"
        text = self.pools.prose.take(rng, _lognormal_chars(rng, 1500, 0.8, 12_000))
        usage = self.usage_json(
            rng.randint(1, 9),
            rng.randint(20_000, 90_000),
            rng.randint(500, 9000),
            0,
            rng.randint(200, 4000),
        )
        self.emit(
            f'{{"parentUuid":{parent},{self.common}"type":"user","message":{{"role":"user",'
            f'"content":[{{"tool_use_id":"{tool_id}","type":"tool_result","content":[{{'
            f'"type":"text","text":"{text}"}}]}}]}},"uuid":"{uuid}","timestamp":"{ts}",'
            f'"toolUseResult":{{"status":"completed","prompt":"{_words(rng, 12)}","agentId":'
            f'"{agent_id}","content":[{{"type":"text","text":"{_clip(text, 600)}"}}],'
            f'"totalDurationMs":{rng.randint(20_000, 600_000)},"totalTokens":'
            f'{rng.randint(20_000, 120_000)},"totalToolUseCount":{rng.randint(1, 40)},'
            f'"usage":{usage}}}}}'
        )
        self.ledger.traps.task_result_usage_lines += 1
        self.pending_tokens += _tokens_of(len(text))
        start = self.now - timedelta(seconds=rng.uniform(20, 600))
        model = (
            "claude-haiku-4-5-20251001"
            if start >= datetime(2025, 10, 15, tzinfo=UTC) and rng.random() < 0.6
            else self.s.model
        )
        self.subagents.append(
            SubagentSpec(
                agent_id,
                self.s.session_id,
                self.s.project,
                self.s.branch,
                self.s.version,
                model,
                start,
                0,
            )
        )

    def synthetic_line(self) -> None:
        """What Claude Code writes after an API error: model <synthetic>, zero usage, no bill."""
        rng = self.rng
        parent, uuid = self.chain()
        ts = self.tick(rng.uniform(1, 60))
        usage = (
            '{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,'
            '"cache_read_input_tokens":0,"server_tool_use":{"web_search_requests":0},'
            '"service_tier":null,"cache_creation":{"ephemeral_1h_input_tokens":0,'
            '"ephemeral_5m_input_tokens":0}}'
        )
        text = rng.choice(
            (
                "No response requested.",
                'API Error: 529 {\\"type\\":\\"error\\",\\"error\\":{\\"type\\":'
                '\\"overloaded_error\\",\\"message\\":\\"Overloaded\\"}}',
            )
        )
        api_error = "false" if text == "No response requested." else "true"
        self.emit(
            f'{{"parentUuid":{parent},{self.common}"type":"assistant","uuid":"{uuid}",'
            f'"timestamp":"{ts}","message":{{"id":"{_uuid(rng)}","container":null,'
            f'"model":"<synthetic>","role":"assistant","stop_reason":"stop_sequence",'
            f'"stop_sequence":"","type":"message","usage":{usage},"content":[{{"type":"text",'
            f'"text":"{text}"}}]}},"isApiErrorMessage":{api_error}}}'
        )
        self.ledger.traps.synthetic_lines += 1


def plan_claude_sessions(
    rng: random.Random, projects: list[Project], sizes: list[int], subagent_count: int
) -> tuple[list[ClaudeSession], list[int]]:
    """Main sessions in time order, and the sizes left over for subagent transcripts."""
    sizes = sorted(sizes, reverse=True)
    largest, rest = sizes[0], sizes[1:]
    rng.shuffle(rest)
    sub_sizes, main_sizes = rest[:subagent_count], [largest, *rest[subagent_count:]]
    rng.shuffle(main_sizes)
    weights = [1 / (i + 1) for i in range(len(projects))]
    starts = sorted(
        TIMELINE_START
        + timedelta(days=TIMELINE_DAYS * rng.random() ** 0.7, hours=rng.uniform(0, 24))
        for _ in main_sizes
    )
    sessions = []
    for start, target in zip(starts, main_sizes, strict=True):
        model = claude_model_for(start, rng)
        project = rng.choices(projects, weights=weights)[0]
        sessions.append(
            ClaudeSession(
                session_id=_uuid(rng),
                project=project,
                start=start,
                target=target,
                model=model,
                version=claude_version_for(start, rng),
                branch=rng.choice(project.branches),
                one_hour_cache=rng.random() < 0.3,
                long_context="sonnet" in model and rng.random() < 0.04,
            )
        )
    assign_subagents(rng, sessions, len(sub_sizes))
    mark_resumed(rng, sessions)
    sessions[0].force_synthetic = True  # every corpus, however small, holds each trap
    return sessions, sub_sizes


def assign_subagents(rng: random.Random, sessions: list[ClaudeSession], count: int) -> None:
    weights = [math.sqrt(s.target) for s in sessions]
    for _ in range(count):
        rng.choices(sessions, weights=weights)[0].subagents += 1


def mark_resumed(rng: random.Random, sessions: list[ClaudeSession]) -> None:
    """Flag some sessions as resumed copies of the project's previous session."""
    previous: dict[str, ClaudeSession] = {}
    for session in sessions:
        earlier = previous.get(session.project.dir_name)
        if (
            earlier is not None
            and earlier.target <= MAX_RESUME_SOURCE_BYTES
            and earlier.resume_of is None
            and rng.random() < RESUMED_SESSION_SHARE * 2.5
        ):
            link_resumed(earlier, session)
        previous[session.project.dir_name] = session
    if not any(s.resume_of for s in sessions):  # small corpora: still hold one resumed copy
        seen: dict[str, ClaudeSession] = {}
        for session in sessions:
            earlier = seen.get(session.project.dir_name)
            if earlier is not None and earlier.target <= MAX_RESUME_SOURCE_BYTES:
                link_resumed(earlier, session)
                break
            seen[session.project.dir_name] = session


def link_resumed(earlier: ClaudeSession, session: ClaudeSession) -> None:
    session.resume_of = earlier.session_id
    session.model, session.version = earlier.model, earlier.version
    earlier.keep_lines = True


def write_claude(
    home: Path, pools: Pools, ledger: Ledger, seed: int, size: int, files: int
) -> None:
    rng = random.Random(f"claude:{seed}")
    projects = make_projects(rng)
    subagent_count = max(2, round(files * SUBAGENT_FILE_SHARE))
    sizes = long_tail_sizes(rng, files, size, int(size / CLAUDE_SHARE * LARGEST_FILE_SHARE))
    sessions, sub_sizes = plan_claude_sessions(rng, projects, sizes, subagent_count)
    root = home / ".claude" / "projects"
    budget = Budget(size, sum(sizes))
    kept: dict[str, list[str]] = {}
    pending: list[SubagentSpec] = []
    for index, session in enumerate(sessions):
        file_rng = random.Random(f"claude:{seed}:{index}")
        path = root / session.project.dir_name / f"{session.session_id}.jsonl"
        copied = kept.pop(session.resume_of, None) if session.resume_of else None
        if session.resume_of:
            ledger.resumed_originals.append(session.resume_of)
        session.target = budget.target(session.target)
        writer = write_claude_file(path, session, pools, file_rng, ledger, copied)
        budget.spent(writer.out.written)
        if writer.kept is not None:
            kept[session.session_id] = writer.kept
        pending.extend(writer.subagents)
    for index, spec in enumerate(pending):
        spec.target = budget.target(sub_sizes[index % len(sub_sizes)] if sub_sizes else 4000)
        writer = write_subagent(root, spec, pools, random.Random(f"agent:{seed}:{index}"), ledger)
        budget.spent(writer.out.written)


def write_claude_file(
    path: Path,
    session: ClaudeSession,
    pools: Pools,
    rng: random.Random,
    ledger: Ledger,
    copied: list[str] | None,
) -> ClaudeWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", buffering=MIB) as stream:
        out = ChunkWriter(stream)
        writer = ClaudeWriter(session, pools, rng, ledger, out)
        writer.write(copied)
        out.flush()
    kind = "claude_code_subagent" if session.agent_id else "claude_code"
    ledger.wrote(kind, path, path.stat().st_size)
    return writer


def write_subagent(
    root: Path, spec: SubagentSpec, pools: Pools, rng: random.Random, ledger: Ledger
) -> ClaudeWriter:
    session = ClaudeSession(
        session_id=spec.parent_session,
        project=spec.project,
        start=spec.start,
        target=spec.target,
        model=spec.model,
        version=spec.version,
        branch=spec.branch,
        one_hour_cache=False,
        long_context=False,
        agent_id=spec.agent_id,
    )
    path = (
        root
        / spec.project.dir_name
        / spec.parent_session
        / "subagents"
        / f"agent-{spec.agent_id}.jsonl"
    )
    return write_claude_file(path, session, pools, rng, ledger, None)


# --------------------------------------------------------------------------- Codex CLI


def codex_model_for(day: datetime) -> str:
    if day < datetime(2025, 9, 15, tzinfo=UTC):
        return "gpt-5"
    if day < datetime(2025, 11, 13, tzinfo=UTC):
        return "gpt-5-codex"
    return "gpt-5.1-codex"


@dataclass
class CodexUsage:
    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0

    def json(self) -> str:
        return (
            f'{{"input_tokens":{self.input},"cached_input_tokens":{self.cached},'
            f'"output_tokens":{self.output},"reasoning_output_tokens":{self.reasoning},'
            f'"total_tokens":{self.input + self.output}}}'
        )


class CodexWriter:
    """Writes one Codex rollout: turns of model steps, each closed by a token_count event."""

    def __init__(
        self,
        path: Path,
        start: datetime,
        target: int,
        pools: Pools,
        rng: random.Random,
        ledger: Ledger,
        out: ChunkWriter,
        cwd: str,
    ) -> None:
        self.path = path
        self.now = start
        self.target = target
        self.pools = pools
        self.rng = rng
        self.ledger = ledger
        self.out = out
        self.cwd = cwd
        self.total = CodexUsage()
        self.context = 0
        self.model = codex_model_for(start)
        self.force_traps = False  # repeat the first event and add a quota-only one
        self.session_id = ""
        self.tool_median = min(5000.0, max(300.0, target / 300))

    def ts(self, seconds: float) -> str:
        self.now += timedelta(seconds=seconds)
        return _iso(self.now)

    def item(self, seconds: float, kind: str, payload: str) -> None:
        self.out.line(f'{{"timestamp":"{self.ts(seconds)}","type":"{kind}","payload":{payload}}}')

    def write(self, session_id: str) -> None:
        self.session_id = session_id
        rng = self.rng
        instructions = self.pools.prose.take(rng, rng.randint(2000, 9000))
        self.item(
            0,
            "session_meta",
            f'{{"id":"{session_id}","timestamp":"{_iso(self.now)}","cwd":"{self.cwd}",'
            f'"originator":"codex_cli_rs","cli_version":"0.{rng.randint(30, 60)}.0",'
            f'"instructions":"{instructions}","source":"cli","model_provider":"openai",'
            f'"git":{{"commit_hash":"{rng.getrandbits(160):040x}","branch":"main",'
            f'"repository_url":"git@github.com:alex/{Path(self.cwd).name}.git"}}}}',
        )
        self.item(
            0.01,
            "response_item",
            f'{{"type":"message","role":"user","content":[{{"type":"input_text","text":'
            f'"<environment_context>\\n  <cwd>{self.cwd}</cwd>\\n  <approval_policy>on-request'
            f'</approval_policy>\\n</environment_context>"}}]}}',
        )
        self.context = rng.randint(6000, 12_000)
        turn = 0
        while self.out.written < self.target or turn == 0:
            self.turn()
            turn += 1
            self.now += timedelta(seconds=rng.lognormvariate(math.log(200), 1.3))

    def turn(self) -> None:
        rng = self.rng
        effort = rng.choice(("low", "medium", "medium", "high"))
        self.item(
            0,
            "turn_context",
            f'{{"cwd":"{self.cwd}","approval_policy":"on-request","sandbox_policy":{{"type":'
            f'"workspace-write","network_access":false,"exclude_tmpdir_env_var":false,'
            f'"exclude_slash_tmp":false}},"model":"{self.model}","effort":"{effort}",'
            f'"summary":"auto"}}',
        )
        prompt = self.pools.prose.take(rng, _lognormal_chars(rng, 300, 1.0, 20_000))
        self.item(
            0.5,
            "response_item",
            f'{{"type":"message","role":"user","content":[{{"type":"input_text","text":'
            f'"{prompt}"}}]}}',
        )
        self.item(0, "event_msg", f'{{"type":"user_message","message":"{prompt}","images":[]}}')
        self.context += _tokens_of(len(prompt))
        steps = min(40, int(rng.expovariate(1 / 7)) + 1)
        for step in range(steps):
            last = step == steps - 1 or (self.out.written >= self.target and step > 0)
            self.step(final=last)
            if last:
                break

    def step(self, final: bool) -> None:
        rng = self.rng
        summary = self.pools.prose.take(rng, _lognormal_chars(rng, 250, 0.8, 3000))
        encrypted = self.pools.noise(rng, rng.randint(800, 8000))
        self.item(
            rng.uniform(2, 30),
            "response_item",
            f'{{"type":"reasoning","summary":[{{"type":"summary_text","text":"{summary}"}}],'
            f'"content":null,"encrypted_content":"gAAAAA{encrypted}"}}',
        )
        self.item(0, "event_msg", f'{{"type":"agent_reasoning","text":"{summary}"}}')
        output_chars = len(summary)
        if final:
            text = self.pools.prose.take(rng, _lognormal_chars(rng, 700, 0.9, 8000))
            self.item(
                0.1,
                "response_item",
                f'{{"type":"message","role":"assistant","content":[{{"type":"output_text",'
                f'"text":"{text}"}}]}}',
            )
            self.item(0, "event_msg", f'{{"type":"agent_message","message":"{text}"}}')
            output_chars += len(text)
        else:
            call_id = f"call_{_b62(rng, 24)}"
            cmd = rng.choice(("rg -n TODO", "ls -la", "pytest -q", "git diff", "cat README.md"))
            self.item(
                0.1,
                "response_item",
                f'{{"type":"function_call","name":"shell","arguments":"{{\\"command\\":'
                f'[\\"bash\\",\\"-lc\\",\\"{cmd}\\"],\\"workdir\\":\\"{self.cwd}\\"}}",'
                f'"call_id":"{call_id}"}}',
            )
        self.token_count(output_chars)
        if not final:
            self.tool_output(call_id)

    def tool_output(self, call_id: str) -> None:
        rng = self.rng
        body = self.pools.shell.take(
            rng, _lognormal_chars(rng, self.tool_median, 1.3, min(300_000, self.target / 3))
        )
        self.item(
            rng.uniform(0.1, 20),
            "response_item",
            f'{{"type":"function_call_output","call_id":"{call_id}","output":"Exit code: 0\\n'
            f'Wall time: {rng.uniform(0.1, 9):.1f} seconds\\nOutput:\\n{body}"}}',
        )
        self.context += _tokens_of(len(body))

    def token_count(self, output_chars: int) -> None:
        rng = self.rng
        output = _tokens_of(output_chars) + rng.randint(20, 400)
        reasoning = int(output * rng.uniform(0.2, 0.8))
        cached = int(self.context * rng.uniform(0.75, 0.98)) // 64 * 64
        if self.total.input == 0:  # the first request of a rollout finds little in the cache
            cached = rng.choice((0, 0, 4096))
        last = CodexUsage(self.context, cached, output, reasoning)
        self.total.input += last.input
        self.total.cached += last.cached
        self.total.output += last.output
        self.total.reasoning += last.reasoning
        event = self.token_event(last)
        self.item(0.05, "event_msg", event)
        self.ledger.request(
            "codex",
            self.session_id,
            input=last.input - last.cached,
            cache_read=last.cached,
            output=last.output,
            reasoning=last.reasoning,
        )
        forced, self.force_traps = self.force_traps, False
        if rng.random() < 0.08 or forced:  # Codex repeats the event; the total did not grow
            self.item(0.01, "event_msg", event)
            self.ledger.traps.codex_repeated_token_counts += 1
        if rng.random() < 0.02 or forced:  # quota update only
            self.item(
                0.01,
                "event_msg",
                f'{{"type":"token_count","info":null,"rate_limits":{self.rate_limits()}}}',
            )
            self.ledger.traps.codex_rate_limit_only_events += 1
        self.context += output
        if self.context > CODEX_AUTO_COMPACT_TOKENS:
            self.compact()

    def compact(self) -> None:
        """Codex summarises the history near the context window and goes on from the summary."""
        summary = self.pools.prose.take(self.rng, self.rng.randint(2000, 8000))
        self.item(1.0, "compacted", f'{{"message":"{summary}"}}')
        self.context = self.rng.randint(8000, 20_000) + _tokens_of(len(summary))

    def token_event(self, last: CodexUsage) -> str:
        return (
            f'{{"type":"token_count","info":{{"total_token_usage":{self.total.json()},'
            f'"last_token_usage":{last.json()},"model_context_window":272000}},'
            f'"rate_limits":{self.rate_limits()}}}'
        )

    def rate_limits(self) -> str:
        rng = self.rng
        return (
            f'{{"primary":{{"used_percent":{rng.uniform(0, 100):.1f},"window_minutes":300,'
            f'"resets_in_seconds":{rng.randint(0, 18000)}}},"secondary":{{"used_percent":'
            f'{rng.uniform(0, 100):.1f},"window_minutes":10080,"resets_in_seconds":'
            f"{rng.randint(0, 604800)}}}}}"
        )


def write_codex(home: Path, pools: Pools, ledger: Ledger, seed: int, size: int, files: int) -> None:
    rng = random.Random(f"codex:{seed}")
    sizes = long_tail_sizes(rng, files, size, max(1, size // 10))
    rng.shuffle(sizes)
    projects = make_projects(rng)
    budget = Budget(size, sum(sizes))
    for index, planned in enumerate(sizes):
        target = budget.target(planned)
        file_rng = random.Random(f"codex:{seed}:{index}")
        start = TIMELINE_START + timedelta(
            days=TIMELINE_DAYS * file_rng.random() ** 0.6, hours=file_rng.uniform(0, 24)
        )
        session_id = _uuid(file_rng)
        path = (
            home
            / ".codex"
            / "sessions"
            / start.strftime("%Y/%m/%d")
            / f"rollout-{start.strftime('%Y-%m-%dT%H-%M-%S')}-{session_id}.jsonl"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        cwd = file_rng.choice(projects[:12]).cwd
        with path.open("w", encoding="utf-8", buffering=MIB) as stream:
            out = ChunkWriter(stream)
            writer = CodexWriter(path, start, target, pools, file_rng, ledger, out, cwd)
            writer.force_traps = index == 0  # every corpus, however small, holds each trap
            writer.write(session_id)
            out.flush()
        budget.spent(out.written)
        ledger.wrote("codex", path, path.stat().st_size)


# --------------------------------------------------------------------------- Gemini CLI


def write_gemini(
    home: Path, pools: Pools, ledger: Ledger, seed: int, size: int, files: int
) -> None:
    """Gemini CLI chats: one pretty-printed JSON document per session (small share)."""
    rng = random.Random(f"gemini:{seed}")
    sizes = long_tail_sizes(rng, files, size, max(1, size // 8))
    projects = make_projects(rng)[:6]
    budget = Budget(size, sum(sizes))
    for index, planned in enumerate(sizes):
        target = budget.target(planned)
        file_rng = random.Random(f"gemini:{seed}:{index}")
        start = TIMELINE_START + timedelta(
            days=TIMELINE_DAYS * file_rng.random() ** 0.5, hours=file_rng.uniform(0, 24)
        )
        project_hash = hashlib.sha256(file_rng.choice(projects).cwd.encode()).hexdigest()
        session_id = _uuid(file_rng)
        truth = ledger.sessions.setdefault(f"gemini:{session_id}", Totals())
        ledger.session_sources[f"gemini:{session_id}"] = "gemini"
        messages, now = gemini_messages(file_rng, pools, start, target, ledger, truth)
        document = {
            "sessionId": session_id,
            "projectHash": project_hash,
            "startTime": _iso(start),
            "lastUpdated": _iso(now),
            "messages": messages,
        }
        path = (
            home
            / ".gemini"
            / "tmp"
            / project_hash
            / "chats"
            / f"session-{start.strftime('%Y-%m-%dT%H-%M')}-{session_id[:8]}.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, indent=2, ensure_ascii=False)
        path.write_text(text, encoding="utf-8")
        budget.spent(len(text))
        ledger.wrote("gemini", path, path.stat().st_size)


def gemini_messages(
    rng: random.Random,
    pools: Pools,
    start: datetime,
    target: int,
    ledger: Ledger,
    session_truth: Totals,
) -> tuple[list[dict[str, Any]], datetime]:
    messages: list[dict[str, Any]] = []
    now, size, context = start, 0, rng.randint(8000, 14_000)
    model = rng.choice(("gemini-2.5-pro", "gemini-2.5-pro", "gemini-2.5-flash"))
    while size < target or not messages:
        prompt = _unescape(pools.prose.take(rng, _lognormal_chars(rng, 300, 1.0, 10_000)))
        messages.append(
            {"id": _uuid(rng), "timestamp": _iso(now), "type": "user", "content": prompt}
        )
        context += _tokens_of(len(prompt))
        now += timedelta(seconds=rng.uniform(3, 40))
        answer = _unescape(pools.prose.take(rng, _lognormal_chars(rng, 900, 1.0, 12_000)))
        result = _unescape(pools.shell.take(rng, _lognormal_chars(rng, 2500, 1.2, 60_000)))
        output = _tokens_of(len(answer))
        thoughts = rng.randint(0, 1200)
        cached = int(context * rng.uniform(0.0, 0.9))
        tokens = {
            "input": context,
            "output": output,
            "cached": cached,
            "thoughts": thoughts,
            "tool": 0,
            "total": context + output + thoughts,
        }
        messages.append(
            {
                "id": _uuid(rng),
                "timestamp": _iso(now),
                "type": "gemini",
                "content": answer,
                "thoughts": [
                    {
                        "subject": _words(rng, 3),
                        "description": _words(rng, 30),
                        "timestamp": _iso(now),
                    }
                ],
                "tokens": tokens,
                "model": model,
                "toolCalls": [
                    {
                        "id": f"run_shell_command-{rng.getrandbits(40)}",
                        "name": "run_shell_command",
                        "args": {"command": "ls -la"},
                        "result": [
                            {
                                "functionResponse": {
                                    "id": "x",
                                    "name": "run_shell_command",
                                    "response": {"output": result},
                                }
                            }
                        ],
                        "status": "success",
                        "timestamp": _iso(now),
                    }
                ],
            }
        )
        buckets = {
            "input": context - cached,
            "cache_read": cached,
            "output": output + thoughts,
            "reasoning": thoughts,
        }
        ledger.truth["gemini"].add(**buckets)
        session_truth.add(**buckets)
        context += output + _tokens_of(len(result))
        if context > GEMINI_COMPRESSION_TOKENS:  # the CLI compresses the history
            context = rng.randint(30_000, 60_000)
        size += len(prompt) + len(answer) + len(result) + 900
        now += timedelta(seconds=rng.lognormvariate(math.log(120), 1.2))
    return messages, now


def _unescape(escaped: str) -> str:
    decoded: str = json.loads(f'"{escaped}"')
    return decoded


# --------------------------------------------------------------------------- the corpus


def generate(out: Path, size_mb: float, seed: int) -> dict[str, Any]:
    """Write ``out/home`` and ``out/manifest.json``; return the manifest."""
    began = time.perf_counter()
    home = out / "home"
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"{home} is not empty: choose another --out or delete it first")
    home.mkdir(parents=True, exist_ok=True)
    total = int(size_mb * MIB)
    scale = size_mb / 1024
    pools = Pools.build(seed, size_mb)
    ledger = Ledger()
    claude_bytes = int(total * CLAUDE_SHARE)
    codex_bytes = int(total * CODEX_SHARE)
    write_claude(
        home, pools, ledger, seed, claude_bytes, max(14, round(CLAUDE_FILES_PER_GIB * scale))
    )
    write_codex(home, pools, ledger, seed, codex_bytes, max(3, round(CODEX_FILES_PER_GIB * scale)))
    write_gemini(
        home,
        pools,
        ledger,
        seed,
        total - claude_bytes - codex_bytes,
        max(2, round(GEMINI_FILES_PER_GIB * scale)),
    )
    manifest = build_manifest(out, ledger, size_mb, seed, time.perf_counter() - began)
    write_manifest(out, manifest)
    return manifest


def build_manifest(
    out: Path, ledger: Ledger, size_mb: float, seed: int, seconds: float
) -> dict[str, Any]:
    return {
        "generator": "bench/generate_corpus.py",
        "manifest_version": MANIFEST_VERSION,
        "seed": seed,
        "size_mb": size_mb,
        "home": str(out / "home"),
        "bytes_total": sum(ledger.bytes.values()),
        "bytes": ledger.bytes,
        "files": ledger.files,
        "files_total": sum(ledger.files.values()),
        "largest_file": {
            "path": ledger.largest[0],
            "bytes": ledger.largest[1],
        },
        "truth": {
            name: totals.as_dict(UNREPORTED_BUCKETS[name]) for name, totals in ledger.truth.items()
        },
        "sessions": session_truth(ledger),
        "resumed_originals": sorted(ledger.resumed_originals),
        "traps": ledger.traps.__dict__,
        "appends": 0,
        "generate_seconds": round(seconds, 2),
    }


def session_truth(ledger: Ledger) -> dict[str, dict[str, Any]]:
    """Per session (tokentrail's key): its source, requests and token buckets."""
    return {
        key: {
            "source": ledger.session_sources[key],
            **totals.as_dict(UNREPORTED_BUCKETS[ledger.session_sources[key]]),
        }
        for key, totals in sorted(ledger.sessions.items())
    }


def read_manifest(corpus: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpus / MANIFEST).read_text(encoding="utf-8"))
    return data


def write_manifest(corpus: Path, manifest: dict[str, Any]) -> None:
    temporary = corpus / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, corpus / MANIFEST)


# --------------------------------------------------------------------------- append mode


@dataclass
class AppendResult:
    files: list[Path]
    requests: int
    bytes: int


def append_turns(corpus: Path, files: int = 10, turns: int = 1) -> AppendResult:
    """Append new assistant turns to ``files`` existing Claude transcripts, as a live agent does.

    Each call picks other files (seeded by the manifest's seed and append count, so runs are
    reproducible) and updates the manifest's truth with the requests it added.
    """
    manifest = read_manifest(corpus)
    count = int(manifest.get("appends", 0))
    rng = random.Random(f"append:{manifest['seed']}:{count}")
    root = corpus / "home" / ".claude" / "projects"
    originals = set(manifest.get("resumed_originals", ()))
    candidates = sorted(p for p in root.glob("*/*.jsonl") if p.stem not in originals)
    if not candidates:
        raise SystemExit(f"no Claude transcripts under {root}")
    chosen = rng.sample(candidates, min(files, len(candidates)))
    pools = Pools.build(manifest["seed"], manifest["size_mb"])
    ledger = Ledger()
    added = 0
    for path in chosen:
        added += append_to_file(path, pools, rng, ledger, turns)
    claude = Totals.from_dict(manifest["truth"]["claude_code"])
    new = ledger.truth["claude_code"]
    for name in Totals.__dataclass_fields__:
        setattr(claude, name, getattr(claude, name) + getattr(new, name))
    manifest["truth"]["claude_code"] = claude.as_dict(UNREPORTED_BUCKETS["claude_code"])
    sessions = manifest.setdefault("sessions", {})
    for key, entry in session_truth(ledger).items():
        known = sessions.get(key)
        if known is None:
            sessions[key] = entry
            continue
        for name, value in entry.items():
            if name != "source" and value is not None:
                known[name] = (known.get(name) or 0) + value
    manifest["appends"] = count + 1
    manifest["bytes"]["claude_code"] = manifest["bytes"].get("claude_code", 0) + added
    manifest["bytes_total"] = manifest["bytes_total"] + added
    write_manifest(corpus, manifest)
    return AppendResult(chosen, new.requests, added)


def append_to_file(path: Path, pools: Pools, rng: random.Random, ledger: Ledger, turns: int) -> int:
    last = last_record(path)
    project = Project(last.get("cwd", "/home/alex/code/app"), path.parent.name, ("main",))
    start = datetime.fromisoformat(last["timestamp"].replace("Z", "+00:00"))
    session = ClaudeSession(
        session_id=last.get("sessionId", path.stem),
        project=project,
        start=start + timedelta(minutes=rng.randint(2, 90)),
        target=APPEND_TARGET_SCALE,
        model=last.get("model") or "claude-sonnet-4-5-20250929",
        version=last.get("version", "2.0.30"),
        branch=last.get("gitBranch", "main"),
        one_hour_cache=False,
        long_context=False,
    )
    before = path.stat().st_size
    with path.open("a", encoding="utf-8", buffering=MIB) as stream:
        out = ChunkWriter(stream)
        writer = ClaudeWriter(session, pools, rng, ledger, out)
        writer.parent_uuid = last.get("uuid")
        for _ in range(turns):
            writer.user_turn()
        out.flush()
    return path.stat().st_size - before


def last_record(path: Path) -> dict[str, Any]:
    """The last line with a timestamp, plus the model of the last assistant line."""
    with path.open("rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, size - 4 * MIB))
        tail = stream.read().splitlines()
    record: dict[str, Any] = {}
    for raw in reversed(tail):
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict):
            continue
        if not record and "timestamp" in line and "sessionId" in line:
            record = dict(line)
        model = (
            (line.get("message") or {}).get("model") if line.get("type") == "assistant" else None
        )
        if record and model and model != "<synthetic>":
            record["model"] = model
            break
    if not record:
        raise SystemExit(f"{path}: no line with a timestamp and sessionId to append after")
    return record


# --------------------------------------------------------------------------- command line


def corpus_bytes(corpus: Path) -> int:
    return sum(p.stat().st_size for p in (corpus / "home").rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--out", type=Path, help="directory to create the corpus in")
    mode.add_argument("--append", type=Path, metavar="DIR", help="append to an existing corpus")
    parser.add_argument("--size-mb", type=float, default=1024, help="corpus size (default 1024)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--files", type=int, default=10, help="files to append to (--append)")
    parser.add_argument("--turns", type=int, default=1, help="user turns per file (--append)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if args.append:
        result = append_turns(args.append, args.files, args.turns)
        print(
            f"appended {result.requests} requests ({result.bytes / 1024:.0f} KiB) to "
            f"{len(result.files)} files in {time.perf_counter() - began:.2f}s"
        )
        return 0
    if args.size_mb <= 0:
        parser.error("--size-mb must be positive")
    manifest = generate(args.out, args.size_mb, args.seed)
    seconds = time.perf_counter() - began
    total = manifest["bytes_total"]
    print(
        f"wrote {manifest['files_total']} files, {total / MIB:.1f} MiB in {seconds:.1f}s "
        f"({total / MIB / seconds:.0f} MiB/s) under {args.out / 'home'}"
    )
    print(f"largest file: {manifest['largest_file']['bytes'] / MIB:.1f} MiB")
    for name, totals in manifest["truth"].items():
        print(f"  {name:12} {totals['requests']:>8} requests {totals['total_tokens']:>16,} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
