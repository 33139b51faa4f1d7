"""Write locks of output directories: one writer at a time, a second one fails fast naming the first.

Two runs writing into one directory (a training run, an accuracy table, a zoo, a latency table) would
both do all the work and overwrite each other's files. Every builder holds ``<dir>/.ofa-<kind>.lock``, an
OS file lock (``flock`` through :mod:`filelock`) that the kernel releases when its process ends, however it
ends: a killed run never leaves a stale lock. ``<dir>/.ofa-<kind>.lock.owner`` says who holds it (pid,
host, start, command) for the message of the run that is refused. Failing fast (rather than waiting)
was chosen because a waiting second run would then redo or resume work the first one may be changing.
"""

from __future__ import annotations

import datetime as dt
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

_held: dict[tuple[str, str, int], object] = {}  # (directory, kind, thread) -> the FileLock this thread holds


def lock_files(kind: str) -> tuple[str, str]:
    """(lock file, owner file) names of a ``kind`` of builder (``lut``, ``train``, ``acc``, ``zoo``)."""
    return f".ofa-{kind}.lock", f".ofa-{kind}.lock.owner"


@contextmanager
def directory_lock(directory: "str | Path", kind: str, why: str = "") -> Iterator[Path]:
    """Hold the ``kind`` write lock of ``directory`` (created if missing) for the ``with`` block.

    Re-entrant in the thread that holds it. A directory this call created is removed again when the block
    leaves nothing in it but the lock (a run that failed its checks leaves no trace). Another process or
    thread gets a :class:`ConfigError` naming the holder; ``why`` says what two writers would break."""
    from filelock import FileLock, Timeout

    directory = Path(directory)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    lock_name, owner_name = lock_files(kind)
    key = (str(directory.resolve()), kind, threading.get_ident())
    if key in _held:
        yield directory
        return
    lock = FileLock(directory / lock_name)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        raise ConfigError(_busy_message(directory, lock_name, owner_name, why)) from None
    _held[key] = lock
    try:
        atomic_write_json(directory / owner_name, _owner())
        yield directory
    finally:
        del _held[key]
        (directory / owner_name).unlink(missing_ok=True)
        lock.release()
        if created:
            _remove_if_only(directory, {lock_name})


def _remove_if_only(directory: Path, names: set[str]) -> None:
    """Undo creating ``directory`` when the locked work wrote nothing into it (e.g. it failed its checks)."""
    try:
        if {p.name for p in directory.iterdir()} <= names:
            for name in names:
                (directory / name).unlink(missing_ok=True)
            directory.rmdir()
    except OSError:
        pass  # another process created something meanwhile: leave it


def _owner() -> dict:
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "command": " ".join(sys.argv)}


def _busy_message(directory: Path, lock_name: str, owner_name: str, why: str) -> str:
    try:
        who = json.loads((directory / owner_name).read_text())
        other = f"pid {who['pid']} on {who['host']}, started {who['started']}: {who['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        other = "another process (it has not said which yet)"
    return (f"{directory} is being written by another run ({other}); it holds the lock {directory / lock_name}. "
            f"{why + ': ' if why else ''}wait for that run to finish (re-running then resumes), or pass another "
            "--out. A killed run frees the lock by itself")
