"""Parsers for runner output. A parser that cannot read its input raises with the output's tail."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from devices.transports.base import tail
from ofa.errors import DeviceError


@dataclass
class Timing:
    """One model's timing: raw ``samples_ms`` when the runner gives them, else a ``summary``."""

    id: str
    samples_ms: Optional[list[float]] = None
    summary: dict[str, float] = field(default_factory=dict)  # mean/median/std/min/max/count, in ms
    anchor_samples_ms: Optional[list[float]] = None  # the drift anchor, timed in rounds between the samples


def _fail(what: str, text: str) -> DeviceError:
    return DeviceError(f"could not read {what} output (format changed or the run failed). Output tail:\n{tail(text)}")


def _number(token: str, what: str, text: str) -> float:
    """A finite, non-negative number from the tool's output (``1.2.3``, ``inf`` or ``1e999`` are read errors)."""
    try:
        value = float(token)
    except ValueError:
        raise _fail(f"{what} (the number {token!r})", text) from None
    if not math.isfinite(value) or value < 0:
        raise _fail(f"{what} (the number {token!r})", text)
    return value


# ----- TFLite benchmark_model ----------------------------------------------------------------------
_BM_COUNT = re.compile(r"count=(\d+)\s+first=([\d.]+)\s+curr=([\d.]+)\s+min=([\d.]+)\s+max=([\d.]+)\s+"
                       r"avg=([\d.eE+\-]+)\s+std=([\d.eE+\-]+)")
_BM_AVG = re.compile(r"Inference \(avg\):\s*([\d.eE+\-]+)")


def parse_benchmark_model(text: str, model_id: str = "") -> Timing:
    """Read TFLite ``benchmark_model`` output (timings in microseconds).

    The tool prints one ``count=.. first=.. curr=.. min=.. max=.. avg=.. std=..`` line for the
    warm-up phase and one for the timed runs; the last one is the measurement. It prints no median.
    """
    runs = _BM_COUNT.findall(text)
    if not runs:
        raise _fail("benchmark_model", text)
    count, _first, _curr, vmin, vmax, avg, std = (_number(v, "benchmark_model", text) for v in runs[-1])
    summary = {"count": count, "mean": avg / 1000, "std": std / 1000, "min": vmin / 1000, "max": vmax / 1000}
    avg_line = _BM_AVG.search(text)
    if avg_line and abs(_number(avg_line.group(1), "benchmark_model", text) - avg) > 0.01 * max(avg, 1.0):
        raise DeviceError(f"benchmark_model output is inconsistent (avg {avg} us vs Inference (avg) "
                          f"{avg_line.group(1)} us). Output tail:\n{tail(text)}")
    if summary["count"] <= 0 or summary["mean"] <= 0:
        raise _fail("benchmark_model", text)
    return Timing(model_id, summary=summary)


# ----- TensorRT trtexec ---------------------------------------------------------------------------------
_TRT_FIELDS = re.compile(r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*=\s*([\d.eE+\-]+)\s*ms")
_TRT_QUERIES = re.compile(r"Timing trace has (\d+) queries")
_TRT_CV = re.compile(r"coefficient of variance\s*=\s*([\d.]+)%", re.IGNORECASE)
_Z90 = 1.2815515655446004  # standard normal quantile at 90%


def parse_trtexec(text: str, model_id: str = "", metric: str = "GPU Compute Time") -> Timing:
    """Read the ``=== Performance summary ===`` of ``trtexec`` (TensorRT 8.x/10.x, times in ms).

    ``metric`` is the summary line to use: ``GPU Compute Time`` (default: device time without copies)
    or ``Latency`` (host-observed, with H2D/D2H). trtexec prints no standard deviation; std is taken
    from its "coefficient of variance" warning when present, else estimated as
    ``(p90 - median) / 1.2816`` (normal assumption) and flagged ``std_estimated``.
    """
    start = text.find("Performance summary")
    line = next((ln for ln in text[start:].splitlines() if f"] {metric}:" in ln or ln.strip().startswith(f"{metric}:")),
                None) if start >= 0 else None
    if line is None:
        raise _fail(f"trtexec ('{metric}' in the performance summary)", text)
    values: dict[str, float] = {}
    for name, pct, value in _TRT_FIELDS.findall(line):
        values[f"p{pct}" if pct else name] = _number(value, "trtexec", text)
    if not {"min", "max", "mean", "median"} <= set(values):
        raise _fail(f"trtexec ('{metric}' line)", text)
    summary: dict[str, Any] = {k: values[k] for k in ("min", "max", "mean", "median")}
    cv = _TRT_CV.search(text)
    if cv:
        summary["std"] = _number(cv.group(1), "trtexec", text) / 100 * values["mean"]
    elif "p90" in values:
        summary["std"], summary["std_estimated"] = max(values["p90"] - values["median"], 0.0) / _Z90, 1.0
    queries = _TRT_QUERIES.search(text)
    summary["count"] = float(queries.group(1)) if queries else float("nan")
    return Timing(model_id, summary=summary)


# ----- the pushed timing_payload.py ----------------------------------------------------------------------
def parse_script_line(line: str) -> Optional[dict[str, Any]]:
    """One JSON event of ``timing_payload.py``; ``None`` for a non-JSON line (runtime chatter)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "event" in event else None


def timing_from_event(event: dict[str, Any], output: str) -> Timing:
    samples = event.get("samples_ms")
    if not isinstance(samples, list) or not samples or not all(_valid_ms(s) for s in samples):
        raise _fail(f"timing payload (result for {event.get('id')!r} has no valid samples)", output)
    anchor = event.get("anchor_samples_ms") or None
    if anchor is not None and not (isinstance(anchor, list) and all(_valid_ms(s) for s in anchor)):
        raise _fail(f"timing payload (result for {event.get('id')!r} has invalid anchor samples)", output)
    if "id" not in event:
        raise _fail("timing payload (a result without an id)", output)
    return Timing(str(event["id"]), samples_ms=[float(s) for s in samples],
                  anchor_samples_ms=[float(s) for s in anchor] if anchor else None)


def _valid_ms(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
