"""Latency models of devices as vectorised search costs (built from latency lookup tables)."""

from __future__ import annotations

from ofa.search.constraints import Cost
from ofa.spaces import SearchSpace


def load_latency_cost(spec: str, space: SearchSpace) -> tuple[str, Cost]:
    """(device name, latency cost in ms) from a LUT directory or a device name with a built LUT."""
    raise NotImplementedError  # filled in with the latency package's LUT reader
