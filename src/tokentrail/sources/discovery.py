"""Where a reader's files are: the one discovery walk every reader's ``discover`` is
(:func:`find_files`) and the roots an environment
variable names (:func:`env_paths`)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from tokentrail import sync_walk
from tokentrail.sources.files import FileKind, SourceFile, unlisted_folder


def find_files(
    source: str,
    roots: Sequence[Path],
    patterns: Mapping[str, FileKind],
    *,
    root_files: Mapping[str, FileKind] | None = None,
    real_paths: bool = False,
) -> Iterator[SourceFile]:
    """Every file under ``roots`` that one of ``patterns`` names, once each (in the order of
    ``patterns``, then of paths), after a :class:`SourceFile` with a ``problem`` for each
    folder that cannot be looked in.
    Every reader's ``discover`` is this call, so all agents find files the same way:

    * ``patterns`` maps a path relative to a root to the kind of file it names, e.g.
      ``{"**/*.jsonl": "append"}`` or ``{"*/chats/session-*.json": "whole"}``. Segments are
      separated by ``/``; each is an :mod:`fnmatch` pattern (``*``, ``?``, ``[...]``, matched
      case-sensitively, never across a ``/``), and ``**`` stands for any number of folders,
      none included. The first pattern that matches gives the kind; only folders a pattern
      can reach are listed.
    * ``root_files`` maps a file name pattern to a kind for a root that is itself a file
      (``{"*.jsonl": "append"}``, for a log named directly); without it, a root must be a folder.
    * ``real_paths`` yields each file by its real path (symlinks resolved), so a file reached
      through two roots or a link is one file; otherwise paths are the root joined with the
      names found (``root / "proj" / "chats" / "x.jsonl"``), and cursors are kept by them.

    A name that matches is yielded whatever it is: a FIFO, a device or a socket named like a
    log is then skipped by the sync with the reason ``not_a_regular_file`` (the parse opens
    it with :func:`open_regular`, which never blocks), not left out without a word. A link
    to nothing is left out, like a missing file. Folder links are followed, each folder
    (device and inode) entered once, so a link loop ends the walk. A missing root is what an
    agent that is not installed looks like: nothing is yielded. A folder that cannot be
    listed, or a root hidden by a parent that cannot be looked in (``chmod 000`` on the
    folder holding it), is yielded as :func:`unlisted_folder`, which the sync reports on every
    sync; its files are found on the first sync after it becomes readable.
    """
    compiled = [(tuple(pattern.split("/")), kind) for pattern, kind in patterns.items()]
    walk = _Walk(compiled, real_paths)
    for root in roots:
        walk.root(Path(root), root_files or {})
    for path in walk.problems:
        yield SourceFile(source, path, problem=walk.problems[path])
    for (_, path), kind in sorted(walk.found.items()):
        yield SourceFile(source, path, kind)


_Pattern = tuple[tuple[str, ...], FileKind]
_Position = tuple[int, int]
"""How far a folder is into a pattern: (which pattern, how many of its segments matched)."""


class _Walk:
    """One discovery's walk: what it found, what it could not list, where it has been."""

    def __init__(self, patterns: Sequence[_Pattern], real_paths: bool) -> None:
        self.patterns = patterns
        self.real_paths = real_paths
        self.found: dict[tuple[int, str], FileKind] = {}
        """By (the index of the pattern that found it, path); a root named directly is -1."""
        self.paths: set[str] = set()
        self.problems: dict[str, str] = {}
        self.visited: set[tuple[int, int]] = set()

    def root(self, root: Path, root_files: Mapping[str, FileKind]) -> None:
        try:
            info = os.stat(root)
        except (FileNotFoundError, NotADirectoryError):
            sync_walk.saw(str(root), None)
            return  # not installed (or a link to nothing): normal
        except OSError as error:
            sync_walk.doubt()
            self._hidden_root(root, error)
            return
        sync_walk.saw(str(root), info)
        if stat.S_ISDIR(info.st_mode):
            start = self._advance({(index, 0) for index in range(len(self.patterns))})
            self._folder(str(root), start, (info.st_dev, info.st_ino), self._real(str(root)))
            return
        kind = next((k for name, k in root_files.items() if fnmatchcase(root.name, name)), None)
        if kind is not None:
            self._add(self._real(str(root)), -1, kind)

    def _hidden_root(self, root: Path, error: OSError) -> None:
        """A root whose stat failed for another reason than being absent: the nearest parent
        that exists is the folder that cannot be looked in (or the root itself)."""
        if not isinstance(error, PermissionError):
            return  # NotADirectoryError, a link loop ...: nothing to read there
        for parent in root.parents:
            try:
                os.stat(parent)
            except OSError:
                continue
            self._problem(str(parent), error)
            return

    def _real(self, path: str) -> str:
        """The real path of a root or a link, when paths are yielded real."""
        return os.path.realpath(path) if self.real_paths else path

    def _folder(
        self, path: str, positions: set[_Position], identity: tuple[int, int], real: str
    ) -> None:
        """Walk a folder; ``real`` is its real path (resolved once here, so a file inside
        that is not a link is ``real`` joined with its name, without a ``realpath`` each)."""
        if identity in self.visited:
            return
        self.visited.add(identity)
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except FileNotFoundError:
            sync_walk.doubt()
            return  # removed since it was found
        except OSError as error:
            self._problem(path, error)
            return
        for entry in entries:
            self._entry(entry, positions, real)

    def _entry(self, entry: os.DirEntry[str], positions: set[_Position], folder_real: str) -> None:
        real = (
            self._real(entry.path) if entry.is_symlink() else os.path.join(folder_real, entry.name)
        )
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False  # a link into a folder we may not look in: a file, reported
        if is_folder:
            inside = self._advance(self._step(positions, entry.name))
            if inside:
                try:
                    info = os.stat(entry.path)
                except OSError:
                    sync_walk.doubt()
                    return  # removed since it was listed
                sync_walk.saw(entry.path, info)
                self._folder(entry.path, inside, (info.st_dev, info.st_ino), real)
            return
        pattern = self._pattern(positions, entry.name)
        if pattern is None:
            return
        try:
            if not entry.is_file():
                os.stat(entry.path)  # a FIFO or device is kept; a link to nothing is not
        except FileNotFoundError:
            sync_walk.doubt()  # a link to nothing: it may come to point somewhere
            return
        except OSError:
            pass  # cannot tell: kept, and the sync reports why it cannot be read
        if self.real_paths and entry.is_symlink():
            sync_walk.linked(entry.path, real)
        self._add(real if self.real_paths else entry.path, pattern, self.patterns[pattern][1])

    def _step(self, positions: set[_Position], name: str) -> set[_Position]:
        """Where a folder called ``name`` is, inside a folder at ``positions``."""
        moved: set[_Position] = set()
        for index, done in positions:
            segments = self.patterns[index][0]
            if done >= len(segments) - 1:
                continue  # only a file can match the last segment
            if segments[done] == "**":
                moved.add((index, done))
            elif fnmatchcase(name, segments[done]):
                moved.add((index, done + 1))
        return moved

    def _advance(self, positions: set[_Position]) -> set[_Position]:
        """``positions`` with each ``**`` also taken as no folder at all."""
        pending, closed = list(positions), set(positions)
        while pending:
            index, done = pending.pop()
            segments = self.patterns[index][0]
            if done < len(segments) - 1 and segments[done] == "**":
                following = (index, done + 1)
                if following not in closed:
                    closed.add(following)
                    pending.append(following)
        return closed

    def _pattern(self, positions: set[_Position], name: str) -> int | None:
        """The first pattern a file called ``name`` completes, if any."""
        matching = [
            index
            for index, done in positions
            if done == len(self.patterns[index][0]) - 1
            and fnmatchcase(name, self.patterns[index][0][done])
        ]
        return min(matching) if matching else None

    def _add(self, path: str, pattern: int, kind: FileKind) -> None:
        if path not in self.paths:
            self.paths.add(path)
            self.found[pattern, path] = kind

    def _problem(self, path: str, error: OSError) -> None:
        self.problems.setdefault(path, unlisted_folder("", path, error).problem or "")


def env_paths(env: Mapping[str, str], name: str) -> list[Path] | None:
    """Paths from an ``os.pathsep``- or comma-separated environment variable, if set."""
    raw = env.get(name)
    if not raw:
        return None
    pieces = [p.strip() for chunk in raw.split(os.pathsep) for p in chunk.split(",")]
    return [Path(p).expanduser() for p in pieces if p]
