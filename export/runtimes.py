"""Run exported files in their real runtimes (onnxruntime, LiteRT) and time them on this machine.

A runner takes one normalised NCHW float32 image batch of size 1 and returns float32 logits;
layout changes (NHWC) and int8 input/output (de)quantisation happen inside the runner.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ofa.errors import ExportError


class Runner(Protocol):
    runtime: str

    def __call__(self, image_nchw: np.ndarray) -> np.ndarray: ...


class OnnxRuntimeRunner:
    """An onnxruntime CPU session over an ONNX file."""

    runtime = "onnxruntime"

    def __init__(self, path: "str | Path", threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ExportError(f"onnxruntime cannot load {path}: {str(exc).splitlines()[0]}") from exc
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, image_nchw: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: image_nchw.astype(np.float32)})[0]


def interpreter_class():
    """``ai_edge_litert`` Interpreter, or ``tflite_runtime``'s as a fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ExportError("running TFLite needs ai-edge-litert (pip install 'ofa-deploy[tflite]') "
                              "or tflite-runtime") from None
    return Interpreter


class LiteRTRunner:
    """A LiteRT interpreter over a .tflite file; handles NHWC input and int8 input/output tensors."""

    runtime = "litert"

    def __init__(self, path: "str | Path", threads: int = 1, nhwc: bool | None = None):
        try:
            self.interpreter = interpreter_class()(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"LiteRT cannot load {path}: {str(exc).splitlines()[0]}") from exc
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        shape = [int(v) for v in self.input["shape"]]
        self.nhwc = (shape[-1] == 3 and shape[1] != 3) if nhwc is None else nhwc

    def __call__(self, image_nchw: np.ndarray) -> np.ndarray:
        x = image_nchw.transpose(0, 2, 3, 1) if self.nhwc else image_nchw
        self.interpreter.set_tensor(self.input["index"], _quantize(x, self.input))
        self.interpreter.invoke()
        return _dequantize(self.interpreter.get_tensor(self.output["index"]), self.output)


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return np.ascontiguousarray(x, dtype=np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return y.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)


def run_batch(runner: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    """Run ``images`` (N, 3, H, W) one at a time (exported files have a static batch of 1)."""
    return np.concatenate([runner(images[i : i + 1]) for i in range(len(images))])


def measure_latency(runner: Callable[[np.ndarray], np.ndarray], image: np.ndarray, warmup: int = 5,
                    repeats: int = 30) -> dict:
    """Wall-clock latency of single-image inference: median/mean/std in ms and the sample count."""
    for _ in range(warmup):
        runner(image)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(image)
        samples.append((time.perf_counter() - start) * 1e3)
    return {"median_ms": statistics.median(samples), "mean_ms": statistics.fmean(samples),
            "std_ms": statistics.pstdev(samples), "count": len(samples), "warmup": warmup}
