"""What the zoo hands from its stages to the index and the report: typed rows, not nested dicts.

:class:`FrontPoint` is one point of a device's searched front (the report's plot, the auto budgets);
:class:`EntryResult` is one (device, budget) as built (its status, and its card as written on disk);
:class:`IndexRow` is that entry's line in ``index.json`` / ``index.csv`` and the report's tables.
``to_json`` writes the fields the cache and index files have always had, in the same order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

BUILT = ("ok", "over_budget", "int8_mismatch")  # the statuses of an entry that has files (the others: infeasible)


@dataclass(frozen=True)
class FrontPoint:
    """A sub-network on the predicted accuracy/latency front of one device."""

    latency_ms: float  # predicted mean on the device
    predicted_top1: float

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FrontPoint":
        return cls(float(data["latency_ms"]), float(data["predicted_top1"]))


@dataclass(frozen=True)
class EntryResult:
    """One (device, budget) of a zoo: ``status`` (ok, over_budget, int8_mismatch, infeasible), why, its card."""

    name: str
    device: str
    budget_ms: float
    status: str
    reason: str = ""
    card: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexRow:
    """An entry's figures as the index and the report list them (None: not measured / not built)."""

    name: str
    device: str
    budget_ms: float
    stat: str | None
    limit_ms: float | None
    status: str
    top1: float | None
    top1_int8: float | None
    int8_drop: float | None
    predicted_top1: float | None
    predicted_top1_std: float | None
    latency_predicted_ms: float | None
    latency_measured_ms: float | None
    rounds: int | None
    mflops: float | None
    params_m: float | None
    formats: str
    path: str
    reason: str

    @classmethod
    def of_entry(cls, entry: EntryResult) -> "IndexRow":
        card = entry.card
        lat, acc = card.get("latency_ms", {}), card.get("accuracy", {})
        int8 = acc.get("int8") or {}
        return cls(entry.name, entry.device, entry.budget_ms, lat.get("stat"), lat.get("limit_ms"), entry.status,
                   acc.get("top1"), int8.get("top1"), int8.get("accuracy_drop"), acc.get("predicted_top1"),
                   acc.get("predicted_top1_std"), lat.get("predicted_mean"), lat.get("measured"),
                   len(lat.get("rounds", [])) or None, card.get("mflops"), card.get("params_m"),
                   ",".join(x["format"] + ":" + x["precision"] for x in card.get("exports", [])),
                   entry.name if card.get("files") else "", entry.reason)

    @property
    def built(self) -> bool:
        return self.status in BUILT

    def to_json(self) -> dict:
        return asdict(self)
