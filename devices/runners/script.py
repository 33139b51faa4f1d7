"""Runners that push ``timing_payload.py`` and read its JSON lines: onnxruntime, LiteRT, PyTorch, OpenVINO, ExecuTorch,
Core ML (macOS)."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Iterator, Optional

from devices.parsers import Timing, parse_script_line, timing_from_event
from devices.runners.base import RUNNERS, MeasureJob, Runner
from devices.transports.base import Transport, tail
from ofa.errors import DeviceError

log = logging.getLogger(__name__)
SCRIPT = Path(__file__).resolve().parent.parent / "timing_payload.py"
SCRIPT_NAME = "ofa_timing_payload.py"


class ScriptRunner(Runner):
    """Times models with the pushed stdlib-only script (one process per batch of models)."""

    runtime = "abstract"
    supports_anchor = True

    def python(self, transport: Transport) -> str:
        if self.spec.python:
            return self.spec.python
        return sys.executable if transport.is_local else "python3"

    def prepare(self, transport: Transport) -> None:
        self._script = transport.remote_path(SCRIPT_NAME)
        transport.push(SCRIPT, self._script)
        self._jobs_written = 0

    def fingerprint(self, transport: Transport) -> dict:
        result = transport.run(self.spec.env_argv([self.python(transport), self._script, "--fingerprint", self.runtime]),
                               timeout_s=120)
        result.check(f"running the bench script with {self.python(transport)} on {transport.describe()}")
        events = [e for e in map(parse_script_line, result.stdout.splitlines()) if e]
        if not events or events[0].get("event") != "fingerprint":
            raise DeviceError(f"bench script printed no fingerprint. Output tail:\n{tail(result.stdout + result.stderr)}")
        info = {k: v for k, v in events[0].items() if k != "event"}
        if str(info.get("runtime", "")).startswith("unavailable"):
            raise DeviceError(f"{self.runtime} is not usable with {self.python(transport)} on {transport.describe()}: "
                              f"{info['runtime']}. Install it there, or set runner.python to an interpreter that has it.")
        return info

    def measure(self, transport: Transport, jobs: list[MeasureJob], paths: dict[str, str],
                anchor: Optional[MeasureJob] = None) -> Iterator[Timing]:
        remote_jobs = self._push_jobs(transport, jobs, paths, anchor)
        recent: deque[str] = deque(maxlen=40)
        pending = {job.id for job in jobs}
        for line in transport.stream(self.spec.env_argv([self.python(transport), self._script, remote_jobs])):
            recent.append(line)
            event = parse_script_line(line)
            if event is None:
                continue
            if event["event"] == "error":
                raise DeviceError(f"{self.runtime} failed on model {event.get('id')}: {event.get('message')}")
            if event["event"] == "result":
                timing = timing_from_event(event, "\n".join(recent))
                pending.discard(timing.id)
                yield timing
        if pending:
            raise DeviceError(f"bench script ended without timing {len(pending)} model(s). Output tail:\n"
                              + tail("\n".join(recent)))

    def _push_jobs(self, transport: Transport, jobs: list[MeasureJob], paths: dict[str, str],
                   anchor: Optional[MeasureJob]) -> str:
        doc = {"runtime": self.runtime, "threads": self.spec.threads, "warmup": self.spec.warmup,
               "repeats": self.spec.repeats, "rounds": self.spec.rounds, "options": self.spec.options,
               "anchor": {"path": paths[anchor.id], "input_shape": list(anchor.input_shape)} if anchor else None,
               "models": [{"id": j.id, "path": paths[j.id], "input_shape": list(j.input_shape)} for j in jobs]}
        self._jobs_written += 1
        remote = transport.remote_path(f"jobs-{self._jobs_written}.json")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "jobs.json"
            local.write_text(json.dumps(doc))
            transport.push(local, remote)
        return remote


@RUNNERS.decorator("onnxruntime")
class OnnxRuntimeRunner(ScriptRunner):
    """onnxruntime CPU execution provider; int8 models are QDQ files (float input, QLinear kernels inside)."""

    kind = runtime = "onnxruntime"
    model_format = "onnx"
    precisions = ("fp32", "int8")


@RUNNERS.decorator("litert")
class LiteRTRunner(ScriptRunner):
    """LiteRT interpreter (``ai_edge_litert``, falling back to ``tflite_runtime``), XNNPACK on CPU."""

    kind = runtime = "litert"
    model_format = "tflite"
    layout = "nhwc"
    precisions = ("fp32", "int8")  # int8: full-integer models (int8 input/output tensors)


@RUNNERS.decorator("pytorch")
class PyTorchRunner(ScriptRunner):
    """PyTorch eager execution of a ``torch.export`` program (``.pt2``)."""

    kind = runtime = "pytorch"
    model_format = "pt2"


@RUNNERS.decorator("openvino")
class OpenVINORunner(ScriptRunner):
    """OpenVINO CPU plugin, ``INFERENCE_PRECISION_HINT=f32`` forced (checked on the compiled model).

    Micro-models are ONNX files: OpenVINO reads them directly, so the tables time the same graphs as
    the onnxruntime device (the IR ``ofa export --format openvino`` writes is the same graph converted).
    """

    kind = runtime = "openvino"
    model_format = "onnx"


@RUNNERS.decorator("executorch")
class ExecuTorchRunner(ScriptRunner):
    """ExecuTorch runtime with the XNNPACK delegate over ``.pte`` programs (``executorch`` pybindings)."""

    kind = runtime = "executorch"
    model_format = "pte"


@RUNNERS.decorator("coreml")
class CoreMLRunner(ScriptRunner):
    """Core ML through coremltools' ``MLModel.predict`` on a Mac (SSH). Unverified here: no Mac in CI.

    Micro-models are fp32 ML Program packages, zipped into one file for the transport. ``runner.options``:
    ``compute_units`` (coremltools ``ComputeUnit`` name: ALL default, CPU_ONLY, CPU_AND_GPU, CPU_AND_NE).
    Threads are Core ML's own choice (``runner.threads`` is ignored).
    """

    kind = runtime = "coreml"
    model_format = "mlpackage.zip"
