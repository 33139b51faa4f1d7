"""``ofa zoo``: supernet -> latency tables -> accuracy predictor -> search -> entries -> report.

Every stage writes into ``ZOO/_work`` and is resumable or cached by its inputs, so re-running the
same command only does what is missing or changed, and a run killed at any point finishes on re-run.
An entry is built in a hidden temp folder and renamed into place when complete (card last).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ofa.io import atomic_write_json
from ofa.zoo.config import DeviceTarget, ZooConfig
from ofa.zoo.keys import safe_name
from ofa.zoo.results import EntryResult

log = logging.getLogger(__name__)
Status = Callable[[str], None]


@dataclass
class DeviceState:
    target: DeviceTarget
    lut_dir: Path
    latency_stat: str = "median"  # the declared statistic budgets promise (zoo config, else the device's)
    cost: object = None
    front: list = field(default_factory=list)  # FrontPoint: the searched front (predicted)
    budgets: list = field(default_factory=list)
    search_key: dict = field(default_factory=dict)
    winners: list = field(default_factory=list)  # entries built so far (search candidates), smallest budget first
    validation: dict | None = None
    sessions: object = None  # the run's SessionPool: one open session per device for every entry and round


class ZooBuilder:
    def __init__(self, config: ZooConfig, out: "str | Path", status: Status | None = None):
        self.config, self.out = config, Path(out)
        self.work = self.out / "_work"
        self.status = status or (lambda msg: log.info(msg))
        self.timings: dict[str, float] = {}

    # ----- the whole chain ---------------------------------------------------------------------
    def run(self) -> dict:
        """Build (or resume) the whole zoo, holding the zoo directory's write lock (a second run fails fast)."""
        from ofa.locks import directory_lock

        with directory_lock(self.out, "zoo", "two runs into one zoo would build every stage twice and overwrite "
                                             "each other's entries"):
            return self._run()

    def _run(self) -> dict:
        from devices.pool import SessionPool
        from ofa.artifacts import load_supernet
        from ofa.data import open_dataset
        from ofa.zoo.quant import export_precisions

        for target in self.config.devices:  # a device/precision mismatch fails before minutes of training
            export_precisions(target)
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.out / "zoo_config.json", self.config.model_dump(mode="json"))
        supernet_dir = self._timed("supernet", self.supernet)
        supernet = load_supernet(supernet_dir, search_space_only=True)
        source = open_dataset(self.config.data)
        devices = {t.device: DeviceState(t, self.work / "luts" / safe_name(t.device), declared_stat(t))
                   for t in self.config.devices}
        with SessionPool() as sessions:  # one session per device (and runner settings) for the whole run
            for state in devices.values():
                state.sessions = sessions
            entries = self._measured_stages(devices, supernet, supernet_dir, source)
        return self.report(supernet, devices, entries)

    def _measured_stages(self, devices: dict[str, "DeviceState"], supernet, supernet_dir: Path,
                         source) -> list[EntryResult]:
        """Latency tables, the accuracy predictor, then each device's search and entries."""
        from ofa.search.accuracy_table import SubnetEvaluator

        for state in devices.values():
            self._timed(f"lut {state.target.device}", lambda s=state: self.latency_table(s, supernet))
        predictor = self._timed("accuracy predictor", lambda: self.accuracy_predictor(supernet, supernet_dir, source))
        evaluator = SubnetEvaluator(supernet, source, self.config.bn_calib_images)
        return [entry for state in devices.values()
                for entry in self.device_entries(state, supernet, supernet_dir, evaluator, predictor)]

    def device_entries(self, state: DeviceState, supernet, supernet_dir: Path, evaluator,
                       predictor) -> list[EntryResult]:
        """The device's search (front and budgets), then its entries, smallest budget first."""
        self._timed(f"search {state.target.device}", lambda: self.search(state, supernet, predictor))
        problem = search_problem(self.config, state, supernet, predictor)
        return [self._timed(f"entries {state.target.device}", lambda b=budget: self.entry(
                    supernet, supernet_dir, evaluator, state, problem, b)) for budget in sorted(state.budgets)]

    def _timed(self, name: str, func):
        start = time.perf_counter()
        try:
            return func()
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 2)

    # ----- stages ----------------------------------------------------------------------------------
    def supernet(self) -> Path:
        from ofa.zoo.stages import supernet_stage

        return supernet_stage(self.config, self.work, self.status)

    def latency_table(self, state: DeviceState, supernet) -> None:
        from ofa.zoo.stages import latency_stage

        state.cost, state.validation = latency_stage(state.target, supernet, state.lut_dir, self.status,
                                                     state.latency_stat, state.sessions)

    def accuracy_predictor(self, supernet, supernet_dir: Path, source):
        from ofa.zoo.stages import accuracy_stage

        return accuracy_stage(self.config, supernet, supernet_dir, source, self.work / "accuracy", self.status)

    def search(self, state: DeviceState, supernet, predictor) -> None:
        from ofa.zoo.stages import search_stage

        state.front, state.budgets, state.search_key = search_stage(self.config, state, supernet, predictor,
                                                                    self.work / "search", self.status)

    def entry(self, supernet, supernet_dir: Path, evaluator, state: DeviceState, problem,
              budget_ms: float) -> EntryResult:
        from ofa.zoo.entry import build_entry

        return build_entry(self.config, self.out, supernet, supernet_dir, evaluator, state, problem, budget_ms,
                           self.status)

    def report(self, supernet, devices: dict[str, DeviceState], entries: list[EntryResult]) -> dict:
        """The index, the HTML report and the summary; ``{"rows": [IndexRow, ...], "summary": {...}}``."""
        from ofa.zoo.report import write_index, write_report

        rows = write_index(self.out, entries)
        summary = {"zoo": self.config.name, "space": supernet.space.id, "data": self.config.data,
                   "entries ok": sum(e.status == "ok" for e in entries),
                   "entries over budget": sum(e.status == "over_budget" for e in entries),
                   **({"entries int8 mismatch": n} if (n := sum(e.status == "int8_mismatch" for e in entries)) else {}),
                   "budgets infeasible": sum(e.status == "infeasible" for e in entries),
                   **{f"time: {k} (s)": v for k, v in self.timings.items()}}
        device_info = {name: {"front": s.front, "lut_validation": s.validation,
                              "info": f"{_latency_source(self.out, s)}; budgets promise the "
                                      f"{s.latency_stat} of plain timed runs, with a {100 * s.target.latency_margin:g} % "
                                      f"margin"} for name, s in devices.items()}
        write_report(self.out, f"Model zoo {self.config.name}", summary, device_info, rows)
        atomic_write_json(self.out / "zoo_summary.json", {**summary, "timings_s": self.timings})
        return {"rows": rows, "summary": summary}


def _latency_source(out: Path, state: DeviceState) -> str:
    if state.target.latency_predictor:
        return f"latency predictor fitted from end-to-end timings: {state.target.latency_predictor}"
    return f"latency table: {state.lut_dir.relative_to(out)}"


def declared_stat(target: DeviceTarget) -> str:
    """The statistic a device's budgets promise: the zoo config's, else the device declaration's."""
    from devices.catalog import get_device

    return target.latency_stat or get_device(target.device).latency_stat


def search_problem(config, state: DeviceState, supernet, predictor):
    from ofa.zoo.stages import search_problem as build

    return build(config, state, supernet, predictor)
