"""The write lock of a latency table directory: one writer at a time, the others fail fast.

Two ``ofa lut build`` runs into one ``--out`` would both time every block and the last writer would win
(and their saves would interleave). The lock is an OS file lock (``flock`` through :mod:`filelock`) on
``<out>/.ofa-lut.lock``; the kernel releases it when its process ends, however it ends, so a killed run never
leaves a stale lock. ``<out>/.ofa-lut.lock.owner`` says who holds it (pid, host, start, command) for the
error message of the run that is refused.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ofa.errors import ConfigError
from ofa.io import atomic_write_json

LOCK_FILE, OWNER_FILE = ".ofa-lut.lock", ".ofa-lut.lock.owner"
_held: dict[tuple[str, int], object] = {}  # (table directory, thread) -> the FileLock this thread holds


@contextmanager
def lut_lock(out_dir: str | Path) -> Iterator[Path]:
    """Hold the write lock of table directory ``out_dir`` (created if missing) for the ``with`` block.

    Fails fast with a :class:`ConfigError` naming the other run when another process (or thread) holds it:
    two builds into one directory would both time every block and the last writer would win. Re-entrant in
    the thread that holds it (the CLI holds it around build + calibration). The lock is an OS file lock
    (``flock``), which the kernel releases when its process dies, so a killed run never leaves it stuck.
    """
    from filelock import FileLock, Timeout

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = (str(out_dir.resolve()), threading.get_ident())
    if key in _held:
        yield out_dir
        return
    lock = FileLock(out_dir / LOCK_FILE)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise ConfigError(_busy_message(out_dir)) from None
    _held[key] = lock
    try:
        atomic_write_json(out_dir / OWNER_FILE, _owner())
        yield out_dir
    finally:
        del _held[key]
        (out_dir / OWNER_FILE).unlink(missing_ok=True)
        lock.release()


def _owner() -> dict:
    from latency.table import now

    return {"pid": os.getpid(), "host": socket.gethostname(), "started": now(), "command": " ".join(sys.argv)}


def _busy_message(out_dir: Path) -> str:
    try:
        who = json.loads((out_dir / OWNER_FILE).read_text())
        other = f"pid {who['pid']} on {who['host']}, started {who['started']}: {who['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        other = "another process (it has not said which yet)"
    return (f"{out_dir} is being written by another run ({other}); it holds the lock {out_dir / LOCK_FILE}. "
            "Two writers into one table would both measure every block and the last one would win: wait for "
            "that run to finish (re-running then resumes), or pass another --out. A killed run frees the lock "
            "by itself")
