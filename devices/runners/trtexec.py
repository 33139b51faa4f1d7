"""TensorRT ``trtexec`` on the board (Jetson over SSH). Unverified here: no TensorRT board in CI.

Each ONNX micro-model is built into an engine and timed by ``trtexec --onnx=...`` on the device.
``runner.warmup`` is trtexec's ``--warmUp`` in milliseconds, ``runner.repeats`` its ``--iterations``.
``runner.options``: ``metric`` ("GPU Compute Time" default, or "Latency"), ``use_cuda_graph`` (bool),
``extra_args`` (list of ``--flag=value``).
"""

from __future__ import annotations

from typing import Iterator, Optional

from devices.parsers import Timing, parse_trtexec
from devices.runners.base import RUNNERS, MeasureJob, Runner, shell_fingerprint
from devices.transports.base import Transport


@RUNNERS.decorator("trtexec")
class TrtexecRunner(Runner):
    kind = "trtexec"
    model_format = "onnx"
    precisions = ("fp32", "fp16", "int8")

    def binary(self) -> str:
        return self.spec.binary or "trtexec"

    def argv(self, model_path: str, job: MeasureJob) -> list[str]:
        argv = [self.binary(), f"--onnx={model_path}", f"--warmUp={self.spec.warmup}",
                f"--iterations={self.spec.repeats}", "--duration=0", "--useSpinWait"]
        if self.spec.precision != "fp32":
            argv.append(f"--{self.spec.precision}")
        if self.spec.options.get("use_cuda_graph"):
            argv.append("--useCudaGraph")
        return argv + [str(a) for a in self.spec.options.get("extra_args", [])]

    def fingerprint(self, transport: Transport) -> dict:
        info = shell_fingerprint(transport)
        result = transport.run(["cat", "/etc/nv_tegra_release"], timeout_s=30)
        info["l4t"] = result.stdout.strip() if result.returncode == 0 else None
        return info | {"runtime": f"trtexec ({self.binary()})"}

    def measure(self, transport: Transport, jobs: list[MeasureJob], paths: dict[str, str],
                anchor: Optional[MeasureJob] = None) -> Iterator[Timing]:
        metric = self.spec.options.get("metric", "GPU Compute Time")
        for job in jobs:
            result = transport.run(self.spec.env_argv(self.argv(paths[job.id], job)))
            result.check(f"trtexec on {job.id}")
            yield parse_trtexec(result.stdout + "\n" + result.stderr, job.id, metric)
