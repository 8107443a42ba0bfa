"""The quick answer of ``tokentrail sync --quiet`` when nothing changed (tokentrail.sync_walk).

Every sync here runs as the installed command would, in a subprocess on real files and a real
SQLite ledger; each reports whether it took the quick answer (neither click nor the sync
machinery imported) and how many requests the ledger holds after it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from builders import claude_assistant, claude_session_file, claude_user, codex_meta, write_jsonl
from tokentrail.launch import quiet_sync_options

_SCRIPT = (
    "import sys\n"
    "from tokentrail.launch import main\n"
    "out = sys.argv[1]\n"
    "sys.argv = ['tokentrail', 'sync', *sys.argv[2:]]\n"
    "try:\n    main()\n"
    "finally:\n    open(out, 'w').write('\\n'.join(sys.modules))\n"
)

AGED_NS = 60 * 1_000_000_000
"""How far back the folders' modification times are set before a sync: a folder changed
within RACY_NS of a walk is walked again next time, and these tests change files at once."""


@dataclass(frozen=True)
class Outcome:
    quick: bool
    requests: int


def _sync(db: Path, *args: str, env: dict[str, str] | None = None) -> Outcome:
    modules = db.with_name("modules.txt")
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(modules), *(args or ("--quiet", "-d", str(db)))],
        capture_output=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"" and done.stderr == b""
    imported = set(modules.read_text().splitlines())
    quick = "click" not in imported and "tokentrail.sync" not in imported
    if quick:  # nor any reader, nor the ledger's write side
        assert not {"tokentrail.ledger", "tokentrail.agents.claude_code.reader"} & imported
    with sqlite3.connect(db) as conn:
        (requests,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    return Outcome(quick, requests)


def _age(folder: Path) -> None:
    """Move every folder's modification time a minute back, as for logs written earlier."""
    _shift_folders(folder, -AGED_NS)


def _freshen(folder: Path) -> None:
    """Date every folder half a minute ahead: whenever the next walks start, they see a folder
    changed within RACY_NS of them, as a folder changed just before a walk is. (Leaving the
    times as written depends on each sync starting within RACY_NS of the write, which a loaded
    machine does not promise: these syncs are whole processes.)"""
    _shift_folders(folder, AGED_NS // 2)


def _shift_folders(folder: Path, by_ns: int) -> None:
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        when = path.stat().st_mtime_ns + by_ns
        os.utime(path, ns=(when, when))


def _turn(session: str, index: int) -> list[dict[str, object]]:
    ts = f"2025-06-01T10:{index:02d}:00Z"
    return [claude_user(session, ts), claude_assistant(session, ts, f"msg_{session}_{index}")]


def _synced(home: Path, db: Path) -> Path:
    """A home with one Claude Code transcript of two requests, synced, and synced again
    quickly (the record kept by the first sync answers the second)."""
    transcript = write_jsonl(claude_session_file(home, "s1"), [*_turn("s1", 1), *_turn("s1", 2)])
    _age(home)
    assert _sync(db) == Outcome(quick=False, requests=2)
    assert _sync(db) == Outcome(quick=True, requests=2)
    return transcript


def test_nothing_changed_answers_without_click_or_readers(
    isolated_home: Path, db_path: Path
) -> None:
    _synced(isolated_home, db_path)
    assert _sync(db_path, "-q", "-d", str(db_path)) == Outcome(quick=True, requests=2)
    assert _sync(db_path, f"--database={db_path}", "--quiet") == Outcome(quick=True, requests=2)


def test_a_plain_sync_is_never_answered_quickly(isolated_home: Path, db_path: Path) -> None:
    _synced(isolated_home, db_path)
    done = subprocess.run(
        [sys.executable, "-m", "tokentrail", "sync", "-d", str(db_path)],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.decode().startswith("Synced 1 files in ")


def test_a_file_appended_to_is_read(isolated_home: Path, db_path: Path) -> None:
    transcript = _synced(isolated_home, db_path)
    write_jsonl(transcript, _turn("s1", 3), append=True)
    assert _sync(db_path) == Outcome(quick=False, requests=3)
    assert _sync(db_path) == Outcome(quick=True, requests=3)


def test_only_the_files_appended_to_are_read_without_the_walk(
    isolated_home: Path, db_path: Path, tmp_path: Path
) -> None:
    """Files appended to, with every other input as the last full sync recorded: only they
    are read, with neither click nor another agent's reader imported, and the ledger ends as
    a full sync of the same files leaves it; its record still answers the next sync."""
    transcript = _synced(isolated_home, db_path)
    write_jsonl(transcript, _turn("s1", 3), append=True)
    assert _sync(db_path) == Outcome(quick=False, requests=3)
    imported = set(db_path.with_name("modules.txt").read_text().splitlines())
    assert "tokentrail.agents.claude_code.reader" in imported  # it did read the file
    assert not {"click", "tokentrail.cli", "tokentrail.agents.codex.reader"} & imported
    assert _sync(db_path) == Outcome(quick=True, requests=3)
    full = tmp_path / "full.db"
    assert _sync(full, "--quiet", "-d", str(full)) == Outcome(quick=False, requests=3)
    assert "click" in set(full.with_name("modules.txt").read_text().splitlines())
    query = {
        "events": "SELECT event_key, ts_ms, input, output, cost_micro FROM events",
        "cursors": "SELECT path, size, mtime_ns, offset, line_no, head_hash FROM cursors",
        "rollups": "SELECT * FROM rollups",
    }
    for table, sql in query.items():
        with sqlite3.connect(db_path) as quick, sqlite3.connect(full) as walked:
            assert sorted(quick.execute(sql)) == sorted(walked.execute(sql)), table


def test_a_file_added_beside_the_others_is_read(isolated_home: Path, db_path: Path) -> None:
    _synced(isolated_home, db_path)
    write_jsonl(claude_session_file(isolated_home, "s2"), _turn("s2", 1))
    assert _sync(db_path) == Outcome(quick=False, requests=3)


def test_a_file_added_in_a_new_folder_is_read(isolated_home: Path, db_path: Path) -> None:
    _synced(isolated_home, db_path)
    write_jsonl(claude_session_file(isolated_home, "s2", project="-other"), _turn("s2", 1))
    assert _sync(db_path) == Outcome(quick=False, requests=3)


def test_a_file_added_in_a_new_subfolder_is_read(isolated_home: Path, db_path: Path) -> None:
    transcript = _synced(isolated_home, db_path)
    subagent = transcript.parent / "s1" / "subagents" / "agent-a1.jsonl"
    write_jsonl(subagent, [claude_assistant("s1", "2025-06-01T10:05:00Z", "msg_sub")])
    assert _sync(db_path) == Outcome(quick=False, requests=3)


def test_a_file_removed_is_noticed(isolated_home: Path, db_path: Path) -> None:
    transcript = _synced(isolated_home, db_path)
    write_jsonl(claude_session_file(isolated_home, "s2"), _turn("s2", 1))
    _age(isolated_home)
    assert _sync(db_path) == Outcome(quick=False, requests=3)
    assert _sync(db_path) == Outcome(quick=True, requests=3)
    transcript.unlink()
    # the ledger keeps every request it read; the sync walks again and keeps a new record
    assert _sync(db_path) == Outcome(quick=False, requests=3)
    _age(isolated_home)
    assert _sync(db_path) == Outcome(quick=False, requests=3)
    assert _sync(db_path) == Outcome(quick=True, requests=3)


def test_a_root_created_is_searched(isolated_home: Path, db_path: Path) -> None:
    _synced(isolated_home, db_path)
    rollout = isolated_home / ".codex" / "sessions" / "2025" / "06" / "01" / "rollout-1.jsonl"
    write_jsonl(rollout, [codex_meta("c1", "2025-06-01T10:00:00Z")])
    assert _sync(db_path).quick is False


def test_a_changed_configuration_is_read(
    isolated_home: Path, db_path: Path, tmp_path: Path
) -> None:
    _synced(isolated_home, db_path)
    elsewhere = write_jsonl(tmp_path / "elsewhere" / "s9.jsonl", _turn("s9", 1))
    config = tmp_path / "config.toml"  # TOKENTRAIL_CONFIG in isolated_home
    config.write_text(f'[sources.claude_code]\npaths = ["{elsewhere.parent}"]\n')
    assert _sync(db_path) == Outcome(quick=False, requests=3)


def test_a_changed_variable_is_read(isolated_home: Path, db_path: Path, tmp_path: Path) -> None:
    _synced(isolated_home, db_path)
    elsewhere = write_jsonl(tmp_path / "elsewhere" / "s9.jsonl", _turn("s9", 1))
    moved = {"TOKENTRAIL_CLAUDE_CODE_PATHS": str(elsewhere.parent)}
    assert _sync(db_path, env=moved) == Outcome(quick=False, requests=1 + 2)
    assert _sync(db_path) == Outcome(quick=False, requests=3)


def test_another_ledger_is_synced(isolated_home: Path, db_path: Path, tmp_path: Path) -> None:
    _synced(isolated_home, db_path)
    assert _sync(tmp_path / "other.db") == Outcome(quick=False, requests=2)


def test_a_sync_that_could_not_read_everything_keeps_no_record(
    isolated_home: Path, db_path: Path
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root lists every folder")
    transcript = _synced(isolated_home, db_path)
    transcript.parent.chmod(0)
    try:
        assert _sync(db_path).quick is False
        assert _sync(db_path).quick is False
    finally:
        transcript.parent.chmod(0o755)


def test_a_folder_changed_just_before_the_walk_is_walked_again(
    isolated_home: Path, db_path: Path
) -> None:
    write_jsonl(claude_session_file(isolated_home, "s1"), _turn("s1", 1))
    _freshen(isolated_home)
    assert _sync(db_path).quick is False
    assert _sync(db_path).quick is False  # still too recent to trust its modification time
    _age(isolated_home)
    assert _sync(db_path).quick is False
    assert _sync(db_path).quick is True


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--quiet"], {"database": None}),
        (["-q", "-d", "x.db"], {"database": "x.db"}),
        (["--database=x.db", "-q"], {"database": "x.db"}),
        ([], None),
        (["-q", "-q"], None),
        (["-q", "--json"], None),
        (["-q", "--source", "codex"], None),
        (["-q", "-d"], None),
        (["-q", "-d=x.db"], None),
        (["-d", "-q"], None),
        (["--quiet=yes"], None),
    ],
)
def test_only_a_quiet_sync_is_answered_quickly(
    args: list[str], expected: dict[str, str | None] | None
) -> None:
    assert quiet_sync_options(args) == expected


def test_crush_records_what_decides_its_files(tmp_path: Path) -> None:
    """Crush finds its databases through its projects file, not the shared walk: the file
    and each database path it looked for are recorded, so a project added shows."""
    from tokentrail import sync_walk
    from tokentrail.agents.crush.reader import CrushSource

    root = tmp_path / "crush"
    project = tmp_path / "work" / ".crush"
    project.mkdir(parents=True)
    root.mkdir()
    (root / "projects.json").write_text(
        f'{{"projects": [{{"path": "{tmp_path / "work"}", "data_dir": ".crush"}}]}}'
    )
    with sync_walk.watching() as log:
        assert list(CrushSource().discover([root])) == []
    assert log.paths[str(root / "projects.json")] is not None
    assert log.paths[str(project / "crush.db")] is None
    assert str(root) in log.paths and not log.doubtful


def test_a_record_of_another_install_is_not_trusted(isolated_home: Path, db_path: Path) -> None:
    """Another tokentrail (another install, its parsers and schema) kept the record: the
    sync runs in full, as this tokentrail would decide it."""
    import json

    _synced(isolated_home, db_path)
    with sqlite3.connect(db_path) as conn:
        (raw,) = conn.execute("SELECT record FROM sync_walk").fetchone()
        record = json.loads(raw)
        record["package"] = "/elsewhere/site-packages/tokentrail"
        conn.execute("UPDATE sync_walk SET record = ?", (json.dumps(record).encode(),))
    assert _sync(db_path) == Outcome(quick=False, requests=2)
    assert _sync(db_path) == Outcome(quick=True, requests=2)
