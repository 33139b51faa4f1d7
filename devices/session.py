"""A live connection to a device: transport + runner, pushing models and collecting timings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from devices.catalog import get_device
from devices.parsers import Timing
from devices.runners import MeasureJob, make_runner
from devices.spec import DeviceSpec
from devices.transports import make_transport

log = logging.getLogger(__name__)


class DeviceSession:
    """``with DeviceSession(spec) as dev: dev.fingerprint(); dev.measure(jobs)``; cleans up on exit."""

    def __init__(self, device: "DeviceSpec | str"):
        self.spec = get_device(device)
        self.transport = make_transport(self.spec.transport, self.spec.timeout_s)
        self.runner = make_runner(self.spec.runner)
        self._fingerprint: dict | None = None

    @property
    def model_format(self) -> str:
        return self.runner.model_format

    @property
    def layout(self) -> str:
        return self.runner.layout

    def __enter__(self) -> "DeviceSession":
        self.transport.open()
        try:
            self.runner.prepare(self.transport)
        except BaseException:
            self.transport.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.transport.close()

    def fingerprint(self) -> dict:
        """Device facts plus the measurement settings (threads, precision, runner)."""
        if self._fingerprint is None:
            r = self.spec.runner
            self._fingerprint = {"device": self.spec.name, "transport": self.transport.describe(),
                                 "runner": r.kind, **self.runner.fingerprint(self.transport),
                                 "threads": r.threads, "precision": r.precision}
        return self._fingerprint

    def measure(self, jobs: list[MeasureJob]) -> Iterator[Timing]:
        """Push the jobs' models, time them, yield each timing as soon as it is read; remove them after."""
        paths = self._push(jobs)
        try:
            yield from self.runner.measure(self.transport, jobs, paths)
        finally:
            if not self.transport.is_local and paths:
                self.transport.run(["rm", "-f", "--", *sorted(set(paths.values()))], timeout_s=120)

    def _push(self, jobs: list[MeasureJob]) -> dict[str, str]:
        if self.transport.is_local:
            return {job.id: str(Path(job.model).resolve()) for job in jobs}
        paths, pushed = {}, {}
        for job in jobs:
            local = Path(job.model).resolve()
            if local not in pushed:
                pushed[local] = self.transport.remote_path(f"m{len(pushed)}-{local.name}")
                self.transport.push(local, pushed[local])
            paths[job.id] = pushed[local]
        return paths
