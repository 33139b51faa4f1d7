"""Zoo index (CSV + JSON) and the HTML report: per device, the searched front with chosen entries
marked (matplotlib PNG embedded as base64), LUT validation figures, and the table of entries."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from ofa.errors import ConfigError
from ofa.io import atomic_write, atomic_write_json, atomic_write_text
from ofa.zoo.results import EntryResult, FrontPoint, IndexRow

INDEX_COLUMNS = ["name", "device", "budget_ms", "stat", "limit_ms", "status", "top1", "top1_int8", "int8_drop",
                 "predicted_top1",
                 "predicted_top1_std", "latency_predicted_ms", "latency_measured_ms", "rounds", "mflops", "params_m",
                 "formats", "path"]


def index_rows(entries: list[EntryResult]) -> list[IndexRow]:
    return [IndexRow.of_entry(e) for e in entries]


def write_index(out: Path, entries: list[EntryResult]) -> list[IndexRow]:
    """``index.csv`` and ``index.json``: one flat row per entry (:meth:`IndexRow.to_json`)."""
    rows = index_rows(entries)
    data = [r.to_json() for r in rows]
    frame = pd.DataFrame(data)
    atomic_write(out / "index.csv", lambda tmp: frame.to_csv(tmp, index=False))
    atomic_write_json(out / "index.json", data)
    return rows


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend; matplotlib is the optional ``report`` extra."""
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("the zoo report's figures need matplotlib: pip install 'ofa-deploy[report]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def front_plot(device: str, front: list[FrontPoint], chosen: list[IndexRow]) -> str:
    """Accuracy vs latency scatter of the searched front with the zoo's entries marked; base64 PNG."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    if front:
        ax.scatter([p.latency_ms for p in front], [100 * p.predicted_top1 for p in front], s=12, c="#8fa8c8",
                   label="searched front (predicted)")
    for row in chosen:
        ax.scatter([row.latency_predicted_ms], [100 * row.predicted_top1], marker="*", s=160, c="#d62728", zorder=3)
        if row.latency_measured_ms is not None and row.top1 is not None:
            ax.scatter([row.latency_measured_ms], [100 * row.top1], marker="o", s=50, facecolors="none",
                       edgecolors="#2ca02c", zorder=3)
            ax.annotate(f"{row.budget_ms:g} ms", (row.latency_measured_ms, 100 * row.top1), fontsize=7,
                        xytext=(4, -10), textcoords="offset points")
    ax.scatter([], [], marker="*", s=100, c="#d62728", label="zoo entry (predicted)")
    ax.scatter([], [], marker="o", s=40, facecolors="none", edgecolors="#2ca02c", label="zoo entry (measured)")
    ax.set_xlabel(f"latency on {device} (ms)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            v = f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))
            cells.append(f"<td>{html.escape(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f3f7}td:first-child,th:first-child{text-align:left}h2{border-bottom:2px solid #ddd;margin-top:1.6em}
.bad{color:#b00}.muted{color:#777;font-size:12px}"""


def write_report(out: Path, title: str, summary: dict, devices: dict[str, dict], rows: list[IndexRow]) -> Path:
    """``devices[name] = {"front": [...], "lut_validation": {...} | None, "info": {...}}``."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             _table([{"item": k, "value": v} for k, v in summary.items()], ["item", "value"])]
    for device, info in devices.items():
        chosen = [r for r in rows if r.device == device and r.built]
        parts.append(f"<h2>{html.escape(device)}</h2>")
        parts.append(f"<p class='muted'>{html.escape(str(info.get('info', '')))}</p>")
        parts.append(f"<img alt='accuracy-latency front on {html.escape(device)}' "
                     f"src='data:image/png;base64,{front_plot(device, info.get('front', []), chosen)}'>")
        val = info.get("lut_validation")
        if val:
            parts.append("<h3>Latency prediction (end-to-end validation)</h3>")
            parts.append(_table(val["rows"], val["columns"]))
        else:
            parts.append("<p class='muted'>Latency table not validated end to end in this zoo (validate_n: 0); "
                         "the entries' measured latencies below are the check. Run <code>ofa lut validate</code>.</p>")
        device_rows = [r.to_json() for r in rows if r.device == device]
        parts.append("<h3>Entries</h3>")
        int8 = ["top1_int8", "int8_drop"] if any(r["top1_int8"] is not None for r in device_rows) else []
        parts.append(_table(device_rows, ["name", "budget_ms", "stat", "limit_ms", "status", "top1", *int8, "predicted_top1",
                                          "predicted_top1_std", "latency_predicted_ms", "latency_measured_ms", "rounds",
                                          "mflops", "params_m", "formats", "reason"]))
    parts.append("</body></html>")
    path = out / "report.html"
    atomic_write_text(path, "\n".join(parts))
    return path
