"""Sync benchmark: tokentrail against the fastest peer on a generated heavy-user corpus.

    python bench/sync_bench.py [--corpus DIR] [--size-mb 1024] [--keep] [--skip-peer]

Generates the corpus if it is missing (bench/generate_corpus.py), then runs tokentrail as a
user would, as a subprocess with ``HOME=<corpus>/home`` and a fresh ledger, and prints:

* cold ``tokentrail sync --quiet``: seconds, MB/s, peak RSS of the process tree (sampled from
  /proc every ~20 ms) and of the largest single process;
* no-change re-sync, and re-sync after appending turns to 10 transcripts;
* ``tokentrail daily --no-sync --json`` (best of 5) and the totals it reports, per source,
  next to the generator's ground truth;
* every session's requests and tokens in the ledger against the generator's per-session
  truth (resumed sessions, advisor calls, subagents): sessions off, missing, extra;
* ``ccusage daily --json --offline`` (npm, pinned version) on the same corpus: best of 3,
  the speed ratios, and its Claude totals next to tokentrail's and the truth.

Results are also written as JSON to bench/out/. Exit status: 1 if tokentrail failed, 2 with
``--strict`` if a target was missed, else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import generate_corpus as corpus_gen

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CORPUS = BENCH_DIR / "corpus"
OUT_DIR = BENCH_DIR / "out"
PEER_DIR = BENCH_DIR / ".peer"
PEER_VERSION = "20.0.24"
PEER_PACKAGES = (f"ccusage@{PEER_VERSION}", f"@ccusage/ccusage-linux-x64@{PEER_VERSION}")
PEER_BIN = PEER_DIR / "node_modules" / ".bin" / "ccusage"

MB = 1_000_000
SAMPLE_INTERVAL = 0.02
# issue 14's targets: the cold sync no slower than the peer's full read in the same run, with
# at most twice its CPU time; answers from the ledger in milliseconds
TARGET_COLD_OVER_PEER = 1.0
TARGET_CPU_OVER_PEER = 2.0
TARGET_RESYNC_S = 0.1
TARGET_APPEND_RESYNC_S = 0.15
TARGET_DAILY_S = 0.06
TARGET_PEAK_RSS_MB = 250.0
SOURCES = ("claude_code", "codex", "gemini")
ENV_REMOVED = (
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    # a user's Python keeps its bytecode cache: without it every run compiles every module
    "PYTHONDONTWRITEBYTECODE",
)
# token buckets as (label, tokentrail totals key, ccusage totals key, manifest truth key)
BUCKETS = (
    ("requests", "requests", None, "requests"),
    ("input (uncached)", "input_tokens", "inputTokens", "input_tokens"),
    ("cache read", "cache_read_tokens", "cacheReadTokens", "cache_read_tokens"),
    ("cache write", "cache_write_tokens", "cacheCreationTokens", "cache_write_tokens"),
    ("output", "output_tokens", "outputTokens", "output_tokens"),
    ("  of which reasoning", "reasoning_tokens", None, "reasoning_tokens"),
    ("total tokens", "total_tokens", "totalTokens", "total_tokens"),
    ("cost (USD)", "cost_usd", "totalCost", None),
    ("unpriced requests", "unpriced_requests", None, None),
)


# --------------------------------------------------------------------------- measuring


def _page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


def _children_supported() -> bool:
    return Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def _rss_bytes(pid: int, page: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as stream:
            return int(stream.read().split()[1]) * page
    except (OSError, IndexError, ValueError):
        return 0  # the process ended between listing and reading


def _tree_pids(root: int, use_children_files: bool) -> list[int]:
    """The root and all its descendants, found through /proc."""
    if use_children_files:
        pids, queue = [], [root]
        while queue:
            pid = queue.pop()
            pids.append(pid)
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children", "rb") as stream:
                        queue.extend(int(child) for child in stream.read().split())
            except OSError:
                continue
        return pids
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(parents.get(pid, ()))
    return found


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every ~20 ms; keeps the peak sum and peak single."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.page = _page_size()
        self.children_files = _children_supported()
        self.done = threading.Event()
        self.peak_tree = 0
        self.peak_single = 0
        self.max_processes = 0
        self.samples = 0

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(SAMPLE_INTERVAL)

    def sample(self) -> None:
        sizes = [_rss_bytes(pid, self.page) for pid in _tree_pids(self.root, self.children_files)]
        self.samples += 1
        self.peak_tree = max(self.peak_tree, sum(sizes))
        self.peak_single = max(self.peak_single, max(sizes, default=0))
        self.max_processes = max(self.max_processes, sum(1 for size in sizes if size))

    def stop(self) -> None:
        self.done.set()
        self.join()


@dataclass
class Run:
    """One finished command."""

    argv: list[str]
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_tree_rss: int | None = None
    peak_single_rss: int | None = None
    kernel_max_rss: int | None = None  # wait4 ru_maxrss: the largest process of the tree
    processes: int | None = None
    cpu_s: float | None = None
    """User + system CPU seconds of the process and the children it waited for (wait4)."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        tail = (self.stderr.strip() or self.stdout.strip()).splitlines()[-6:]
        return f"`{' '.join(self.argv)}` exited {self.returncode}:\n    " + "\n    ".join(tail)


def run_command(argv: Sequence[str], env: dict[str, str], sample_memory: bool = False) -> Run:
    """Run a command to completion; with ``sample_memory``, watch its process tree's RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        try:
            process = subprocess.Popen(list(argv), env=env, stdout=out, stderr=err)
        except OSError as error:
            return Run(list(argv), 0.0, 127, "", str(error))
        sampler = TreeSampler(process.pid) if sample_memory else None
        if sampler:
            sampler.start()
        # wait4 instead of Popen.wait: it also returns the tree's largest RSS from the kernel
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stop()
        out.seek(0)
        err.seek(0)
        run = Run(
            list(argv),
            seconds,
            process.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            cpu_s=usage.ru_utime + usage.ru_stime,
        )
    if sampler:
        run.peak_tree_rss = sampler.peak_tree
        run.peak_single_rss = sampler.peak_single
        run.processes = sampler.max_processes
        run.kernel_max_rss = usage.ru_maxrss * 1024  # Linux reports KiB
    return run


def repeat(times: int, make_run: Callable[[], Run]) -> list[Run]:
    """Run up to ``times``; stop at the first failure (it would fail the same way again)."""
    runs: list[Run] = []
    for _ in range(times):
        runs.append(make_run())
        if not runs[-1].ok:
            break
    return runs


def best(runs: Sequence[Run]) -> float | None:
    good = [run.seconds for run in runs if run.ok]
    return min(good) if good else None


def least_cpu(runs: Sequence[Run]) -> float | None:
    good = [run.cpu_s for run in runs if run.ok and run.cpu_s is not None]
    return min(good) if good else None


def median(runs: Sequence[Run]) -> float | None:
    good = [run.seconds for run in runs if run.ok]
    return statistics.median(good) if good else None


# --------------------------------------------------------------------------- the corpus


def ensure_corpus(corpus: Path, size_mb: float | None, seed: int, regenerate: bool) -> None:
    manifest = corpus / corpus_gen.MANIFEST
    if manifest.exists() and not regenerate:
        existing = corpus_gen.read_manifest(corpus)
        if size_mb is not None and abs(existing["size_mb"] - size_mb) > 1e-9:
            raise SystemExit(
                f"{corpus} holds a {existing['size_mb']} MB corpus, not {size_mb} MB: "
                "pass --regenerate to replace it, or another --corpus"
            )
        return
    if regenerate and (corpus / "home").exists():
        shutil.rmtree(corpus / "home")
    size = 1024.0 if size_mb is None else size_mb
    print(f"generating a {size:g} MB corpus in {corpus} (seed {seed}) ...", flush=True)
    began = time.perf_counter()
    corpus_gen.generate(corpus, size, seed)
    print(f"  done in {time.perf_counter() - began:.1f} s", flush=True)


def corpus_stats(home: Path) -> tuple[int, int]:
    files = [p for p in home.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def warm_page_cache(home: Path) -> float:
    """Read every file once so tokentrail and the peer both start from a warm page cache."""
    began = time.perf_counter()
    for path in home.rglob("*"):
        if path.is_file():
            with path.open("rb") as stream:
                while stream.read(8 * 1024 * 1024):
                    pass
    return time.perf_counter() - began


# --------------------------------------------------------------------------- the commands


def find_tokentrail() -> str | None:
    """The tokentrail next to this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "tokentrail"
    if beside.exists():
        return str(beside)
    return shutil.which("tokentrail")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_REMOVED}
    env.update(HOME=str(home), NO_COLOR="1", TERM="dumb")
    return env


def tokentrail_env(home: Path, workdir: Path) -> dict[str, str]:
    env = clean_env(home)
    env["TOKENTRAIL_DB"] = str(workdir / "ledger.db")
    env["TOKENTRAIL_CONFIG"] = str(workdir / "absent.toml")
    return env


def peer_env(home: Path) -> dict[str, str]:
    env = clean_env(home)
    env["CLAUDE_CONFIG_DIR"] = str(home / ".claude")
    return env


def ensure_peer() -> tuple[Path | None, str]:
    """The ccusage binary, installed into bench/.peer with npm when missing."""
    if PEER_BIN.exists():
        return PEER_BIN, "installed"
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm is not on PATH"
    print(f"installing {' '.join(PEER_PACKAGES)} into {PEER_DIR} ...", flush=True)
    try:
        done = subprocess.run(
            [npm, "install", "--prefix", str(PEER_DIR), *PEER_PACKAGES],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"npm install failed: {error}"
    if done.returncode != 0 or not PEER_BIN.exists():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return None, f"npm install failed (exit {done.returncode}): {tail}"
    return PEER_BIN, "installed now"


def parse_json(run: Run) -> dict[str, Any] | None:
    if not run.ok:
        return None
    try:
        data = json.loads(run.stdout)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- the benchmark


@dataclass
class Report:
    """Every figure measured, for printing and for bench/out/*.json."""

    corpus: str
    corpus_files: int
    corpus_bytes: int
    machine: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def machine_info() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def bench_tokentrail(
    report: Report, exe: str, corpus: Path, workdir: Path, append_files: int, cold_runs: int = 1
) -> bool:
    home = corpus / "home"
    env = tokentrail_env(home, workdir)
    probe = run_command([exe, "sync", "--help"], env)
    if not probe.ok:
        report.problems.append("tokentrail CLI is not usable yet: " + probe.failure())
        return False
    figures = report.figures

    colds: list[Run] = []
    for _ in range(max(1, cold_runs)):
        for stale in workdir.glob("ledger.db*"):
            stale.unlink()  # every cold sync starts from an empty ledger
        # and, as a new user's first sync, with no rate card kept from an earlier run
        shutil.rmtree(home / ".cache" / "tokentrail", ignore_errors=True)
        colds.append(run_command([exe, "sync", "--quiet"], env, sample_memory=True))
        if not colds[-1].ok:
            report.problems.append("cold sync failed: " + colds[-1].failure())
            return False
    cold = min(colds, key=lambda run: run.seconds)
    figures["cold_sync_s"] = cold.seconds
    figures["cold_sync_runs_s"] = [run.seconds for run in colds]
    figures["cold_sync_cpu_s"] = least_cpu(colds)
    figures["cold_sync_mb_per_s"] = report.corpus_bytes / MB / cold.seconds
    figures["peak_tree_rss_mb"] = (cold.peak_tree_rss or 0) / MB
    figures["peak_single_rss_mb"] = (cold.peak_single_rss or 0) / MB
    figures["kernel_max_rss_mb"] = (cold.kernel_max_rss or 0) / MB
    figures["sync_processes"] = cold.processes

    resyncs = repeat(3, lambda: run_command([exe, "sync", "--quiet"], env))
    figures["resync_best_s"], figures["resync_median_s"] = best(resyncs), median(resyncs)
    report.problems.extend("re-sync failed: " + r.failure() for r in resyncs if not r.ok)

    appended: list[Run] = []
    added = 0
    for _ in range(3):
        result = corpus_gen.append_turns(corpus, files=append_files)
        added += result.requests
        appended.append(run_command([exe, "sync", "--quiet"], env))
        if not appended[-1].ok:
            report.problems.append("re-sync after append failed: " + appended[-1].failure())
            break
    figures["append_resync_best_s"], figures["append_resync_median_s"] = (
        best(appended),
        median(appended),
    )
    figures["appended_requests"] = added

    dailies = repeat(5, lambda: run_command([exe, "daily", "--no-sync", "--json"], env))
    figures["daily_best_s"], figures["daily_median_s"] = best(dailies), median(dailies)
    daily = parse_json(dailies[-1])
    if daily is None:
        report.problems.append(
            "daily --no-sync --json gave no JSON object: " + dailies[-1].failure()
            if not dailies[-1].ok
            else "daily --no-sync --json printed something that is not a JSON object"
        )
    else:
        report.totals["tokentrail_all"] = daily.get("totals")
        report.totals["tokentrail_unpriced_models"] = daily.get("unpriced_models")
        report.totals["tokentrail_timezone"] = daily.get("timezone")
    for source in SOURCES:
        run = run_command([exe, "daily", "--no-sync", "--json", "--source", source], env)
        data = parse_json(run)
        report.totals[f"tokentrail_{source}"] = data.get("totals") if data else None
        if data is None:
            report.problems.append(f"daily --source {source}: " + run.failure())

    python = run_command([sys.executable, "-c", "pass"], env)
    imports = run_command([sys.executable, "-c", "import tokentrail.cli"], env)
    figures["python_start_s"] = python.seconds if python.ok else None
    figures["import_cli_s"] = imports.seconds if imports.ok else None
    return True


def session_truth_check(report: Report, corpus: Path, workdir: Path) -> None:
    """Every session's requests and tokens in the ledger against the generator's per-session
    truth (resumed sessions keep only their own requests, advisor calls count in their
    session): how many sessions are off, missing, or not in the truth."""
    from tokentrail.ledger import open_store
    from tokentrail.store.base import Filters

    truth: dict[str, dict[str, Any]] = corpus_gen.read_manifest(corpus).get("sessions") or {}
    if not truth:
        report.notes.append("the corpus manifest has no per-session truth: regenerate it")
        return
    store = open_store(str(workdir / "ledger.db"))
    try:
        rows = store.session_totals(Filters(), by_model=False)
    finally:
        store.close()
    got = {
        r.session.key: (
            r.totals.requests,
            r.totals.input
            + r.totals.cache_read
            + r.totals.cache_write_5m
            + r.totals.cache_write_1h
            + r.totals.output,
        )
        for r in rows
        if r.totals.requests
    }
    off = [k for k, t in truth.items() if k in got and got[k] != (t["requests"], t["total_tokens"])]
    missing = [k for k in truth if k not in got]
    extra = [k for k in got if k not in truth]
    report.figures.update(
        sessions_in_truth=len(truth),
        sessions_off=len(off),
        sessions_missing=len(missing),
        sessions_not_in_truth=len(extra),
    )
    if off or missing or extra:
        report.problems.append(
            f"per-session truth: {len(off)} sessions off (e.g. {off[:3]}), {len(missing)} "
            f"missing (e.g. {missing[:3]}), {len(extra)} not in the truth (e.g. {extra[:3]})"
        )


def bench_peer(report: Report, corpus: Path, runs: int) -> None:
    peer, how = ensure_peer()
    if peer is None:
        report.notes.append(f"peer skipped: {how}")
        return
    env = peer_env(corpus / "home")
    argv = [str(peer), "daily", "--json", "--offline"]
    first = run_command(argv, env, sample_memory=True)
    timed = [first, *repeat(runs - 1, lambda: run_command(argv, env))] if first.ok else [first]
    if not first.ok:
        report.notes.append("peer skipped: " + first.failure())
        return
    figures = report.figures
    figures["peer"] = f"ccusage {PEER_VERSION}"
    figures["peer_best_s"], figures["peer_median_s"] = best(timed), median(timed)
    figures["peer_cpu_s"] = least_cpu(timed)
    figures["peer_peak_tree_rss_mb"] = (first.peak_tree_rss or 0) / MB
    all_agents = parse_json(timed[-1])
    report.totals["peer_all"] = all_agents.get("totals") if all_agents else None
    claude = run_command([str(peer), "claude", "daily", "--json", "--offline"], env)
    figures["peer_claude_only_s"] = claude.seconds if claude.ok else None
    claude_data = parse_json(claude)
    report.totals["peer_claude_code"] = claude_data.get("totals") if claude_data else None


def compare_ratios(report: Report) -> None:
    figures = report.figures
    peer, cold, resync = (
        figures.get("peer_best_s"),
        figures.get("cold_sync_s"),
        figures.get("resync_best_s"),
    )
    if peer and cold:
        figures["ratio_cold_over_peer"] = cold / peer
    if figures.get("peer_cpu_s") and figures.get("cold_sync_cpu_s"):
        figures["ratio_cpu_over_peer"] = figures["cold_sync_cpu_s"] / figures["peer_cpu_s"]
    if peer and resync:
        figures["ratio_peer_over_resync"] = peer / resync


# --------------------------------------------------------------------------- printing


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} MB"


def _verdict(value: float | None, limit: float, strict_less: bool) -> str:
    if value is None:
        return ""
    met = value < limit if strict_less else value <= limit
    return "ok" if met else "MISSED"


def performance_rows(report: Report) -> list[tuple[str, str, str, str]]:
    f = report.figures
    rows = [
        (
            "cold sync (tokentrail sync --quiet), best",
            _seconds(f.get("cold_sync_s")),
            "<= peer",
            "",
        ),
        (
            "  CPU (user + system, all processes)",
            _seconds(f.get("cold_sync_cpu_s")),
            f"<= {TARGET_CPU_OVER_PEER:g}x peer",
            "",
        ),
        (
            "  throughput (corpus bytes / time)",
            f"{f['cold_sync_mb_per_s']:.0f} MB/s" if "cold_sync_mb_per_s" in f else "n/a",
            "",
            "",
        ),
        (
            "  peak RSS, process tree (sum)",
            _mb(f.get("peak_tree_rss_mb")),
            f"<= {TARGET_PEAK_RSS_MB:g} MB",
            _verdict(f.get("peak_tree_rss_mb"), TARGET_PEAK_RSS_MB, False),
        ),
        (
            "  peak RSS, largest process (sampled / kernel)",
            f"{_mb(f.get('peak_single_rss_mb'))} / {_mb(f.get('kernel_max_rss_mb'))}",
            "",
            f"{f.get('sync_processes') or '?'} process(es)",
        ),
        (
            "no-change re-sync (best / median of 3)",
            f"{_seconds(f.get('resync_best_s'))} / {_seconds(f.get('resync_median_s'))}",
            f"<= {TARGET_RESYNC_S:g} s",
            _verdict(f.get("resync_best_s"), TARGET_RESYNC_S, False),
        ),
        (
            "re-sync after appending to 10 files (best / median of 3)",
            f"{_seconds(f.get('append_resync_best_s'))} / "
            f"{_seconds(f.get('append_resync_median_s'))}",
            f"<= {TARGET_APPEND_RESYNC_S:g} s",
            _verdict(f.get("append_resync_best_s"), TARGET_APPEND_RESYNC_S, False),
        ),
        (
            "daily --no-sync --json (best / median of 5)",
            f"{_seconds(f.get('daily_best_s'))} / {_seconds(f.get('daily_median_s'))}",
            f"<= {TARGET_DAILY_S:g} s",
            _verdict(f.get("daily_best_s"), TARGET_DAILY_S, False),
        ),
        (
            "  of which: python start / import tokentrail.cli",
            f"{_seconds(f.get('python_start_s'))} / {_seconds(f.get('import_cli_s'))}",
            "",
            "",
        ),
    ]
    if "peer_best_s" in f:
        rows += [
            (
                f"{f['peer']}: daily --json --offline (best / median of 3)",
                f"{_seconds(f['peer_best_s'])} / {_seconds(f['peer_median_s'])}",
                "",
                f"peak RSS {_mb(f.get('peer_peak_tree_rss_mb'))}",
            ),
            (
                "  CPU (user + system), least of the runs",
                _seconds(f.get("peer_cpu_s")),
                "",
                "",
            ),
            (
                "  ccusage claude daily --json --offline",
                _seconds(f.get("peer_claude_only_s")),
                "",
                "",
            ),
            (
                "ratio tokentrail cold / ccusage (<1: tokentrail faster)",
                f"{f['ratio_cold_over_peer']:.2f}x" if "ratio_cold_over_peer" in f else "n/a",
                f"<= {TARGET_COLD_OVER_PEER:g}",
                _verdict(f.get("ratio_cold_over_peer"), TARGET_COLD_OVER_PEER, False),
            ),
            (
                "ratio tokentrail cold CPU / ccusage CPU",
                f"{f['ratio_cpu_over_peer']:.2f}x" if "ratio_cpu_over_peer" in f else "n/a",
                f"<= {TARGET_CPU_OVER_PEER:g}",
                _verdict(f.get("ratio_cpu_over_peer"), TARGET_CPU_OVER_PEER, False),
            ),
            (
                "ratio ccusage / tokentrail re-sync",
                f"{f['ratio_peer_over_resync']:.1f}x" if "ratio_peer_over_resync" in f else "n/a",
                "",
                "",
            ),
        ]
    return rows


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _against(value: Any, truth: Any) -> str:
    """The value, marked against the truth: '=' when equal, else the signed difference."""
    text = _number(value)
    if value is None or truth is None:
        return text
    if value == truth:
        return f"{text} ="
    delta = value - truth
    share = f" {delta / truth:+.1%}" if truth else ""
    return f"{text} ({delta:+,}{share})"


def count_table(
    title: str,
    truth: dict[str, Any] | None,
    ours: dict[str, Any] | None,
    peer: dict[str, Any] | None,
) -> list[str]:
    with_peer = peer is not None
    header = f"{title:<22}{'truth':>20}  {'tokentrail':<32}" + ("ccusage" if with_peer else "")
    lines = [header, "-" * len(header.rstrip())]
    for label, ours_key, peer_key, truth_key in BUCKETS:
        expected = truth.get(truth_key) if truth and truth_key else None
        mine = ours.get(ours_key) if ours else None
        theirs = peer.get(peer_key) if peer and peer_key else None
        if expected is None and mine is None and theirs is None:
            continue
        line = f"{label:<22}{_number(expected):>20}  {_against(mine, expected):<32}"
        if with_peer:
            line += _against(theirs, expected) if peer_key else "—"
        lines.append(line)
    return lines


def print_report(report: Report) -> None:
    print()
    print(
        f"tokentrail sync benchmark — {report.corpus}: {report.corpus_bytes / MB:,.0f} MB in "
        f"{report.corpus_files:,} files; {report.machine['cpus']} CPUs "
        f"({report.machine['cpu'] or 'unknown CPU'}), Python {report.machine['python']}"
    )
    print()
    rows = performance_rows(report)
    width = max(len(row[0]) for row in rows) + 2
    print(f"{'figure':<{width}}{'value':<24}{'target':<12}")
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}{value:<24}{target:<12}{verdict}")
    truth = report.truth
    totals = report.totals
    tables = [
        (
            "Claude Code",
            truth.get("claude_code"),
            totals.get("tokentrail_claude_code"),
            totals.get("peer_claude_code"),
            True,
        ),
        ("Codex", truth.get("codex"), totals.get("tokentrail_codex"), None, False),
        ("Gemini", truth.get("gemini"), totals.get("tokentrail_gemini"), None, False),
        (
            "All sources",
            truth.get("all"),
            totals.get("tokentrail_all"),
            totals.get("peer_all"),
            True,
        ),
    ]
    for title, expected, ours, peer, peer_column in tables:
        if not (expected or ours or peer):
            continue
        print()
        for line in count_table(title, expected, ours, peer if peer_column else None):
            print(line)
    if totals.get("tokentrail_unpriced_models"):
        print(f"\nunpriced models (tokentrail): {totals['tokentrail_unpriced_models']}")
    figures = report.figures
    if "sessions_in_truth" in figures:
        print(
            f"\nsessions: {figures['sessions_in_truth']:,} in the truth; requests and tokens "
            f"off in {figures['sessions_off']:,}, missing {figures['sessions_missing']:,}, "
            f"not in the truth {figures['sessions_not_in_truth']:,}"
        )
    print("\n'=' equals the generator's ground truth (bench/generate_corpus.py manifest);")
    print("ccusage has no request count, and cost has no ground truth.")
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}")


def all_sources_truth(truth: dict[str, dict[str, int | None]]) -> dict[str, int | None]:
    """Per-bucket sums over the sources; None only where no source reports the bucket."""
    keys = {key for source in SOURCES for key in truth.get(source, {})}
    summed: dict[str, int | None] = {}
    for key in keys:
        values = [truth.get(source, {}).get(key) for source in SOURCES]
        reported = [value for value in values if value is not None]
        summed[key] = sum(reported) if reported else None
    return summed


def missed_targets(report: Report) -> list[str]:
    f = report.figures
    checks = [
        ("cold sync / peer", f.get("ratio_cold_over_peer"), TARGET_COLD_OVER_PEER, False),
        ("cold sync CPU / peer", f.get("ratio_cpu_over_peer"), TARGET_CPU_OVER_PEER, False),
        ("no-change re-sync", f.get("resync_best_s"), TARGET_RESYNC_S, False),
        ("re-sync after append", f.get("append_resync_best_s"), TARGET_APPEND_RESYNC_S, False),
        ("daily --no-sync", f.get("daily_best_s"), TARGET_DAILY_S, False),
        ("peak RSS", f.get("peak_tree_rss_mb"), TARGET_PEAK_RSS_MB, False),
    ]
    return [name for name, value, limit, less in checks if _verdict(value, limit, less) == "MISSED"]


def save_report(report: Report) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUT_DIR / f"sync-bench-{stamp}.json"
    path.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tokentrail sync benchmark (see module doc)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument("--size-mb", type=float, default=None, help="size if generated (1024)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the corpus first")
    parser.add_argument("--keep", action="store_true", help="keep the ledger directory")
    parser.add_argument("--skip-peer", action="store_true", help="do not run ccusage")
    parser.add_argument("--peer-runs", type=int, default=3, help="ccusage runs (default 3)")
    parser.add_argument("--append-files", type=int, default=10, help="files per append round")
    parser.add_argument(
        "--cold-runs", type=int, default=3, help="cold syncs, each on an empty ledger (best kept)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 2 when a target is missed")
    args = parser.parse_args(argv)

    corpus: Path = args.corpus.resolve()
    ensure_corpus(corpus, args.size_mb, args.seed, args.regenerate)
    home = corpus / "home"
    files, size = corpus_stats(home)
    report = Report(str(corpus), files, size, machine_info())
    warm = warm_page_cache(home)
    report.notes.append(f"page cache warmed by reading the corpus once ({warm:.1f} s)")

    exe = find_tokentrail()
    workdir = Path(tempfile.mkdtemp(prefix="tokentrail-bench-"))
    tokentrail_ok = False
    try:
        if exe is None:
            report.problems.append(
                "no tokentrail executable: install the project into this interpreter "
                "or put tokentrail on PATH"
            )
        else:
            print(f"running {exe} on {corpus} (ledger in {workdir}) ...", flush=True)
            tokentrail_ok = bench_tokentrail(
                report, exe, corpus, workdir, args.append_files, args.cold_runs
            )
            if tokentrail_ok:
                session_truth_check(report, corpus, workdir)
        if args.skip_peer:
            report.notes.append("peer skipped: --skip-peer")
        else:
            print("running the peer (ccusage) ...", flush=True)
            bench_peer(report, corpus, max(1, args.peer_runs))
    finally:
        if args.keep:
            report.notes.append(f"ledger kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    truth = corpus_gen.read_manifest(corpus)["truth"]  # read after the appends
    report.truth = {**truth, "all": all_sources_truth(truth)}
    compare_ratios(report)
    print_report(report)
    print(f"\nresults written to {save_report(report)}")
    if not tokentrail_ok:
        return 1
    missed = missed_targets(report)
    if args.strict and missed:
        print(f"targets missed: {', '.join(missed)}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
