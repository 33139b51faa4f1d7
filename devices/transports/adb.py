"""ADB transport through the ``adb`` binary (Android phones). Unverified here: no phone in CI.

``adb shell`` joins its arguments with spaces and runs them through the phone's ``sh``, so each
argv element is quoted with :func:`shlex.quote` first. ``serial`` selects the phone (``adb -s``).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from devices.transports.base import TRANSPORTS, Transport, run_local

DEFAULT_WORKDIR = "/data/local/tmp/ofa-bench"


class ADBTransport(Transport):
    kind = "adb"

    def _adb(self) -> list[str]:
        return [self.spec.adb, *(["-s", self.spec.serial] if self.spec.serial else [])]

    def describe(self) -> str:
        return f"adb {self.spec.serial or '(default device)'}"

    def wrap(self, argv: list[str]) -> list[str]:
        return [*self._adb(), "shell", " ".join(shlex.quote(str(a)) for a in argv)]

    def open(self) -> "ADBTransport":
        run_local([*self._adb(), "get-state"], self.spec.connect_timeout_s + 5, self.describe()).check(
            f"reaching {self.describe()} (is it plugged in and authorised? see `adb devices`)")
        return super().open()

    def push(self, local: Path, remote: str) -> None:
        run_local([*self._adb(), "push", str(local), remote], self.timeout_s, self.describe()).check(
            f"adb push {Path(local).name}")

    def pull(self, remote: str, local: Path) -> None:
        run_local([*self._adb(), "pull", remote, str(local)], self.timeout_s, self.describe()).check(f"adb pull {remote}")

    def _make_workdir(self) -> str:
        self.run(["mkdir", "-p", DEFAULT_WORKDIR], timeout_s=60).check(f"creating {DEFAULT_WORKDIR}")
        return DEFAULT_WORKDIR

    def close(self) -> None:
        if self._workdir is not None and not self.spec.workdir:
            self.run(["rm", "-rf", "--", self._workdir], timeout_s=60)
        self._workdir = None


TRANSPORTS.register("adb", ADBTransport)
