"""tokentrail's own code, as file signatures: what an upgrade, or an edit of an editable
install, changes. The answers the ledger keeps (:mod:`tokentrail.cached_reports`) and the
record of the last sync's walk (:mod:`tokentrail.sync_walk`) go stale when it does.

Standard library only: both are read on the quick paths of :mod:`tokentrail.launch`.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # typing is not imported on the quick paths
if TYPE_CHECKING:
    from collections.abc import Iterable

Signature = list[int]
"""A path's file type, device, inode, size, modification and change times (ns)."""


def signature_of(info: os.stat_result) -> Signature:
    return [
        stat.S_IFMT(info.st_mode),
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    ]


def package_folder() -> str:
    """The folder of the installed ``tokentrail`` package."""
    return os.path.dirname(os.path.abspath(__file__))


def package_folders() -> list[str]:
    """The package's folder and every folder below it (bytecode caches left out)."""
    folders, pending = [], [package_folder()]
    while pending:
        folder = pending.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            pending.extend(
                entry.path
                for entry in entries
                if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__"
            )
    return folders


def module_signatures(folders: Iterable[str]) -> dict[str, Signature]:
    """Each Python module directly in ``folders``, with its signature."""
    found: dict[str, Signature] = {}
    for folder in folders:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                    found[entry.path] = signature_of(entry.stat())
    return found
