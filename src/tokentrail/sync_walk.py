"""What a sync saw, kept in the ledger, and the quick answer of a sync when none of it changed.

A full sync ends by keeping (in the SQLite ledger, table ``sync_walk``) a record of what
decided its work: the environment variables and configured source settings that chose where
to look, every root and folder discovery looked in with its stat (a folder's modification
time moves when an entry is added, removed or renamed in it), the files it found and their
kind, each reader's parser version, and tokentrail's own modules. Each file's size and
modification time are already in its cursor.

``tokentrail sync --quiet`` asks :func:`changed_files` first: it reads the record and the
cursors through the quick reader, stats every recorded path and file, and when everything is
exactly as recorded the sync would read nothing, so it has nothing to print either. It imports
neither click, nor the readers, nor the ledger's write side. When only some of the recorded
files changed (a transcript grown by a few turns: the usual case), discovery would find the
same files, so those alone are read (:func:`tokentrail.sync.sync_changed`), without the walk
or the other agents' readers, and the record stays true. Anything else different, missing or
unreadable, or any doubt, means the full sync runs and keeps a new record.

The record stays sound however old it is (a sync killed before writing it leaves the one
before): it says what discovery finds while its paths are unchanged, and the cursors, checked
live, say whether each of those files needs reading.

Only this module's standard-library part runs on the quick path; the store speaks SQL.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tokentrail.code_stamp import (
    Signature,
    module_signatures,
    package_folder,
    package_folders,
    signature_of,
)

RECORD_FORMAT = 1

RACY_NS = 1_000_000_000
"""A folder modified this close before the walk started may change again within the same
clock tick of its file system after it was listed, leaving the same modification time: its
signature is kept as one that never matches, so the next sync walks it again."""


def path_signature(path: str) -> Signature | None:
    """The path's signature; None when it does not exist. Raises any other ``OSError``."""
    try:
        return signature_of(os.stat(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def file_stat(path: str, kind: str) -> tuple[int, int, int, int]:
    """Device, inode, size and modification time of a log file as its cursor keeps them: an
    agent's SQLite database counts its non-empty ``-wal`` file with it (an empty one holds
    nothing, and a read-only reader such as ours creates one when the agent's last connection
    deleted it)."""
    info = os.stat(path)
    size, mtime = info.st_size, info.st_mtime_ns
    if kind == "database":
        try:
            wal = os.stat(f"{path}-wal")
        except OSError:
            pass
        else:
            if wal.st_size > 0:
                size += wal.st_size
                mtime = max(mtime, wal.st_mtime_ns)
    return info.st_dev, info.st_ino, size, mtime


def broken_links(searched: Sequence[str]) -> list[tuple[Path, str]]:
    """Each symbolic link whose target does not exist on the way to a folder sync searched
    (``~/.claude`` pointing at a moved or unmounted folder): the folder is not absent, it is
    unreachable."""
    found: dict[Path, str] = {}
    for root in searched:
        for path in (Path(root), *Path(root).parents):
            if path not in found and path.is_symlink() and not path.exists():
                try:
                    found[path] = os.readlink(path)
                except OSError:
                    found[path] = "?"
    return list(found.items())


# -- what discovery saw --------------------------------------------------------------------


class WalkLog:
    """The paths one sync's discovery looked at, with their signatures taken *before* each
    folder was listed (a change after the stat then shows as a different signature)."""

    def __init__(self) -> None:
        self.started_ns = time.time_ns()
        self.paths: dict[str, Signature | None] = {}
        self.links: dict[str, str] = {}
        self.doubtful = False

    def saw(self, path: str, info: os.stat_result | None) -> None:
        """``path`` as stat'ed (None: it did not exist)."""
        if info is None:
            self.paths.setdefault(path, None)
            return
        signature = signature_of(info)
        if info.st_mtime_ns >= self.started_ns - RACY_NS:
            signature[4] = -1  # see RACY_NS
        self.paths[path] = signature

    def linked(self, link: str, real: str) -> None:
        """A file found through a symbolic link, yielded by its real path: the link's target
        may change without any folder's modification time moving."""
        self.links[link] = real


_WATCHING: list[WalkLog] = []


@contextmanager
def watching() -> Iterator[WalkLog]:
    """Record what discovery looks at while the block runs."""
    log = WalkLog()
    _WATCHING.append(log)
    try:
        yield log
    finally:
        _WATCHING.remove(log)


def saw(path: str, info: os.stat_result | None) -> None:
    """Called by discovery for each root and folder it stats (a no-op unless watched)."""
    for log in _WATCHING:
        log.saw(path, info)


def look(path: str) -> os.stat_result | None:
    """``os.stat(path)`` for a reader that discovers its files its own way (not through
    :func:`~tokentrail.sources.discovery.find_files`), recorded as :func:`saw` records it; None when
    the path does not exist. Stat before reading what decides the files found (a folder, a
    projects file), so a change after shows."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        saw(path, None)
        return None
    except OSError:
        doubt()
        raise
    saw(path, info)
    return info


def linked(link: str, real: str) -> None:
    for log in _WATCHING:
        log.linked(link, real)


def doubt() -> None:
    """Discovery met something the record cannot describe: keep no record this time."""
    for log in _WATCHING:
        log.doubtful = True


class RecordingEnv(Mapping[str, str]):
    """The environment, remembering every variable asked for (and that it was unset)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.read: dict[str, str | None] = {}
        self.listed = False

    def __getitem__(self, key: str) -> str:
        value = self._env.get(key)
        self.read[key] = value
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        self.listed = True  # a reader looking at every variable: no record can say which
        return iter(self._env)

    def __len__(self) -> int:
        self.listed = True
        return len(self._env)


# -- the record ----------------------------------------------------------------------------


def source_settings_key(sources: Mapping[str, Any]) -> list[list[Any]]:
    """The configured per-source settings (``enabled``, ``paths``) in a comparable form."""
    return sorted(
        [
            name,
            bool(settings.enabled),
            None if settings.paths is None else [*map(str, settings.paths)],
        ]
        for name, settings in sources.items()
    )


def code_signatures() -> dict[str, Signature | None]:
    """tokentrail's own modules and folders: an upgrade or an edit (a parser version, a
    discovery pattern) changes one of them."""
    folders = package_folders()
    found: dict[str, Signature | None] = {f: signature_of(os.stat(f)) for f in folders}
    found.update(module_signatures(folders))
    return found


def make_record(
    *,
    log: WalkLog,
    env: RecordingEnv,
    sources: Mapping[str, Any],
    searched: Sequence[str],
    files: Sequence[tuple[str, str, str]],
    parsers: Mapping[str, int],
) -> bytes | None:
    """The record of a sync (``files``: path, kind and source of each file found), or None
    when it cannot be trusted to describe it."""
    if log.doubtful or env.listed:
        return None
    import json

    record = {
        "format": RECORD_FORMAT,
        "env": dict(sorted(env.read.items())),
        "sources": source_settings_key(sources),
        "package": package_folder(),
        "paths": {**log.paths, **code_signatures()},
        "links": log.links,
        "searched": list(searched),
        "files": [list(file) for file in files],
        "parsers": dict(sorted(parsers.items())),
    }
    return json.dumps(record, separators=(",", ":")).encode()


# -- the quick answer ----------------------------------------------------------------------


def changed_files(database: str | None) -> list[tuple[str, str, str]] | None:
    """The files (path, kind, source) of the last full sync's record that a sync of the
    ledger ``database`` names would read, when every other input it decides its work from is
    as recorded (so its discovery would find the same files); ``[]`` when nothing changed.
    None at any doubt: the full sync decides."""
    try:
        return _changed_files(database)
    except Exception:  # any failure here is the full sync's to find and report
        return None


def _changed_files(database: str | None) -> list[tuple[str, str, str]] | None:
    from tokentrail.config import load_config, resolve_database
    from tokentrail.store.quick_sync import read_sync_walk

    config = load_config()
    location = resolve_database(database, config)
    if "://" in location:
        return None  # a team ledger keeps no record (see tokentrail.store.postgres)
    found = read_sync_walk(location)
    if found is None:
        return None
    import json

    raw, cursors = found
    record = json.loads(raw)
    if not _settings_unchanged(record, config.sources) or not _paths_unchanged(record):
        return None
    return _files_changed(record, cursors)


def _settings_unchanged(record: dict[str, Any], sources: Mapping[str, Any]) -> bool:
    """The same variables and source settings choose the same roots."""
    if record.get("format") != RECORD_FORMAT or record.get("package") != package_folder():
        # another tokentrail's record (another install): its parsers, its schema, its rules;
        # this one's modules are in "paths", so an upgrade in place shows there
        return False
    if any(os.environ.get(key) != value for key, value in record["env"].items()):
        return False
    return bool(record["sources"] == source_settings_key(sources))


def _paths_unchanged(record: dict[str, Any]) -> bool:
    """Every root, folder and module as discovery saw it: the same files are found."""
    for path, signature in record["paths"].items():
        if path_signature(path) != signature:
            return False
    if any(os.path.realpath(link) != real for link, real in record["links"].items()):
        return False
    # a broken link on the way to a root is warned about by every sync
    return not any(_broken_link_above(root) for root in record["searched"])


def _broken_link_above(root: str) -> bool:
    """Whether :func:`broken_links` would name a link on the way to ``root``, in a few
    ``lstat`` calls: walking up from ``root``, the first path that is there ends the search
    (the kernel resolved every folder above it), as a broken link if it is a link to nothing."""
    for path in (root, *map(str, Path(root).parents)):
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            return False  # under a file: nothing above it is a link to nothing
        return stat.S_ISLNK(info.st_mode) and not os.path.exists(path)
    return False


def _files_changed(
    record: dict[str, Any], cursors: Mapping[str, tuple[int, int, int, int, int]]
) -> list[tuple[str, str, str]]:
    """The recorded files not as their cursors left them (raises for a file gone)."""
    parsers: dict[str, int] = record["parsers"]
    changed: list[tuple[str, str, str]] = []
    for path, kind, source in record["files"]:
        cursor = cursors.get(path)
        if (
            cursor is None
            or cursor[4] != parsers.get(source)
            or file_stat(path, kind) != cursor[:4]
        ):
            changed.append((path, kind, source))
    return changed
