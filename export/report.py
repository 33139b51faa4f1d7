"""``export_report.json``: what was exported, how it was checked, and what was measured."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as md
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ofa.io import atomic_write_json, sha256_file
from ofa.version import __version__

REPORT_SCHEMA = 1
REPORT_NAME = "export_report.json"
_TOOLS = ("torch", "onnx", "onnxscript", "onnxruntime", "litert-torch", "ai-edge-litert", "ai-edge-quantizer",
          "tflite-runtime", "tensorrt", "polygraphy", "openvino", "nncf", "executorch", "coremltools")


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
    runtime_parity: str | None = None  # "verified" (ran in its runtime on real images) or "unverified (why)"


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


def artifact_files(path: Path) -> list[Path]:
    """The files one exported artifact consists of: a directory's files (``.mlpackage``), an OpenVINO
    ``.xml`` with its ``.bin`` weights, or the file alone."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    weights = path.with_suffix(".bin")
    return [path, weights] if path.suffix == ".xml" and weights.is_file() else [path]


def artifact_size_and_sha256(path: Path) -> tuple[int, str]:
    """Total bytes of the artifact's files, and the file's sha256 (of ``name sha256`` lines when several)."""
    import hashlib

    files = artifact_files(path)
    size = sum(f.stat().st_size for f in files)
    if files == [path]:
        return size, sha256_file(path)
    lines = "".join(f"{f.relative_to(path if path.is_dir() else path.parent).as_posix()} {sha256_file(f)}\n"
                    for f in files)
    return size, hashlib.sha256(lines.encode()).hexdigest()


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
