"""Incremental sync: find the agents' files, parse only bytes not seen before, in parallel,
and feed the ledger in batches whose cursors commit with their events.

A file's cursor (device, inode, size, mtime, offset of the last complete line, a hash of its
first bytes and of the bytes just before that offset, parser version and parser memory) is
written in the same transaction as the events read from it, so a kill at any moment loses
nothing and the next sync resumes exactly where the last committed batch ended. Repeated
records are merged by the ledger, so re-reading a file from the start (truncated, replaced,
rewritten, parser upgraded) never double counts.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from tokentrail import sync_walk
from tokentrail.agents import agent, all_agents
from tokentrail.config import Config
from tokentrail.errors import StoreError
from tokentrail.ledger import BatchOutcome, Ledger
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.sources.base import Source
from tokentrail.sources.discovery import env_paths
from tokentrail.sources.files import (
    FileKind,
    NotRegularFile,
    ParseResult,
    ParseState,
    SourceFile,
    open_regular,
)
from tokentrail.store.base import Cursor
from tokentrail.usage import Session, Skip, SkipSummary, ToolCall, ToolResult, UsageEvent

HEAD_BYTES = 4096
"""How much of a file's beginning, and of the bytes just before where the last read stopped,
is hashed to notice a file rewritten in place."""

BATCH_EVENTS = 5_000
BATCH_FILES = 200
JOB_BYTES = 16 * 1024 * 1024
"""Small files are parsed in groups of about this many bytes, to keep process overhead low;
each group is recorded in one transaction (or more, past :data:`BATCH_EVENTS`), so larger
groups mean fewer commits, each writing the index pages it touched again (4 MiB groups made
52 commits of a 0.25 GiB corpus, 16 MiB ones about 20). A large sync groups more (see
:func:`job_bytes`)."""
JOB_BYTES_MAX = 4 * JOB_BYTES
INLINE_BYTES = 2 * 1024 * 1024
"""Below this much new data, parsing in the main process beats starting workers."""

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes done, bytes to do) as files are parsed."""


@dataclass(frozen=True, slots=True)
class FileStat:
    device: int
    inode: int
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class FileTask:
    """One file to parse, from where its cursor says (or from the start when ``reset``)."""

    file: SourceFile
    parser_version: int
    stat: FileStat
    state: ParseState
    reset: bool
    machine: str | None = None
    """Stamped on the events in the worker, so the ledger has nothing left to do per event."""

    @property
    def pending_bytes(self) -> int:
        return (
            max(self.stat.size - self.state.offset, 0)
            if self.file.kind == "append"
            else (self.stat.size)
        )


@dataclass(slots=True)
class TaskResult:
    task: FileTask
    result: ParseResult | None
    cursor: Cursor | None
    error: str | None = None


@dataclass(slots=True)
class SyncSummary:
    """What a sync did, for the closing summary."""

    files_found: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_reread: int = 0
    bytes_read: int = 0
    new_events: int = 0
    updated_events: int = 0
    duplicates: int = 0
    new_by_source: dict[str, int] = field(default_factory=dict)
    skips: SkipSummary = field(default_factory=SkipSummary)
    pending_lines: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    searched: list[str] = field(default_factory=list)
    """The folders looked in (for the "nothing found" hint)."""

    def absorb(self, other: SyncSummary) -> None:
        """Add what one job did (in this process or a worker) to this summary."""
        self.files_read += other.files_read
        self.bytes_read += other.bytes_read
        self.new_events += other.new_events
        self.updated_events += other.updated_events
        self.duplicates += other.duplicates
        for name, count in other.new_by_source.items():
            self.new_by_source[name] = self.new_by_source.get(name, 0) + count
        self.skips.absorb(other.skips)
        self.pending_lines.extend(other.pending_lines)
        self.unreadable.extend(other.unreadable)


def source_roots(source: Source, config: Config, env: Mapping[str, str], home: Path) -> list[Path]:
    """Where to look for a source's files: its env override, then config, then its defaults."""
    from_env = env_paths(env, source.env_var)
    if from_env is not None:
        return from_env
    settings = config.source_settings(source.name)
    if settings.paths is not None:
        return list(settings.paths)
    return source.default_roots(env, home)


def enabled_sources(config: Config, names: Sequence[str] = ()) -> list[Source]:
    """The readers of the registered agents the config enables (of ``names``, when given);
    only their modules are imported."""
    return [
        a.source()
        for a in all_agents()
        if config.source_settings(a.name).enabled and (not names or a.name in names)
    ]


def sync(
    ledger: Ledger,
    *,
    source_names: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> SyncSummary:
    """Bring the ledger up to date with every enabled source's files."""
    started = time.perf_counter()
    seen_env = sync_walk.RecordingEnv(os.environ if env is None else env)
    home = Path(seen_env.get("HOME") or Path.home())
    summary = SyncSummary()
    sources = enabled_sources(ledger.config, source_names)
    roots = {source.name: source_roots(source, ledger.config, seen_env, home) for source in sources}
    summary.searched = [str(root) for paths in roots.values() for root in paths]
    with sync_walk.watching() as walk:
        files = [
            (source, file) for source in sources for file in source.discover(roots[source.name])
        ]
    summary.files_found = len(files)
    _record(ledger, files, ledger.store.cursors(), summary, workers, progress)
    if not source_names:
        _keep_walk(ledger, walk, seen_env, sources, files, summary)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def sync_changed(ledger: Ledger, changed: Sequence[tuple[str, str, str]]) -> SyncSummary:
    """Read the files ``changed`` names (path, kind, source): what :func:`sync` reads when
    :func:`tokentrail.sync_walk.changed_files` finds that only they changed since the last
    full sync, with the same cursors, tasks and writes, but neither the discovery walk nor
    the other agents' readers. The last full sync's record stays true (the same files are
    found); ``summary.unreadable`` lists any file that could not be read."""
    started = time.perf_counter()
    summary = SyncSummary()
    files = [
        (_source_named(source), SourceFile(source, path, cast("FileKind", kind)))
        for path, kind, source in changed
    ]
    _record(ledger, files, ledger.store.cursors([file.path for _, file in files]), summary)
    summary.elapsed_s = time.perf_counter() - started
    return summary


def _record(
    ledger: Ledger,
    files: Sequence[tuple[Source, SourceFile]],
    cursors: Mapping[str, Cursor],
    summary: SyncSummary,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> None:
    """Read what is new in ``files`` past their ``cursors`` and record it, into ``summary``."""
    tasks = plan_tasks(files, cursors, summary, machine=ledger.machine)
    total_bytes = sum(task.pending_bytes for task in tasks)
    done_bytes = 0
    for job_bytes, outcome in _run_jobs(ledger, tasks, workers, total_bytes):
        summary.absorb(outcome)
        done_bytes += job_bytes
        if progress is not None:
            progress(done_bytes, total_bytes)


def _keep_walk(
    ledger: Ledger,
    walk: sync_walk.WalkLog,
    env: sync_walk.RecordingEnv,
    sources: Sequence[Source],
    files: Sequence[tuple[Source, SourceFile]],
    summary: SyncSummary,
) -> None:
    """Keep what this sync saw, for the quick answer of the next one when nothing changed
    (:mod:`tokentrail.sync_walk`); a sync that could not read everything keeps none, so the
    next one looks again. Written after the last cursors: a sync killed before leaves the
    previous record, which stays sound (the cursors are checked live)."""
    record = None
    if not summary.unreadable:
        record = sync_walk.make_record(
            log=walk,
            env=env,
            sources=ledger.config.sources,
            searched=summary.searched,
            files=[(file.path, file.kind, source.name) for source, file in files],
            parsers={source.name: source.parser_version for source in sources},
        )
    try:
        if ledger.store.walk_record() != record:
            ledger.store.keep_walk_record(record)
    except StoreError:
        pass  # busy past its timeout, read-only, full: the next sync walks again


def plan_tasks(
    files: Iterable[tuple[Source, SourceFile]],
    cursors: Mapping[str, Cursor],
    summary: SyncSummary,
    machine: str | None = None,
) -> list[FileTask]:
    """Decide, from a stat and the cursor, which files need reading and from where."""
    tasks: list[FileTask] = []
    for source, file in files:
        if file.problem is not None:
            summary.unreadable.append(f"{file.path}: {file.problem}")
            continue
        try:
            stat = stat_file(file)
        except OSError as exc:
            summary.unreadable.append(f"{file.path}: {exc.strerror or exc}")
            continue
        cursor = cursors.get(file.path)
        if cursor is not None and _unchanged(source, stat, cursor):
            # the usual case of a re-sync, for almost every file: decided from the stat alone
            summary.files_unchanged += 1
            continue
        task = _task_for(source, file, stat, cursor)
        if task is not None and machine is not None:
            task = replace(task, machine=machine)
        if task is None:
            summary.files_unchanged += 1
        else:
            tasks.append(task)
            summary.files_reread += int(task.reset and cursor is not None)
    return tasks


def _unchanged(source: Source, stat: FileStat, cursor: Cursor) -> bool:
    return (
        cursor.parser_version == source.parser_version
        and cursor.size == stat.size
        and cursor.mtime_ns == stat.mtime_ns
        and cursor.inode == stat.inode
        and cursor.device == stat.device
    )


def _task_for(
    source: Source, file: SourceFile, stat: FileStat, cursor: Cursor | None
) -> FileTask | None:
    fresh = FileTask(file, source.parser_version, stat, ParseState(), reset=True)
    if file.kind == "whole" and cursor is not None:
        # A document is re-read from its start, but its parser's memory is kept, even across
        # parser versions: it records what was already counted (a cumulative snapshot's last
        # totals, see sources/mux.py), which no re-read of the document can tell again.
        fresh = replace(fresh, state=ParseState(memory=dict(cursor.memory)))
    if cursor is None or cursor.parser_version != source.parser_version:
        return fresh
    if _unchanged(source, stat, cursor):
        return None
    state = ParseState(cursor.offset, cursor.line_no, dict(cursor.memory))
    if file.kind == "database":
        return FileTask(file, source.parser_version, stat, state, reset=False)
    if file.kind == "whole":
        return fresh
    same_file = (cursor.device, cursor.inode) == (stat.device, stat.inode)
    if (
        not same_file
        or stat.size < cursor.offset
        or not _same_prefix(file.path, cursor.offset, cursor.head_hash)
    ):
        return fresh  # replaced, truncated or rewritten: read again, the ledger dedupes
    return FileTask(file, source.parser_version, stat, state, reset=False)


def stat_file(file: SourceFile) -> FileStat:
    # SQLite in WAL mode changes the -wal file first: counted as part of the database
    return FileStat(*sync_walk.file_stat(file.path, file.kind))


def head_hash(path: str, length: int) -> str:
    """What the cursor keeps of the first ``length`` bytes, to notice them rewritten: a hash
    of the first :data:`HEAD_BYTES`, then (past them) ``:`` and a hash of the
    :data:`HEAD_BYTES` just before ``length``, where a rewrite that keeps the head but
    changes what was read shows; "" when unreadable."""
    try:
        with open_regular(path) as handle:
            head = handle.read(min(length, HEAD_BYTES))
            if length <= HEAD_BYTES:
                return _digest(head)
            start = max(length - HEAD_BYTES, HEAD_BYTES)
            handle.seek(start)
            return f"{_digest(head)}:{_digest(handle.read(length - start))}"
    except OSError:
        return ""


def _same_prefix(path: str, length: int, stored: str) -> bool:
    now = head_hash(path, length)
    if ":" not in stored:
        # a cursor written before the bytes before the offset were hashed too: compare the
        # head only, rather than read every file again after an upgrade
        now = now.partition(":")[0]
    return now == stored


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# -- parsing ------------------------------------------------------------------------------


def parse_task(task: FileTask) -> TaskResult:
    """Parse one file (runs in a worker process). Never raises for bad input."""
    source = _source_named(task.file.source)
    try:
        result = source.parse(task.file, task.state)
    except NotRegularFile as exc:
        # a FIFO or a device is not a log: say so once, and again only if it changes
        skip = Skip("not_a_regular_file", task.file.path, None, exc.kind)
        result = ParseResult(skips=[skip], state=task.state)
    except OSError as exc:
        # unreadable (permission, I/O error, gone): no cursor is written, so the next sync
        # reports it again and reads it once it can
        return TaskResult(task, None, None, f"{task.file.path}: {exc.strerror or exc}")
    except Exception as exc:  # a parser bug must not stop the sync; it is reported
        return TaskResult(task, None, None, f"{task.file.path}: parser error {exc!r}")
    if task.machine is not None:
        result.events = [
            e if e.machine is not None else e.evolve(machine=task.machine) for e in result.events
        ]
    cursor = Cursor(
        path=task.file.path,
        source=task.file.source,
        device=task.stat.device,
        inode=task.stat.inode,
        # a source that must look again next time gets a stat that can never match
        size=-1 if result.retry else task.stat.size,
        mtime_ns=task.stat.mtime_ns,
        offset=result.state.offset,
        line_no=result.state.line_no,
        parser_version=task.parser_version,
        head_hash=head_hash(task.file.path, result.state.offset)
        if task.file.kind == "append"
        else "",
        memory=result.state.memory,
    )
    return TaskResult(task, result, cursor)


_SOURCES_BY_NAME: dict[str, Source] = {}


def _source_named(name: str) -> Source:
    if name not in _SOURCES_BY_NAME:
        _SOURCES_BY_NAME[name] = agent(name).source()
    return _SOURCES_BY_NAME[name]


def _run_jobs(
    ledger: Ledger, tasks: Sequence[FileTask], workers: int | None, total_bytes: int
) -> Iterator[tuple[int, SyncSummary]]:
    """Parse and record every job; yield each job's size and what it did.

    In parallel, each worker process parses its files *and* records them through its own
    connection to the ledger, one transaction per batch: parsing, pricing and building rows
    all run on every core, and only the short writes take turns on the ledger's lock. Two
    workers recording the same request (a resumed session's copy) merge like two syncs do.
    """
    workers = workers if workers is not None else (os.cpu_count() or 1)
    jobs = _jobs_by_size(tasks, job_bytes(total_bytes, workers))
    in_memory = ledger.database == ":memory:"
    if workers <= 1 or len(jobs) <= 1 or total_bytes < INLINE_BYTES or in_memory:
        for job in jobs:
            yield _job_bytes(job), run_job(ledger, job)
        return
    # imported here: they cost more than a statusline's whole answer, and most syncs are small
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tokentrail.sync_workers import open_worker_ledger, run_job_in_worker

    context = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    # Workers take turns on this lock before writing: it wakes the next writer at once,
    # where SQLite's own busy handler would poll with sleeps of up to 100 ms.
    write_turn = context.Lock()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=open_worker_ledger,
        initargs=(ledger.database, ledger.config, ledger.machine, write_turn, os.getpid()),
    ) as pool:
        futures = {pool.submit(run_job_in_worker, job): _job_bytes(job) for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()


def run_job(
    ledger: Ledger, tasks: Sequence[FileTask], write_turn: AbstractContextManager[Any] | None = None
) -> SyncSummary:
    """Parse a group of files and record them, committing every :data:`BATCH_EVENTS`."""
    summary = SyncSummary()
    batch = _Batch()
    turn = write_turn if write_turn is not None else nullcontext()
    for task in tasks:
        _absorb(parse_task(task), summary, batch)
        if batch.is_full():
            with turn:
                _commit(ledger, batch, summary)
            batch = _Batch()
    with turn:
        _commit(ledger, batch, summary)
    return summary


def _job_bytes(job: Sequence[FileTask]) -> int:
    return sum(task.pending_bytes for task in job)


def job_bytes(total_bytes: int, workers: int) -> int:
    """How many bytes of small files one job groups: :data:`JOB_BYTES`, and more for a large
    sync, up to :data:`JOB_BYTES_MAX`, while each worker still has eight jobs or more (the
    last job decides when the sync ends). Each job commits at least once, and each commit
    rewrites every index page it touches: the more rows a ledger holds, the more pages a
    commit of the same size touches."""
    return max(JOB_BYTES, min(JOB_BYTES_MAX, total_bytes // (max(workers, 1) * 8)))


def _jobs_by_size(tasks: Sequence[FileTask], group_bytes: int) -> list[list[FileTask]]:
    """Big files alone, small ones grouped; biggest first so no worker is left with a giant."""
    ordered = sorted(tasks, key=lambda t: t.pending_bytes, reverse=True)
    jobs: list[list[FileTask]] = []
    current: list[FileTask] = []
    current_bytes = 0
    for task in ordered:
        if task.pending_bytes >= group_bytes:
            jobs.append([task])
            continue
        current.append(task)
        current_bytes += task.pending_bytes
        if current_bytes >= group_bytes:
            jobs.append(current)
            current, current_bytes = [], 0
    if current:
        jobs.append(current)
    return jobs


# -- committing ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Batch:
    events: list[UsageEvent] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    cursors: list[Cursor] = field(default_factory=list)
    rate_limits: list[RateLimitSnapshot] = field(default_factory=list)
    tool_calls: list[ToolCall | ToolResult] = field(default_factory=list)

    def is_full(self) -> bool:
        return len(self.events) >= BATCH_EVENTS or len(self.cursors) >= BATCH_FILES


def _absorb(outcome: TaskResult, summary: SyncSummary, batch: _Batch) -> None:
    if outcome.result is None or outcome.cursor is None:
        summary.unreadable.append(outcome.error or outcome.task.file.path)
        return
    result = outcome.result
    summary.files_read += 1
    summary.bytes_read += outcome.task.pending_bytes
    summary.duplicates += result.duplicates
    for skip in result.skips:
        summary.skips.add(skip)
    if result.pending_partial_line:
        summary.pending_lines.append(f"{outcome.task.file.path}:{result.state.line_no + 1}")
    batch.events.extend(result.events)
    batch.sessions.extend(result.sessions)
    batch.rate_limits.extend(result.rate_limits)
    batch.tool_calls.extend(result.tool_calls)
    batch.cursors.append(outcome.cursor)


def _commit(ledger: Ledger, batch: _Batch, summary: SyncSummary) -> None:
    if not batch.cursors:
        return
    outcome: BatchOutcome = ledger.record_batch(
        batch.events,
        batch.sessions,
        batch.cursors,
        rate_limits=batch.rate_limits,
        tool_calls=batch.tool_calls,
    )
    summary.new_events += outcome.created
    summary.updated_events += outcome.updated
    summary.duplicates += outcome.duplicates
    for name, count in outcome.created_by_source.items():
        summary.new_by_source[name] = summary.new_by_source.get(name, 0) + count
