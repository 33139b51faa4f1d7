"""The local transport: the device is this machine (commands run as child processes)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from devices.transports.base import TRANSPORTS, Transport
from ofa.errors import DeviceError


class LocalTransport(Transport):
    kind = "local"

    def wrap(self, argv: list[str]) -> list[str]:
        return list(argv)

    @property
    def is_local(self) -> bool:
        return True

    def open(self) -> "LocalTransport":
        return self

    def _make_workdir(self) -> str:
        return tempfile.mkdtemp(prefix="ofa-bench.")

    def push(self, local: Path, remote: str) -> None:
        _copy(Path(local), Path(remote))

    def pull(self, remote: str, local: Path) -> None:
        _copy(Path(remote), Path(local))

    def close(self) -> None:
        if self._workdir is not None and not self.spec.workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None


def _copy(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise DeviceError(f"cannot copy {src}: no such file")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


TRANSPORTS.register("local", LocalTransport)
