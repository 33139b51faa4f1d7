"""A live connection to a device: transport + runner, pushing models and collecting timings."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator, Optional

from devices.catalog import get_device
from devices.parsers import Timing
from devices.passes import PassLog
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

    @property
    def uses_anchor(self) -> bool:
        """Whether timings come with drift-anchor samples (the runner can, and the device asks for it)."""
        return self.runner.supports_anchor and self.spec.runner.drift_anchor

    def measure(self, jobs: list[MeasureJob], anchor: Optional[MeasureJob] = None) -> Iterator[Timing]:
        """Push the jobs' models, time them, yield the timings; remove the models after.

        With ``runner.passes`` >= 2 the batch is timed in passes until each model settles
        (:mod:`devices.passes`) and each model's quietest pass is yielded; with one pass each timing is
        yielded as soon as it is read. If the device fails mid-way, the models timed so far are yielded
        before the error propagates. ``anchor`` is used only when :attr:`uses_anchor`.
        """
        anchor = anchor if self.uses_anchor else None
        paths = self._push(jobs + ([anchor] if anchor else []))
        try:
            if self.spec.runner.passes == 1:
                yield from self.runner.measure(self.transport, jobs, paths, anchor)
            else:
                yield from self._measure_in_passes(jobs, paths, anchor)
        finally:
            if not self.transport.is_local and paths:
                self.transport.run(["rm", "-f", "--", *sorted(set(paths.values()))], timeout_s=120)

    def _measure_in_passes(self, jobs: list[MeasureJob], paths: dict[str, str], anchor: Optional[MeasureJob]) -> Iterator[Timing]:
        r = self.spec.runner
        passes = PassLog(r.settle_tolerance)
        try:
            pending = jobs
            for i in range(max(r.passes, r.max_passes)):
                if i >= r.passes:
                    pending = [job for job in jobs if not passes.settled(job.id)]
                    if not pending:
                        break
                    time.sleep(r.settle_wait_s)  # let a burst of load (or heat) pass before the retry
                for timing in self.runner.measure(self.transport, pending, paths, anchor):
                    passes.add(timing)
        except (Exception, KeyboardInterrupt):
            yield from passes.best(job.id for job in jobs)  # keep what was measured, then fail
            raise
        unsettled = sum(not passes.settled(job.id) for job in jobs)
        if unsettled:
            log.debug("%d/%d models did not settle within %d passes", unsettled, len(jobs), r.max_passes)
        yield from passes.best(job.id for job in jobs)

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
