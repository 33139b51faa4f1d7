"""``export_report.json``: what was exported, how it was checked, and what was measured."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ofa.io import atomic_write_json
from ofa.version import __version__

REPORT_SCHEMA = 1
REPORT_NAME = "export_report.json"
_TOOLS = ("torch", "onnx", "onnxscript", "onnxruntime", "litert-torch", "ai-edge-litert", "ai-edge-quantizer",
          "tflite-runtime", "tensorrt", "polygraphy")


@dataclass
class FormatResult:
    """One format x precision: the file, its validation against PyTorch, and its latency here."""

    format: str
    precision: str
    status: str  # passed | mismatch (kept: --allow-mismatch) | failed (file not written)
    file: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    runtime: str | None = None
    tolerance: dict | None = None
    outputs: dict[str, dict] = field(default_factory=dict)  # output name -> metrics
    failures: list[str] = field(default_factory=list)
    latency: dict | None = None
    checks: dict = field(default_factory=dict)
    engine: dict | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class ExportReport:
    out_dir: str
    settings: dict
    model: dict
    images: dict
    reference_latency: dict | None = None
    results: list[FormatResult] = field(default_factory=list)
    schema_version: int = REPORT_SCHEMA
    tool_version: str = __version__
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    tools: dict = field(default_factory=lambda: tool_versions())

    @property
    def passed(self) -> bool:
        return all(r.status == "passed" for r in self.results)

    @property
    def failures(self) -> list[str]:
        return [f"{r.format}/{r.precision}: {f}" for r in self.results for f in r.failures]

    def result(self, fmt: str, precision: str) -> FormatResult:
        return next(r for r in self.results if r.format == fmt and r.precision == precision)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON data. Files are named relative to ``out_dir``, where the report itself lies,
        so a folder written under a temporary name and moved (a zoo entry) still names its own files."""
        data = asdict(self)
        for result in data["results"]:
            if result["file"]:
                result["file"] = _relative(result["file"], self.out_dir)
        data["out_dir"] = "."
        data["passed"] = self.passed
        return data

    def write(self, path: "str | Path | None" = None) -> Path:
        return atomic_write_json(path or Path(self.out_dir) / REPORT_NAME, self.to_dict())


def tool_versions() -> dict[str, str]:
    versions = {"ofa-deploy": __version__, "python": platform.python_version()}
    for dist in _TOOLS:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _relative(file: str, out_dir: str) -> str:
    try:
        return Path(file).resolve().relative_to(Path(out_dir).resolve()).as_posix()
    except ValueError:  # written outside the report's folder: keep the full path
        return file
