"""One bot process per SQLite file: an OS lock on `<database>.lock`, held until the process ends.

A second process on the same file would serve stale glossary text and moderator settings, because each
process keeps its views in memory; PostgreSQL is the store for several processes. The lock is the kernel's
(flock), so it goes away with the process however it ends, `kill -9` included: no stale lock to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

_held: dict[Path, int] = {}  # lock file → its open descriptor, kept for the process lifetime


class DatabaseInUseError(RuntimeError):
    """Another process holds the SQLite database; the message is one line a host can act on."""


def lock_path(database: Path) -> Path:
    """Where the lock of an SQLite database file lives."""
    return database.with_name(database.name + ".lock")


def hold_sqlite_lock(database: Path) -> None:
    """Take the database's lock for the rest of this process (again in the same process: nothing to do)."""
    path = lock_path(database).resolve()
    if path in _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
        os.close(descriptor)
        who = f"(pid {holder}) " if holder.isdigit() else ""
        raise DatabaseInUseError(
            f"Another Immunobot process {who}is using the SQLite database {database}; SQLite serves one process, "
            "so to run several set DATABASE_URL=postgresql://... for all of them."
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    _held[path] = descriptor


def release_sqlite_lock(database: Path) -> None:
    """Give the lock back before the process ends (tests; a process that switches databases)."""
    descriptor = _held.pop(lock_path(database).resolve(), None)
    if descriptor is not None:
        with contextlib.suppress(OSError):
            os.close(descriptor)
