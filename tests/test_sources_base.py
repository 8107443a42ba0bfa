"""What every reader shares: logs are opened only when they are regular files, and a token
count is bounded the same way for every source."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest

from test_sync import as_unprivileged, shared_dir  # noqa: F401  (a fixture)
from tokentrail.agents import load
from tokentrail.errors import BadRecord
from tokentrail.ingest import MAX_COUNT
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, NotRegularFile, ParseState, SourceFile, read_regular
from tokentrail.sources.values import count_or_none


@contextmanager
def fails_instead_of_hanging(seconds: float) -> Iterator[None]:
    """Turn a read that would block forever into a test failure."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# (source, kind, where in its tree a FIFO could sit)
READERS = [
    ("claude_code", "append", "projects/p/s.jsonl"),
    ("codex", "append", "sessions/2026/05/04/rollout-x.jsonl"),
    ("gemini", "append", "tmp/p/chats/session-x.jsonl"),
    ("gemini", "whole", "tmp/p/chats/session-x.json"),
    ("opencode", "whole", "storage/message/ses_1/msg_1.json"),
    ("opencode", "whole", "storage/session/prj/ses_1.json"),
]


@pytest.mark.parametrize(("source", "kind", "where"), READERS)
def test_every_reader_refuses_a_fifo_without_blocking(
    tmp_path: Path, source: str, kind: str, where: str
) -> None:
    fifo = tmp_path / where
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    reader = load(source)
    with fails_instead_of_hanging(10), pytest.raises(NotRegularFile) as refused:
        reader.parse(SourceFile(source, str(fifo), kind), ParseState())  # type: ignore[arg-type]
    assert refused.value.kind == "a FIFO"


def test_a_link_to_a_device_is_refused_before_any_byte_is_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(NotRegularFile, match="a character device, not a regular file"):
        read_regular(str(link))
    with pytest.raises(NotRegularFile, match="a folder"):
        read_regular(str(tmp_path))


@pytest.mark.parametrize(
    "value", [MAX_COUNT + 1, 1e20, 2**63, 2**64 + 1, float("inf"), float("nan"), -1, 1.5, "7"]
)
def test_an_implausible_count_is_a_bad_record(value: object) -> None:
    with pytest.raises(BadRecord) as bad:
        count_or_none(value, "output_tokens")
    assert bad.value.reason == "invalid_count"


def test_plausible_counts_pass_as_ints() -> None:
    assert count_or_none(MAX_COUNT, "x") == MAX_COUNT
    assert count_or_none(12.0, "x") == 12
    assert count_or_none(None, "x") is None


# -- find_files: one discovery for every reader ---------------------------------------------


def found(root: Path, files: list[SourceFile]) -> list[tuple[str, str | None]]:
    return [
        (Path(f.path).relative_to(root).as_posix() if f.problem is None else f.path, f.problem)
        for f in files
    ]


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}\n")
    return path


def test_patterns_name_files_by_folder_depth_and_keep_their_order(tmp_path: Path) -> None:
    for name in (
        "p1/chats/session-1.json",
        "p1/chats/session-2.jsonl",
        "p1/chats/session-1/sub.jsonl",
        "p1/chats/deeper/still/sub.jsonl",  # past the pattern's depth
        "p1/notes/session-3.jsonl",  # not in a chats folder
        "session-4.jsonl",  # not in a project
    ):
        touch(tmp_path / name)
    patterns: dict[str, FileKind] = {
        "*/chats/session-*.jsonl": "append",
        "*/chats/*/*.jsonl": "append",
        "*/chats/session-*.json": "whole",
    }

    files = list(find_files("x", [tmp_path], patterns))

    assert [(f.source, f.kind) for f in files] == [("x", "append"), ("x", "append"), ("x", "whole")]
    assert found(tmp_path, files) == [
        ("p1/chats/session-2.jsonl", None),
        ("p1/chats/session-1/sub.jsonl", None),
        ("p1/chats/session-1.json", None),
    ]


def test_double_star_is_any_number_of_folders_none_included(tmp_path: Path) -> None:
    for name in ("a.jsonl", "x/b.jsonl", "x/y/c.jsonl", "x/y/c.json"):
        touch(tmp_path / name)

    files = list(find_files("x", [tmp_path], {"**/*.jsonl": "append"}))

    assert found(tmp_path, files) == [("a.jsonl", None), ("x/b.jsonl", None), ("x/y/c.jsonl", None)]


def test_a_root_that_is_a_file_is_read_when_root_files_name_it(tmp_path: Path) -> None:
    log, other = touch(tmp_path / "one.jsonl"), touch(tmp_path / "one.txt")
    patterns: dict[str, FileKind] = {"**/*.jsonl": "append"}

    named = list(find_files("x", [log, other], patterns, root_files={"*.jsonl": "append"}))

    assert [f.path for f in named] == [str(log)]
    assert list(find_files("x", [log], patterns)) == []


def test_special_files_are_found_and_links_to_nothing_are_not(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.jsonl")
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "nowhere")

    files = list(find_files("x", [tmp_path], {"*.jsonl": "append"}))

    assert found(tmp_path, files) == [("fifo.jsonl", None), ("zero.jsonl", None)]


def test_a_link_loop_ends_and_real_paths_find_a_file_once(tmp_path: Path) -> None:
    log = touch(tmp_path / "logs" / "a" / "s.jsonl")
    (tmp_path / "logs" / "a" / "loop").symlink_to(tmp_path / "logs")
    (tmp_path / "alias").symlink_to(tmp_path / "logs")
    roots = [tmp_path / "logs", tmp_path / "alias"]

    files = list(find_files("x", roots, {"**/*.jsonl": "append"}, real_paths=True))

    assert [f.path for f in files] == [os.path.realpath(log)]


def test_a_missing_root_is_nothing_and_an_unlistable_one_is_reported(
    shared_dir: Path,  # noqa: F811
) -> None:
    present = shared_dir / "home" / ".agent" / "logs"
    touch(present / "p" / "s.jsonl")
    hidden = shared_dir / "home" / ".hidden"
    (hidden / "logs").mkdir(parents=True)
    locked = shared_dir / "home" / ".locked"
    locked.mkdir()
    roots = [shared_dir / "home" / ".absent" / "logs", present, hidden / "logs", locked]
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(shared_dir)], check=True)
    hidden.chmod(0)  # the folder holding a default root, as chmod 000 on ~/.claude
    locked.chmod(0)

    def discover() -> list[tuple[str, str | None]]:
        return [(f.path, f.problem) for f in find_files("x", roots, {"**/*.jsonl": "append"})]

    assert as_unprivileged(discover) == [
        (str(hidden), "cannot list this folder: Permission denied"),
        (str(locked), "cannot list this folder: Permission denied"),
        (str(present / "p" / "s.jsonl"), None),
    ]
