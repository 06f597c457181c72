"""The embedded engine's one-process rule, enforced with an exclusive lock on a file.

DBOS on SQLite counts a queue's running workflows outside the write transaction that claims
new ones, so two processes on one file can both see free slots and break a concurrency limit
(5 runs in 15 did, in our evaluation). The embedded engine therefore takes ``flock`` on
``<system database>.lock`` for as long as it runs; the kernel drops it when the process dies,
``kill -9`` included, so a crashed process never blocks its own restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from reelforge.errors import ConfigurationError

__all__ = ["SingleProcessLock"]


class SingleProcessLock:
    """An exclusive, non-blocking lock on ``path``, held until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            database = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise ConfigurationError(
                f"Another Reelforge process ({holder}) runs the embedded engine on {database}. "
                "The embedded mode (SQLite) runs the API and the "
                "workers in one process: stop the other process, or scale out by setting "
                "engine.system_database_url (REELFORGE_ENGINE__SYSTEM_DATABASE_URL) to a "
                "PostgreSQL URL.",
                details={"lock": str(self.path), "holder": holder},
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
