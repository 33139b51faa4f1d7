"""TensorRT engines: built with the TensorRT Python API where TensorRT and a CUDA GPU exist, or by
``trtexec`` on the target board through its device transport (engines are specific to the GPU and
the TensorRT version, so they are built where they run).

TensorRT is imported lazily; nothing here is needed to write the TensorRT-ready ONNX.

int8: a QDQ ONNX (explicit quantisation, calibrated on real images by :mod:`export.onnx_quant`) is
TensorRT 10's recommended path and needs no calibrator; a plain fp32 ONNX with int8 uses
``IInt8EntropyCalibrator2`` over real images (implicit quantisation, deprecated in TensorRT 10).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np

from ofa.errors import DeviceError, ExportError
from ofa.io import atomic_write_bytes

log = logging.getLogger(__name__)


class Transport(Protocol):
    """The part of a :mod:`devices` transport (opened) that remote engine building uses."""

    def push(self, local: Path, remote: str) -> None: ...

    def run(self, argv: list[str], timeout_s: float | None = None): ...  # -> devices CommandResult

    def remote_path(self, name: str) -> str: ...


def tensorrt_unavailable_reason() -> str | None:
    """Why a local engine cannot be built here, or ``None`` when TensorRT and a CUDA GPU exist."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT Python package is not installed (pip install 'ofa-deploy[tensorrt]' on a CUDA machine)"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU is visible to PyTorch (engines are built and validated on the GPU that runs them)"
    return None


def has_qdq(onnx_path: "str | Path") -> bool:
    import onnx

    return any(n.op_type == "QuantizeLinear" for n in onnx.load(str(onnx_path), load_external_data=False).graph.node)


# ----- local build through the Python API ---------------------------------------------------------
def build_engine_local(onnx_path: "str | Path", engine_path: "str | Path", precision: str = "fp32",
                       calibration: Iterable[np.ndarray] | None = None, workspace_mb: int = 2048) -> Path:
    """Parse ``onnx_path`` with TensorRT's OnnxParser and serialise an engine to ``engine_path``."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        if not has_qdq(onnx_path):
            if calibration is None:
                raise ExportError("int8 engine from a float ONNX needs calibration images (--calib-data)")
            config.int8_calibrator = make_entropy_calibrator(calibration, Path(engine_path).with_suffix(".calib"))
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT failed to build an engine from {onnx_path} ({precision}); see the TensorRT log above")
    atomic_write_bytes(engine_path, bytes(serialized))
    log.info("built %s (%s) with TensorRT %s", engine_path, precision, trt.__version__)
    return Path(engine_path)


def make_entropy_calibrator(images: Iterable[np.ndarray], cache_path: Path):
    """An ``IInt8EntropyCalibrator2`` feeding real NCHW float32 images one at a time (GPU via torch)."""
    import tensorrt as trt
    import torch

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.images, self.device_batch = iter(images), None

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names):
            image = next(self.images, None)
            if image is None:
                return None
            batch = image[None] if image.ndim == 3 else image
            self.device_batch = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).cuda()
            return [int(self.device_batch.data_ptr())]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache) -> None:
            atomic_write_bytes(cache_path, bytes(cache))

    return EntropyCalibrator()


class TensorRTRunner:
    """Runs a serialised engine on the local GPU (tensors through torch CUDA memory)."""

    runtime = "tensorrt"

    def __init__(self, engine_path: "str | Path"):
        import tensorrt as trt
        import torch

        self.torch = torch
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self.engine is None:
            raise ExportError(f"TensorRT cannot load engine {engine_path} (built by another TensorRT version or GPU?)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.out = torch.empty(tuple(self.engine.get_tensor_shape(self.output)), dtype=torch.float32, device="cuda")
        self.stream = torch.cuda.Stream()

    def __call__(self, image_nchw: np.ndarray) -> np.ndarray:
        x = self.torch.from_numpy(np.ascontiguousarray(image_nchw, dtype=np.float32)).cuda()
        self.context.set_tensor_address(self.input, int(x.data_ptr()))
        self.context.set_tensor_address(self.output, int(self.out.data_ptr()))
        self.context.execute_async_v3(self.stream.cuda_stream)
        self.stream.synchronize()
        return self.out.cpu().numpy()


# ----- remote build with trtexec ---------------------------------------------------------------
def trtexec_argv(onnx_remote: str, engine_remote: str, precision: str, trtexec: str = "trtexec") -> list[str]:
    argv = [trtexec, f"--onnx={onnx_remote}", f"--saveEngine={engine_remote}"]
    if precision in ("fp16", "int8"):
        argv.append(f"--{precision}")
    return argv


def build_engine_remote(transport: Transport, onnx_path: "str | Path", precision: str, remote_dir: str | None = None,
                        trtexec: str = "trtexec", timeout_s: float = 1800) -> dict:
    """Push the ONNX to the board, build and time the engine there with ``trtexec``.

    ``transport`` is an opened :mod:`devices` transport (local, SSH or ADB); files go to its temp
    work directory unless ``remote_dir`` is given. The timing is read by :func:`devices.parsers.parse_trtexec`.
    """
    from devices.parsers import parse_trtexec

    name = Path(onnx_path).name
    remote = (lambda n: f"{remote_dir.rstrip('/')}/{n}") if remote_dir else transport.remote_path
    onnx_remote, engine_remote = remote(name), remote(f"{Path(name).stem}.engine")
    transport.push(Path(onnx_path), onnx_remote)
    argv = trtexec_argv(onnx_remote, engine_remote, precision, trtexec)
    try:
        result = transport.run(argv, timeout_s)
    except DeviceError as exc:
        raise ExportError(f"cannot run {trtexec} on the device: {exc}; install TensorRT there or pass its path") from exc
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-1500:]
        raise ExportError(f"trtexec failed on the device (exit {result.returncode}); output tail:\n{tail}")
    timing = parse_trtexec(result.stdout + result.stderr, name)
    latency = {f"{k}_ms": v for k, v in timing.summary.items() if k in ("median", "mean", "min", "max", "std")}
    return {"engine_remote": engine_remote, "latency": latency | {"source": "trtexec GPU Compute Time"}, "argv": argv}
