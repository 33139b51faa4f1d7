"""Latency models of devices as vectorised search costs, built from latency lookup tables (or predictors
fitted from end-to-end measurements, ``ofa latency fit``: per-block tables too).

A LUT's predictor (block sum, or calibrated sum when the table has calibration measurements) exports
its mean as an :class:`~ofa.cost_table.AdditiveCost` table: exact minima for
fail-fast infeasibility checks, and microsecond scoring of whole populations. Resolutions the LUT
was not built for are never chosen.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ofa.errors import ConfigError
from ofa.search.constraints import Cost, additive_cost
from ofa.spaces import SearchSpace

log = logging.getLogger(__name__)


def _lut_dir(spec: str) -> Path:
    """The LUT directory ``spec`` names. A device *name* is refused with the command that makes its table:
    tables live wherever ``ofa lut build --out`` put them, so a name alone does not locate one."""
    path = Path(spec)
    if path.is_dir():
        return path
    make = ("made by `ofa lut build --device NAME --space SPACE --out DIR` or `ofa lut import-ofa`, or a fitted "
            "predictor directory from `ofa latency fit`")
    if _is_catalog_device(spec):
        raise ConfigError(f"--device {spec!r} is a device name, but the search needs that device's latency table: "
                          f"build it with `ofa lut build --device {spec} --space SPACE --out luts/{spec}` and pass "
                          f"--device luts/{spec}")
    what = "is a file, not a directory" if path.exists() else "does not exist"
    raise ConfigError(f"--device {spec!r} {what}; give a latency table directory ({make})")


def _is_catalog_device(name: str) -> bool:
    from devices.catalog import list_devices

    try:
        return name in {d.name for d in list_devices()}
    except ConfigError:  # a broken user device file: not this command's concern
        return False


def predictor_cost(predictor, space: SearchSpace, name: str) -> Cost:
    """Wrap a :class:`latency.LatencyPredictor` as a search cost in ms: its additive table, its spread."""
    if predictor.space.id != space.id:
        raise ConfigError(f"latency table {name!r} is for space {predictor.space.id}, the supernet is {space.id}")
    table = predictor.additive()
    if len(table.r_allowed) == 0:
        raise ConfigError(f"latency table {name!r} covers none of the space's resolutions {list(space.resolutions)}")
    return additive_cost(f"latency_ms@{name}", "ms", table, spread=lambda pop: predictor.spread(pop, table(pop)))


def load_latency_cost(spec: str, space: SearchSpace, kind: str = "auto", stat: "str | None" = None) -> tuple[str, Cost]:
    """(device name, latency cost in ms) from a LUT or fitted-predictor directory (its predictor: ``kind``), predicting the declared
    budget statistic ``stat`` (default: the table's, i.e. the device's; see :func:`latency.load_predictor`)."""
    from latency import load_predictor
    from latency.fitted import is_fitted_predictor
    from latency.table import LatencyTable

    path = _lut_dir(spec)
    if is_fitted_predictor(path):  # from `ofa latency fit`: end-to-end measurements, no table
        model = load_predictor(path, kind, target=stat)
        name = str(model.manifest.get("device") or path.name)
        return name, predictor_cost(model, space, name)
    table = LatencyTable.load(path)
    name = str(table.manifest.get("device", {}).get("device") or Path(spec).name)
    return name, predictor_cost(load_predictor(table, kind, target=stat), space, name)
