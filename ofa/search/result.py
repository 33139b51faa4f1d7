"""What a search hands on: typed rows instead of nested dicts (``row["latency_ms"][dev]["mean"]``).

:class:`Candidate` is one described sub-network (predicted accuracy, latency on each device, FLOPs,
params); :class:`SearchOutcome` is the answer for one (device, budget): the best candidate, or why
there is none. The zoo and the CLI read these fields; ``to_json``/``from_json`` keep the flat JSON
rows that ``search_result.json`` has always held, so files written before read back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ofa.errors import ConfigError


@dataclass(frozen=True)
class LatencyEstimate:
    """A predicted latency in ms and its spread (the predictor's std)."""

    mean: float
    std: float

    def to_json(self) -> dict:
        return {"mean": self.mean, "std": self.std}


@dataclass(frozen=True)
class Candidate:
    """One sub-network as the search sees it. ``rank`` is its place among a search's top-k (0 = best
    predicted), or a label such as ``"smaller budget"`` for a network carried over from another entry."""

    subnet: Mapping[str, Any]
    arch: str
    predicted_top1: float
    predicted_top1_std: float
    latency_ms: Mapping[str, LatencyEstimate]
    mflops: float
    params_m: float
    device: str | None = None
    latency_budget_ms: float | None = None
    rank: int | str | None = None

    def latency(self, device: str) -> LatencyEstimate:
        """The predicted latency on ``device``; a clear error when the search had no model for it."""
        try:
            return self.latency_ms[device]
        except KeyError:
            raise ConfigError(f"no latency prediction for device {device!r} in {self.arch}; predicted for: "
                              f"{sorted(self.latency_ms)}") from None

    def first_latency(self) -> LatencyEstimate | None:
        """The prediction on the first (usually only) device, if any."""
        return next(iter(self.latency_ms.values()), None)

    def with_context(self, **changes) -> "Candidate":
        """A copy with ``device``, ``latency_budget_ms`` or ``rank`` set."""
        return replace(self, **changes)

    def to_json(self) -> dict:
        """The flat row of ``search_result.json`` (context fields only when set)."""
        out = {"subnet": dict(self.subnet), "arch": self.arch, "predicted_top1": self.predicted_top1,
               "predicted_top1_std": self.predicted_top1_std,
               "latency_ms": {name: est.to_json() for name, est in self.latency_ms.items()},
               "mflops": self.mflops, "params_m": self.params_m}
        for name in ("device", "latency_budget_ms", "rank"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Candidate":
        try:
            latency = {name: LatencyEstimate(float(v["mean"]), float(v["std"]))
                       for name, v in (data.get("latency_ms") or {}).items()}
            return cls(dict(data["subnet"]), str(data["arch"]), float(data["predicted_top1"]),
                       float(data.get("predicted_top1_std", 0.0)), latency, float(data["mflops"]),
                       float(data["params_m"]), data.get("device"), data.get("latency_budget_ms"), data.get("rank"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a search row (expected subnet, arch, predicted_top1, latency_ms, mflops, "
                              f"params_m): {exc!r}") from None


@dataclass(frozen=True)
class SearchOutcome:
    """The search's answer for one (device, budget): ``best``, or ``reason`` (and the fastest reachable
    network) when no sub-network meets the budget."""

    device: str | None
    latency_budget_ms: float | None
    best: Candidate | None = None
    search_seconds: float | None = None
    evaluations: int | None = None
    strategy: str | None = None
    reason: str = ""
    min_latency_ms: float | None = None
    fastest: Candidate | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. ``subnet_file`` once written

    @property
    def feasible(self) -> bool:
        return self.best is not None

    def to_json(self) -> dict:
        """The flat row of ``search_result.json``, key for key as before the typed model."""
        if self.best is not None:
            row = self.best.to_json() | {"device": self.device, "latency_budget_ms": self.latency_budget_ms,
                                         "search_seconds": self.search_seconds, "evaluations": self.evaluations,
                                         "feasible": True, "strategy": self.strategy}
        else:
            row = {"device": self.device, "latency_budget_ms": self.latency_budget_ms, "feasible": False,
                   "reason": self.reason}
            if self.fastest is not None:
                row |= {"min_latency_ms": self.min_latency_ms, "fastest": self.fastest.to_json()}
        return row | dict(self.extra)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "SearchOutcome":
        known = {"device", "latency_budget_ms", "search_seconds", "evaluations", "feasible", "strategy", "reason",
                 "min_latency_ms", "fastest", "rank"} | set(Candidate.__dataclass_fields__)
        extra = {k: v for k, v in data.items() if k not in known}
        if not data.get("feasible", True):
            fastest = Candidate.from_json(data["fastest"]) if data.get("fastest") else None
            return cls(data.get("device"), data.get("latency_budget_ms"), reason=str(data.get("reason", "")),
                       min_latency_ms=data.get("min_latency_ms"), fastest=fastest, extra=extra)
        best = Candidate.from_json({k: v for k, v in data.items() if k not in ("device", "latency_budget_ms")})
        return cls(data.get("device"), data.get("latency_budget_ms"), best, data.get("search_seconds"),
                   data.get("evaluations"), data.get("strategy"), extra=extra)

