"""Two tokentrails side by side: every answer of report_bench.py, the two run alternately.

    python bench/report_ab.py --base /path/to/other/venv/bin/tokentrail [--runs 21]

On a shared machine a figure taken now cannot be compared with one taken minutes ago; this
runs each command on the base and on this checkout in turn (the order swapped every round),
each on its own copy of the benchmark ledger (``bench/out/report-<N>.db``, built by
report_bench.py) and with its own 50 MB transcript, and prints the median and p95 of wall and
CPU time (user + system, from ``wait4``) of both. The status line is called as in
report_bench.py: a turn appended to the transcript before every other call.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import report_bench as rb

COMMANDS = {
    "daily --no-sync --json": ["daily", "--no-sync", "--json"],
    "monthly --no-sync": ["monthly", "--no-sync"],
    "session --no-sync --json": ["session", "--no-sync", "--json"],
    "blocks --active --no-sync": ["blocks", "--active", "--no-sync"],
    "blocks --active --no-sync --json": ["blocks", "--active", "--no-sync", "--json"],
}


def spawn(
    command: list[str], env: dict[str, str], stdin: bytes | None = None
) -> tuple[float, float]:
    """One whole process, its output thrown away: wall and CPU milliseconds."""
    actions: list[tuple[Any, ...]] = []
    read_end = None
    if stdin is not None:
        read_end, write_end = os.pipe()
        os.write(write_end, stdin)
        os.close(write_end)
        actions.append((os.POSIX_SPAWN_DUP2, read_end, 0))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    actions += [
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], command, env, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if read_end is not None:
        os.close(read_end)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {status})")
    return wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(values):6.1f} / {p95:6.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="the other tokentrail executable")
    parser.add_argument("--new", default=rb.tokentrail_executable())
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    ledger = rb.OUT_DIR / f"report-{args.events}.db"
    if not ledger.exists():
        raise SystemExit(f"{ledger} is missing: run bench/report_bench.py first")
    executables = {"base": args.base, "new": args.new}
    print(f"load average {os.getloadavg()[0]:.1f}; median / p95, ms")
    with tempfile.TemporaryDirectory(prefix="tokentrail-report-ab-") as tmp:
        sides: dict[str, dict[str, Any]] = {}
        for side in executables:
            home = Path(tmp) / side / "home"
            copy = Path(tmp) / side / "ledger.db"
            home.mkdir(parents=True)
            shutil.copyfile(ledger, copy)
            transcript = home / ".claude" / "projects" / "-home-dev-code-bench"
            transcript = transcript / f"{rb.SESSION}.jsonl"
            turns = rb.write_transcript(transcript, rb.TRANSCRIPT_MB)
            sides[side] = {
                "env": rb.environment(home, copy),
                "transcript": transcript,
                "turns": turns,
                "payload": rb.status_json(transcript),
            }
        for name, command in COMMANDS.items():
            walls: dict[str, list[float]] = {side: [] for side in executables}
            cpus: dict[str, list[float]] = {side: [] for side in executables}
            for side, exe in executables.items():
                spawn([exe, *command], sides[side]["env"])  # computes and keeps the answer
            for index in range(args.runs):
                order = list(executables) if index % 2 == 0 else list(executables)[::-1]
                for side in order:
                    wall, cpu = spawn([executables[side], *command], sides[side]["env"])
                    walls[side].append(wall)
                    cpus[side].append(cpu)
            for side in executables:
                print(f"{name:34} {side:4}  wall {summary(walls[side])}  CPU {summary(cpus[side])}")
        status(executables, sides, args.runs)
    return 0


def status(executables: dict[str, str], sides: dict[str, dict[str, Any]], runs: int) -> None:
    for side, exe in executables.items():  # the first call reads the whole transcript
        spawn([exe, "statusline"], sides[side]["env"], sides[side]["payload"])
    kinds = ("nothing new", "a turn appended")
    walls: dict[tuple[str, str], list[float]] = {(k, s): [] for k in kinds for s in executables}
    cpus: dict[tuple[str, str], list[float]] = {(k, s): [] for k in kinds for s in executables}
    for index in range(runs * 2):
        kind = kinds[index % 2 == 0]
        order = list(executables) if (index // 2) % 2 == 0 else list(executables)[::-1]
        for side in order:
            state = sides[side]
            if kind == "a turn appended":
                state["turns"] += 1
                with open(state["transcript"], "ab") as handle:
                    handle.write(rb.transcript_turn(state["turns"], datetime.now(UTC)))
            wall, cpu = spawn([executables[side], "statusline"], state["env"], state["payload"])
            walls[(kind, side)].append(wall)
            cpus[(kind, side)].append(cpu)
    for kind in kinds:
        for side in executables:
            label = f"statusline, {kind}"
            print(
                f"{label:34} {side:4}  wall {summary(walls[(kind, side)])}  "
                f"CPU {summary(cpus[(kind, side)])}"
            )


if __name__ == "__main__":
    sys.exit(main())
