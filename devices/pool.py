"""Open device sessions shared by a whole run: one connection per (device, runner settings).

Opening a session connects the transport and pushes the runner's payload (SSH/adb: seconds each). A run
that measures many models on one device (a zoo: every entry, every closed-loop round) asks the pool
for the device's session instead, and the pool closes them all when the run ends.
"""

from __future__ import annotations

from contextlib import ExitStack

from devices.session import DeviceSession
from devices.spec import DeviceSpec


class SessionPool:
    """``with SessionPool() as pool: pool.session(spec).measure(jobs)``; a session opens on first use.

    Sessions are keyed by the whole spec, so one device under two runner settings (say, the profiling
    defaults and a plain timing loop) gets two sessions, each measuring as its settings say."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._open: dict[str, DeviceSession] = {}

    def __enter__(self) -> "SessionPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def session(self, spec: DeviceSpec) -> DeviceSession:
        """The open session for ``spec``, opened (and entered) the first time it is asked for."""
        key = spec.model_dump_json()
        if key not in self._open:
            self._open[key] = self._stack.enter_context(DeviceSession(spec))
        return self._open[key]

    def __len__(self) -> int:
        return len(self._open)

    def close(self) -> None:
        """Close every session opened so far (the last opened first)."""
        self._open.clear()
        self._stack.close()
