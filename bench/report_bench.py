"""Report and statusline benchmark: every answer from the ledger as a whole process.

    python bench/report_bench.py [--events 1000000] [--runs 15] [--rebuild] [--strict]

Builds (once; kept as bench/out/report-<N>.db, git-ignored) a ledger of ``--events`` requests
with the dashboard benchmark's builder (a year of four agents and the SDK), and a 50 MB Claude
Code transcript whose last turns are recent, in a temporary home. Then times, as a user runs
them (the ``tokentrail`` executable next to this interpreter, a fresh process each time):

* ``daily --no-sync --json``, ``monthly --no-sync``, ``session --no-sync --json`` and
  ``blocks --active --no-sync`` (issue 14: each ≤ 60 ms), beside a bare interpreter and
  ``import tokentrail.cli``: asked again of an unchanged ledger (the answer it keeps), and
  computed (the kept answer dropped first, as after any change);
* ``statusline`` fed the status JSON Claude Code sends: the first call (it reads the whole
  transcript), then ``--runs`` × 2 calls with a new turn appended to the transcript before every
  other one (issue 14: ≤ 50 ms p95, ≤ 40 MB peak RSS).

Wall time is the median (and p95) of ``--runs``; CPU time (user + system, from ``wait4``) is
printed beside it because wall time on a shared machine mostly measures the other work. Peak
RSS is taken from one more run under GNU time (``/usr/bin/time -f %M``).
Python's bytecode cache is allowed (``PYTHONDONTWRITEBYTECODE`` is dropped from the
environment): without it every run recompiles every module, which no installed tool does.
Results also go to bench/out/report-bench-*.json; exit status 2 with ``--strict`` when a
target is missed.
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
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
REPORT_TARGET_MS = 60.0
STATUS_TARGET_MS = 50.0
STATUS_RSS_TARGET_MB = 40.0
TRANSCRIPT_MB = 50
SESSION = "0b7e5d2a-4c1f-4e8a-9d3b-5a6c7e8f9a0b"
REPORTS = (
    ("daily --no-sync --json", ["daily", "--no-sync", "--json"]),
    ("monthly --no-sync", ["monthly", "--no-sync"]),
    # JSON: the table of every session (8,000 at 1M requests) is rich's rendering, not the ledger
    ("session --no-sync --json", ["session", "--no-sync", "--json"]),
    ("blocks --active --no-sync", ["blocks", "--active", "--no-sync"]),
)
FILLER = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod. " * 24


def tokentrail_executable() -> str:
    beside = Path(sys.executable).with_name("tokentrail")
    return str(beside) if beside.exists() else shutil.which("tokentrail") or "tokentrail"


def environment(home: Path, ledger: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "CLAUDE_CONFIG_DIR", "XDG_DATA_HOME"):
        env.pop(name, None)
    env.update(
        HOME=str(home),
        TOKENTRAIL_DB=str(ledger),
        TOKENTRAIL_CONFIG=str(home / "absent.toml"),
        TOKENTRAIL_MACHINE="bench",
    )
    return env


def run_once(command: list[str], env: dict[str, str], stdin: bytes | None = None) -> dict[str, Any]:
    """One whole process: wall seconds, CPU seconds and peak RSS (MB) from wait4."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = process.communicate(stdin)
    wall = time.perf_counter() - started
    return {"wall": wall, "returncode": process.returncode, "stdout": out, "stderr": err}


def measure(command: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    run_once(command, env)  # warm-up: page cache and bytecode cache
    for _ in range(runs):
        started = time.perf_counter()
        pid = os.posix_spawn(
            command[0], command, env, file_actions=_devnull_actions()
        )  # no pipes to drain: the output is thrown away
        _, status, usage = os.wait4(pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss.append(usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(command)} failed (exit {status})")
    return {**_summary(walls, cpus, rss), "rss_max_mb": peak_rss_mb(command, env) or max(rss)}


def measure_computed(
    command: list[str], env: dict[str, str], ledger: Path, runs: int
) -> dict[str, float]:
    """The report computed, as after any change to the ledger: its kept answer is dropped
    before every run (DELETE FROM report_cache), so each run sums the rollups and stores the
    answer again."""
    import sqlite3

    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        with sqlite3.connect(ledger) as conn:
            conn.execute("DELETE FROM report_cache")
        started = time.perf_counter()
        pid = os.posix_spawn(command[0], command, env, file_actions=_devnull_actions())
        _, status, usage = os.wait4(pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(command)} failed (exit {status})")
    return _summary(walls, cpus, [0.0])


def peak_rss_mb(
    command: list[str], env: dict[str, str], stdin: bytes | None = None
) -> float | None:
    """Peak RSS of one run, from GNU time (fork + exec). wait4's figure for a posix_spawn'ed
    child is not the child's alone: Linux keeps the high-water mark across exec, and a vfork'ed
    child starts in its parent's memory (this script, with its ledger-building imports)."""
    if not Path("/usr/bin/time").exists():
        return None
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        env=env,
        input=stdin or b"",
        capture_output=True,
        check=False,
    )
    try:
        return int(done.stderr.decode().strip().splitlines()[-1]) / 1024
    except (ValueError, IndexError):
        return None


def _devnull_actions() -> list[tuple[Any, ...]]:
    return [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]


def _summary(walls: list[float], cpus: list[float], rss: list[float]) -> dict[str, float]:
    ordered = sorted(walls)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "runs": len(walls),
        "wall_median_ms": statistics.median(walls) * 1000,
        "wall_p95_ms": p95 * 1000,
        "wall_min_ms": ordered[0] * 1000,
        "cpu_median_ms": statistics.median(cpus) * 1000,
        "cpu_p95_ms": sorted(cpus)[min(len(cpus) - 1, round(0.95 * (len(cpus) - 1)))] * 1000,
        "rss_max_mb": max(rss),
    }


# -- the transcript -----------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transcript_turn(index: int, at: datetime) -> bytes:
    """One user prompt and one assistant reply with usage, shaped as Claude Code writes them."""
    user = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/code/bench",
        "sessionId": SESSION,
        "version": "2.0.14",
        "gitBranch": "main",
        "type": "user",
        "message": {"role": "user", "content": f"Turn {index}: " + FILLER},
        "uuid": f"u-{index}",
        "timestamp": _iso(at),
    }
    assistant = {
        "parentUuid": f"u-{index}",
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/dev/code/bench",
        "sessionId": SESSION,
        "version": "2.0.14",
        "gitBranch": "main",
        "requestId": f"req_{index}",
        "type": "assistant",
        "uuid": f"a-{index}",
        "timestamp": _iso(at + timedelta(seconds=2)),
        "message": {
            "id": f"msg_{index}",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": FILLER}],
            "usage": {
                "input_tokens": 40,
                "cache_creation_input_tokens": 800,
                "cache_read_input_tokens": 30_000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 800,
                    "ephemeral_1h_input_tokens": 0,
                },
                "output_tokens": 400,
                "service_tier": "standard",
            },
        },
    }
    return (json.dumps(user) + "\n" + json.dumps(assistant) + "\n").encode()


def write_transcript(path: Path, megabytes: int) -> int:
    """A transcript of about ``megabytes`` MB over the last 3 hours; returns its turn count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    per_turn = len(transcript_turn(0, datetime.now(UTC)))
    turns = megabytes * 1_000_000 // per_turn
    start = datetime.now(UTC) - timedelta(hours=3)
    step = timedelta(hours=3) / turns
    with open(path, "wb") as handle:
        for index in range(turns):
            handle.write(transcript_turn(index, start + step * index))
    return turns


def status_json(transcript: Path) -> bytes:
    return json.dumps(
        {
            "hook_event_name": "Status",
            "session_id": SESSION,
            "transcript_path": str(transcript),
            "cwd": "/home/dev/code/bench",
            "model": {"id": "claude-sonnet-4-5-20250929", "display_name": "Sonnet 4.5"},
            "workspace": {"current_dir": "/home/dev/code/bench", "project_dir": "/home/dev"},
            "version": "2.0.14",
            "cost": {"total_cost_usd": 12.5, "total_duration_ms": 10_800_000},
        }
    ).encode()


def measure_statusline(
    executable: str, env: dict[str, str], transcript: Path, turns: int, runs: int
) -> dict[str, Any]:
    """The first call (reads the whole transcript), then ``runs`` × 2 calls, a new turn appended
    before every other one, as Claude Code calls it while a session goes on."""
    command = [executable, "statusline"]
    payload = status_json(transcript)
    first = run_once(command, env, payload)
    if first["returncode"] != 0:
        raise SystemExit(f"statusline failed: {first['stderr'].decode()}")
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    kinds: list[bool] = []  # True: a turn was appended before the call
    line = first["stdout"].decode().strip()
    for index in range(runs * 2):
        kinds.append(index % 2 == 0)
        if index % 2 == 0:
            with open(transcript, "ab") as handle:
                handle.write(transcript_turn(turns + index, datetime.now(UTC)))
        read_end, write_end = os.pipe()
        os.write(write_end, payload)
        os.close(write_end)
        started = time.perf_counter()
        pid = os.posix_spawn(
            command[0],
            command,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, read_end, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
            ],
        )
        _, _status, usage = os.wait4(pid, 0)
        walls.append(time.perf_counter() - started)
        os.close(read_end)
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss.append(usage.ru_maxrss / 1024)
    last = run_once(command, env, payload)["stdout"].decode().strip()
    with open(transcript, "ab") as handle:  # the peak of a call that records a new turn
        handle.write(transcript_turn(turns + runs * 2, datetime.now(UTC)))
    peak = peak_rss_mb(command, env, payload)

    def part(appended: bool) -> dict[str, float]:
        chosen = [i for i, kind in enumerate(kinds) if kind == appended]
        return _summary([walls[i] for i in chosen], [cpus[i] for i in chosen], [0.0])

    return {
        "first_call_ms": first["wall"] * 1000,
        "first_line": line,
        "last_line": last,
        **_summary(walls, cpus, rss),
        "rss_max_mb": peak or max(rss),
        "nothing_new": part(False),
        "turn_appended": part(True),
    }


# -- main ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(BENCH_DIR))
    from dashboard_bench import build

    OUT_DIR.mkdir(exist_ok=True)
    ledger = OUT_DIR / f"report-{args.events}.db"
    if args.rebuild or not ledger.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{ledger}{suffix}").unlink(missing_ok=True)
        print(f"Building a ledger of {args.events:,} requests at {ledger} …", file=sys.stderr)
        build(ledger, args.events)
    executable = tokentrail_executable()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "events": args.events,
        "load_average": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="tokentrail-report-bench-") as tmp:
        home = Path(tmp) / "home"
        env = environment(home, ledger)
        baselines = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import tokentrail.cli": [sys.executable, "-c", "import tokentrail.cli"],
        }
        results["baselines"] = {
            name: measure(command, env, args.runs) for name, command in baselines.items()
        }
        results["reports"] = {
            name: measure([executable, *command], env, args.runs) for name, command in REPORTS
        }
        results["computed"] = {
            name: measure_computed([executable, *command], env, ledger, max(3, args.runs // 3))
            for name, command in REPORTS
        }
        # the statusline records the transcript: into a copy, so every run starts the same
        status_ledger = Path(tmp) / "ledger.db"
        shutil.copyfile(ledger, status_ledger)
        env = environment(home, status_ledger)
        transcript = home / ".claude" / "projects" / "-home-dev-code-bench" / f"{SESSION}.jsonl"
        turns = write_transcript(transcript, TRANSCRIPT_MB)
        results["statusline"] = {
            "transcript_mb": transcript.stat().st_size / 1e6,
            **measure_statusline(executable, env, transcript, turns, args.runs),
        }
    return report(results, args.strict)


def report(results: dict[str, Any], strict: bool) -> int:
    print(
        f"\n{results['events']:,}-request ledger, Python {results['python']}, "
        f"{results['cpus']} CPUs, load average {results['load_average'][0]:.1f} at the start\n"
    )
    print(
        f"{'command':34} {'wall median':>12} {'p95':>8} {'CPU':>8} {'CPU p95':>8} {'peak RSS':>9}"
    )
    missed: list[str] = []
    rows = [
        *((name, r, None) for name, r in results["baselines"].items()),
        *((name, r, REPORT_TARGET_MS) for name, r in results["reports"].items()),
    ]
    for name, row, target in rows:
        print(
            f"{name:34} {row['wall_median_ms']:9.0f} ms {row['wall_p95_ms']:5.0f} ms "
            f"{row['cpu_median_ms']:5.0f} ms {row['cpu_p95_ms']:5.0f} ms "
            f"{row['rss_max_mb']:6.0f} MB"
        )
        if target is not None and row["wall_median_ms"] > target:
            missed.append(f"{name}: {row['wall_median_ms']:.0f} ms > {target:.0f} ms")
    print("\ncomputed (the kept answer dropped first, as after any change to the ledger):")
    for name, row in results["computed"].items():
        print(
            f"{name:34} {row['wall_median_ms']:9.0f} ms {row['wall_p95_ms']:5.0f} ms "
            f"{row['cpu_median_ms']:5.0f} ms"
        )
    status = results["statusline"]
    print(
        f"\nstatusline, {status['transcript_mb']:.0f} MB transcript: first call "
        f"{status['first_call_ms']:.0f} ms; then {status['runs']} calls (a turn appended before "
        f"every other one): median {status['wall_median_ms']:.0f} ms, p95 "
        f"{status['wall_p95_ms']:.0f} ms, CPU {status['cpu_median_ms']:.0f} ms, peak RSS "
        f"{status['rss_max_mb']:.0f} MB"
    )
    for name, label in (("nothing_new", "nothing new"), ("turn_appended", "a turn appended")):
        row = status[name]
        print(
            f"  {label:16} wall median {row['wall_median_ms']:.0f} ms, p95 "
            f"{row['wall_p95_ms']:.0f} ms; CPU median {row['cpu_median_ms']:.0f} ms, p95 "
            f"{row['cpu_p95_ms']:.0f} ms"
        )
    print(f"  first line: {status['first_line']}\n  last line:  {status['last_line']}")
    if status["wall_p95_ms"] > STATUS_TARGET_MS:
        missed.append(f"statusline p95 {status['wall_p95_ms']:.0f} ms > {STATUS_TARGET_MS:.0f}")
    if status["rss_max_mb"] > STATUS_RSS_TARGET_MB:
        missed.append(f"statusline RSS {status['rss_max_mb']:.0f} MB > {STATUS_RSS_TARGET_MB:.0f}")
    out = OUT_DIR / f"report-bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nmissed: {'; '.join(missed) if missed else 'none'}\n(results in {out})")
    return 2 if strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
