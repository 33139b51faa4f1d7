"""The write lock of a latency table directory (:func:`ofa.locks.directory_lock`, kind ``lut``).

Two ``ofa lut build`` runs into one ``--out`` would both time every block and the last writer would win (and
their saves would interleave). Build, calibration and validation hold it; a second writer fails fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ofa.locks import directory_lock, lock_files

LOCK_FILE, OWNER_FILE = lock_files("lut")


@contextmanager
def lut_lock(out_dir: str | Path) -> Iterator[Path]:
    """Hold the write lock of table directory ``out_dir`` (created if missing) for the ``with`` block."""
    with directory_lock(out_dir, "lut", "two writers into one table would both measure every block and the "
                                        "last one would win") as held:
        yield held
