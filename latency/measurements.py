"""End-to-end measurements of whole sub-networks from files: what ``ofa latency fit`` learns from.

A measurement file is CSV (with a header) or JSONL (one JSON object a line), written anywhere: by
``ofa device measure``, a device farm, a spreadsheet. Each row names one sub-network and its latency:

- the network: ``config`` (or ``subnet``): a sub-network JSON object or JSON text; or ``arch``: an arch
  string (``r160|35.46|...``, :meth:`ofa.subnet.SubnetConfig.from_arch_string`);
- the latency: ``latency_ms``; or ``log``: the path (relative to the file) of a ``trtexec`` or TFLite
  ``benchmark_model`` output, read with the project's parsers (trtexec: median GPU compute time;
  benchmark_model: the mean of its timed runs, the only statistic it prints);
- optionally ``statistic``: what ``latency_ms`` is (``median`` when absent; ``mean``, ``p90``, ...).

All rows of all files must share one statistic. A bad row is a :class:`DataError` naming the file and
line. A network measured more than once keeps the median of its rows.

Drift compensation. ``ofa device measure`` times a fixed anchor block between rounds of every network
and writes its fastest run as ``anchor_ms`` (see :mod:`devices.stats`). On a shared machine the whole
device runs a few percent to tens of percent slower for minutes at a time, and every network timed in
that moment is slower by the same factor. When every row has an ``anchor_ms``, each latency is rescaled
to the device's typical state: ``latency_ms * reference / anchor_ms``, where ``reference`` is the median
``anchor_ms`` over all rows (typical, not quietest: a prediction is for the device as it usually runs).
``drift=False`` (``ofa latency fit --no-drift-compensation``) keeps the raw figures.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from devices.stats import BUDGET_STATS, DEFAULT_BUDGET_STAT
from ofa.errors import ConfigError, DataError, DeviceError
from ofa.io import atomic_write, read_text_file, sha256_file
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

FORMAT_HELP = ("one row per sub-network: 'config' (sub-network JSON) or 'arch' (arch string), and 'latency_ms' "
               "(or 'log': a trtexec / benchmark_model output file), optionally 'statistic' (default median); "
               "CSV with a header or JSONL (see docs/latency_from_measurements.md)")
#: columns ``ofa device measure`` writes (readers need only the network, the latency and the statistic)
FILE_COLUMNS = ("config", "arch", "r", "latency_ms", "statistic", "device", "num_classes", "mean_ms", "median_ms",
                "min_ms", "p90_ms", "std_ms", "count", "anchor_ms", "measured_at")
MAX_MS = 1e7  # no single inference of a mobile network takes hours; larger is a unit mistake


@dataclass(frozen=True)
class Measurements:
    """Measured sub-networks of one space: configs, latency (ms) in one declared statistic, their origins."""

    configs: list[SubnetConfig]
    latency_ms: np.ndarray
    statistic: str
    sources: list[str]  # "file:line" of each row
    inputs: list[dict]  # [{"path", "sha256"}] of the files read
    num_classes: int | None = None  # from the files when they say (``ofa device measure`` writes it)
    device: str | None = None
    drift_reference_ms: float | None = None  # the anchor timing latencies were rescaled to; None: raw figures

    def __len__(self) -> int:
        return len(self.configs)

    @property
    def resolutions(self) -> list[int]:
        return sorted({c.r for c in self.configs})

    def take(self, idx: Sequence[int]) -> "Measurements":
        return Measurements([self.configs[i] for i in idx], self.latency_ms[list(idx)], self.statistic,
                            [self.sources[i] for i in idx], self.inputs, self.num_classes, self.device,
                            self.drift_reference_ms)


def read_measurements(paths: "Sequence[str | Path] | str | Path", space: SearchSpace, drift: bool = True,
                      reference_ms: float | None = None) -> Measurements:
    """Every row of the files (CSV or JSONL), validated against ``space``, drift-compensated when every row has an
    ``anchor_ms`` and ``drift`` is on (module docstring); duplicates keep their median. ``reference_ms``: the
    anchor timing to rescale to instead of the rows' median, e.g. a fitted predictor's own reference, so that
    networks measured in another session are compared in the state the predictor was fitted in."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise ConfigError(f"give at least one measurement file ({FORMAT_HELP})")
    rows: list[tuple[SubnetConfig, float, str, str]] = []
    anchors: list[float] = []
    extras: dict[str, set] = {"num_classes": set(), "device": set()}
    for path in paths:
        for where, raw in _raw_rows(path):
            rows.append(_parse_row(raw, where, path, space))
            anchors.append(_anchor(raw.get("anchor_ms"), where))
            for key in extras:
                if raw.get(key) not in (None, ""):
                    extras[key].add(str(raw[key]))
    if not rows:
        raise DataError(f"{', '.join(map(str, paths))}: no measurements; {FORMAT_HELP}")
    stats = {r[2] for r in rows}
    if len(stats) > 1:
        first = {s: next(r[3] for r in rows if r[2] == s) for s in sorted(stats)}
        raise DataError(f"measurements mix statistics {first} (statistic: first row); fit one statistic at a time")
    classes = _one_int(extras["num_classes"], "num_classes")
    reference = None
    if drift and all(math.isfinite(a) for a in anchors):
        reference = float(reference_ms) if reference_ms else float(np.median(anchors))
        rows = [(c, value * reference / a, stat, where) for (c, value, stat, where), a in zip(rows, anchors)]
    return _merge_duplicates(rows, stats.pop(), [{"path": str(p), "sha256": sha256_file(p)} for p in paths], classes,
                             next(iter(extras["device"])) if len(extras["device"]) == 1 else None, reference)


def _anchor(value: Any, where: str) -> float:
    """A row's drift-anchor timing: NaN when absent (no compensation for the file set), else positive ms."""
    if value in (None, ""):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: anchor_ms {value!r} is not a number") from None
    if number != number:
        return math.nan  # written as nan by a runner that timed no anchor
    if not (math.isfinite(number) and 0 < number <= MAX_MS):
        raise DataError(f"{where}: anchor_ms {value!r} must be a positive, finite number of milliseconds")
    return number


def _one_int(values: set, name: str) -> int | None:
    if len(values) > 1:
        raise DataError(f"the measurement files disagree on {name}: {sorted(values)}; fit networks of one head at a time")
    try:
        return int(float(values.pop())) if values else None
    except ValueError:
        raise DataError(f"{name} must be an integer, got {values}") from None


def _merge_duplicates(rows, stat: str, inputs: list[dict], num_classes, device, reference=None) -> Measurements:
    groups: dict[SubnetConfig, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row[0], []).append(i)
    configs = list(groups)
    latency = np.array([float(np.median([rows[i][1] for i in groups[c]])) for c in configs])
    sources = [rows[groups[c][0]][3] for c in configs]
    return Measurements(configs, latency, stat, sources, inputs, num_classes, device, reference)


def _raw_rows(path: Path) -> Iterator[tuple[str, dict]]:
    text = read_text_file(path, "measurement file", DataError, FORMAT_HELP)
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise DataError(f"{path}:{n}: not a JSON object ({exc}); {FORMAT_HELP}") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{n}: expected a JSON object, got {type(obj).__name__}; {FORMAT_HELP}")
            yield f"{path}:{n}", obj
        return
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        if not ({"config", "subnet", "arch"} & set(header)) or not ({"latency_ms", "log"} & set(header)):
            raise DataError(f"{path}:1: header {header} lacks a network column or a latency column; {FORMAT_HELP}")
        for row in reader:
            if None in row or None in row.values():
                raise DataError(f"{path}:{reader.line_num}: {len(header)} columns expected; {FORMAT_HELP}")
            yield f"{path}:{reader.line_num}", row
    except csv.Error as exc:
        raise DataError(f"{path}: not readable as CSV ({exc}); {FORMAT_HELP}") from None


def _parse_row(raw: dict, where: str, path: Path, space: SearchSpace) -> tuple[SubnetConfig, float, str, str]:
    try:
        cfg = _config(raw, space)
        stat = str(raw.get("statistic") or "").strip()
        if raw.get("log") not in (None, "") and raw.get("latency_ms") in (None, ""):
            value, stat_from_log = read_log(path.parent / str(raw["log"]))
            stat = stat or stat_from_log
        else:
            value = _ms(raw.get("latency_ms"))
        stat = stat or DEFAULT_BUDGET_STAT
        if stat not in BUDGET_STATS:
            raise DataError(f"statistic {stat!r} is not one of {list(BUDGET_STATS)}")
    except (ConfigError, DataError, DeviceError) as exc:
        raise DataError(f"{where}: {exc}") from None
    return cfg, value, stat, where


def _config(raw: dict, space: SearchSpace) -> SubnetConfig:
    value = raw.get("config", raw.get("subnet"))
    if value not in (None, ""):
        return SubnetConfig.from_json(value, space) if isinstance(value, str) else SubnetConfig.from_dict(value, space)
    if raw.get("arch") not in (None, ""):
        return SubnetConfig.from_arch_string(str(raw["arch"]), space)
    raise DataError("no sub-network: give 'config' (JSON) or 'arch' (arch string)")


def _ms(value: Any) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        raise DataError(f"latency_ms {value!r} is not a number") from None
    if not (math.isfinite(number) and 0 < number <= MAX_MS):
        raise DataError(f"latency_ms {value!r} must be a positive, finite number of milliseconds")
    return number


def read_log(path: Path) -> tuple[float, str]:
    """(latency ms, statistic) from a trtexec or benchmark_model output file, by its content."""
    from devices.parsers import parse_benchmark_model, parse_trtexec

    text = read_text_file(path, "measurement log", DataError, "give the path relative to the measurement file")
    if "Performance summary" in text or "trtexec" in text:
        return float(parse_trtexec(text, path.name).summary["median"]), "median"
    return float(parse_benchmark_model(text, path.name).summary["mean"]), "mean"


def write_measurement_rows(path: "str | Path", rows: list[dict]) -> None:
    """Rewrite ``path`` (CSV, :data:`FILE_COLUMNS`) with ``rows``, atomically: a kill never leaves half a row."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(FILE_COLUMNS), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def read_measurement_rows(path: "str | Path") -> list[dict]:
    """The raw rows of a file written by :func:`write_measurement_rows` (empty when it does not exist)."""
    path = Path(path)
    if not path.is_file():
        return []
    text = read_text_file(path, "measurement file", DataError, FORMAT_HELP)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or "config" not in reader.fieldnames:
        raise DataError(f"{path} exists but is not a measurement file of `ofa device measure` (no 'config' column); "
                        "pass another --out")
    return list(reader)
