"""The status line's figures kept between calls: a call with nothing new in the session's files
answers from what the last call computed, importing neither dataclasses, typing nor pathlib,
and only while the ledger is as it was then and the active block has not ended."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import orjson
import pytest
from click.testing import CliRunner

from builders import claude_assistant, claude_session_file, claude_user, write_jsonl
from tokentrail.cli import cli
from tokentrail.statusline import LineFigures, is_claude_transcript, transcript_paths

SESSION = "3c2b1a09-1111-4222-8333-944445555666"

# turns written minutes ago are read back as today's: see conftest.midday_zone
pytestmark = pytest.mark.usefixtures("midday_zone")

_MODULES_SCRIPT = (
    "import sys\n"
    "from tokentrail.launch import main\n"
    "out = sys.argv[1]\n"
    "sys.argv = ['tokentrail', *sys.argv[2:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "open(out, 'w').write('\\n'.join(sys.modules))\n"
)


def _iso(minutes_ago: float) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _turn(index: int, minutes_ago: float) -> list[dict[str, object]]:
    return [
        claude_user(SESSION, _iso(minutes_ago)),
        claude_assistant(
            SESSION, _iso(minutes_ago - 0.5), f"msg_kept_{index}", output_tokens=400 + index
        ),
    ]


def _status_json(transcript: Path) -> bytes:
    return orjson.dumps(
        {
            "session_id": SESSION,
            "transcript_path": str(transcript),
            "model": {"display_name": "Sonnet 4.5"},
        }
    )


def _call(db: Path, stdin: bytes) -> tuple[str, set[str]]:
    """One status line as the installed command runs it; its line and the modules it imported."""
    out = db.with_name("modules.txt")
    done = subprocess.run(
        [sys.executable, "-c", _MODULES_SCRIPT, str(out), "statusline", "-d", str(db)],
        input=stdin,
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip(), set(out.read_text().splitlines())


def _kept_rows(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM report_cache WHERE key LIKE 'statusline%'"
        ).fetchone()
    return int(count)


def test_nothing_new_is_answered_from_the_kept_figures_with_few_imports(
    isolated_home: Path, db_path: Path
) -> None:
    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turn(0, 30))
    first, _ = _call(db_path, _status_json(transcript))  # records the turn, keeps the figures
    assert first.startswith("session $") and "block " in first, first
    assert _kept_rows(db_path) == 1
    again, modules = _call(db_path, _status_json(transcript))
    assert again.split(" | ")[:2] == first.split(" | ")[:2]
    heavy = {
        "dataclasses",
        "typing",
        "pathlib",
        "tokentrail.config",
        "tokentrail.blocks",
        "tokentrail.figures",
        "tokentrail.store.figures",
        "tokentrail.statusline_figures",
        "tokentrail.ledger",
        "click",
        "orjson",
    }
    assert heavy & modules == set()


def test_a_new_turn_or_another_agents_spend_is_shown_at_once(
    isolated_home: Path, db_path: Path
) -> None:
    from tokentrail.config import Config
    from tokentrail.ledger import Ledger
    from tokentrail.usage import Tokens, UsageEvent

    transcript = write_jsonl(claude_session_file(isolated_home, SESSION), _turn(0, 30))
    first, _ = _call(db_path, _status_json(transcript))
    write_jsonl(transcript, _turn(1, 20), append=True)
    grown, modules = _call(db_path, _status_json(transcript))
    assert "tokentrail.statusline_figures" in modules  # computed again, not kept
    assert grown.split(" | ")[0] != first.split(" | ")[0]
    with Ledger(db_path, config=Config()) as ledger:  # a write the session's files do not show
        ledger.record_events(
            [
                UsageEvent(
                    key="codex:kept-test",
                    source="codex",
                    timestamp=datetime.now(UTC) - timedelta(seconds=5),
                    model="gpt-5-codex",
                    provider="openai",
                    tokens=Tokens(input=2_000_000, cache_read=0, output=400_000),
                    session_key="codex-kept",
                )
            ]
        )
    after, modules = _call(db_path, _status_json(transcript))
    assert "tokentrail.statusline_figures" in modules
    assert after.split(" | ")[0] == grown.split(" | ")[0]
    assert after.split(" | ")[1] != grown.split(" | ")[1]  # today's spend moved
    # and the in-process command gives the same line
    result = CliRunner().invoke(
        cli, ["statusline", "-d", str(db_path)], input=_status_json(transcript)
    )
    assert result.output.strip().split(" | ")[:2] == after.split(" | ")[:2]


def test_kept_figures_last_until_their_block_ends() -> None:
    figures = LineFigures((1.25, 4_000), 3.5, 7, 10_000_000, 2.0, 9_000_000)
    kept = figures.kept_text()
    assert kept is not None
    again = LineFigures.from_kept(kept, 9_500_000)
    assert again is not None
    assert (again.session, again.today_cost_usd, again.today_requests) == ((1.25, 4_000), 3.5, 7)
    assert (again.block_end_ms, again.block_cost_usd_per_hour, again.now_ms) == (
        10_000_000,
        2.0,
        9_500_000,
    )
    assert LineFigures.from_kept(kept, 10_000_000) is None  # the block has ended: computed again
    assert LineFigures.from_kept(kept, 8_999_999) is None  # before they were computed
    assert LineFigures(None, None, 0, None, None, 0).kept_text() is None  # no block: not kept
    assert LineFigures.from_kept("[1, 2, 3]", 9_500_000) is None  # not this code's: computed


@pytest.mark.parametrize(
    "transcript",
    [
        "/home/u/.claude/projects/-home-u-app/abc.jsonl",
        "/home/u/.claude/projects/-home-u-app/abc.jsonl/",
        "/home/u/.claude/projects//-home-u-app/./abc.jsonl",
        "//home/u/.claude/projects/-home-u-app/abc.jsonl",
        "~/.claude/projects/-home-u-app/abc.jsonl",
        "relative/projects/dir/a.b.jsonl",
        "projects/dir/x.jsonl",
        "dir/x.jsonl",
        "/p/projects/dir/.jsonl",
        "/p/projects/dir/..jsonl",
        "/p/projects/dir/x.json",
        "/p/projects/../dir/x.jsonl",
        "/p/projects/dir/noext",
        "x.jsonl",
        "/",
    ],
)
def test_the_session_paths_are_pathlibs(transcript: str) -> None:
    """The status line finds the session's files without pathlib: the same paths it gave."""
    path = PurePosixPath(transcript)
    assert is_claude_transcript(transcript) == (
        path.suffix == ".jsonl" and path.parent.parent.name == "projects"
    )
    if path.name:
        expanded = Path(transcript).expanduser()
        expected = (str(expanded), str(expanded.with_suffix("") / "subagents"))
        main, subagents = transcript_paths(transcript)
        assert (os.path.normpath(main), os.path.normpath(subagents)) == tuple(
            os.path.normpath(p) for p in expected
        )
