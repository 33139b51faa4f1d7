"""What an exporter receives (:class:`ExportContext`) and returns (:class:`Exported`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from export.metadata import model_metadata


@dataclass
class ExportContext:
    """One sub-network being exported: the reference model, real images and the user's settings."""

    model: nn.Module
    calibration: np.ndarray  # (N, 3, r, r) float32, normalised like the model's input
    out_dir: Path  # where exporters write the files they produce (a staging directory)
    work_dir: Path  # scratch space for intermediate files shared between formats
    validation: np.ndarray | None = None  # (M, 3, r, r) float32 validation images
    nhwc: bool = False
    opset: int = 20
    dynamic_batch: bool = False
    threads: int = 1
    transport: Any = None  # export.tensorrt_export.Transport, for trtexec on a board
    remote_dir: str | None = None  # default: the transport's own temp work directory
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def example(self) -> torch.Tensor:
        return torch.from_numpy(self.calibration[:1].copy())

    def metadata(self, precision: str, layout: str = "NCHW") -> dict:
        return model_metadata(self.model, precision, layout)

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` once per context (e.g. the fp32 conversion shared by fp16 and int8)."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]


@dataclass
class Exported:
    """A written file and how to validate it."""

    path: Path
    runner: Callable[[], Callable[[np.ndarray], np.ndarray]] | None  # factory of the runtime; None: see unverified
    runtime: str  # name of that runtime
    tolerance: str  # precision whose tolerance applies to what the runtime runs
    checks: dict = field(default_factory=dict)  # format-specific checks (TensorRT readiness)
    engine: dict | None = None  # TensorRT engine result: built / skipped with the reason
    notes: list[str] = field(default_factory=list)
    unverified: str | None = None  # why no runtime can run the file here (runner None): reported, never skipped
