"""TFLite ``benchmark_model`` (Android over ADB, or any Linux board). Unverified here: no phone in CI.

Built against the tool's documented flags: ``--graph --num_threads --warmup_runs --warmup_min_secs
--num_runs --min_secs --use_xnnpack --use_gpu --input_layer --input_layer_shape``. ``runner.options``:
``use_xnnpack`` (bool, default true), ``use_gpu`` (bool), ``extra_args`` (list of ``--flag=value``).
"""

from __future__ import annotations

from typing import Iterator, Optional

from devices.parsers import Timing, parse_benchmark_model
from devices.runners.base import RUNNERS, MeasureJob, Runner, shell_fingerprint
from devices.transports.base import Transport
from ofa.errors import ConfigError


@RUNNERS.decorator("benchmark_model")
class BenchmarkModelRunner(Runner):
    kind = "benchmark_model"
    model_format = "tflite"
    layout = "nhwc"
    precisions = ("fp32", "fp16")

    def binary(self) -> str:
        if not self.spec.binary:
            raise ConfigError("runner benchmark_model needs runner.binary (e.g. /data/local/tmp/benchmark_model)")
        return self.spec.binary

    def argv(self, model_path: str, job: MeasureJob) -> list[str]:
        opts = self.spec.options
        argv = [self.binary(), f"--graph={model_path}", f"--num_threads={self.spec.threads}",
                f"--warmup_runs={self.spec.warmup}", "--warmup_min_secs=0", f"--num_runs={self.spec.repeats}",
                "--min_secs=0", f"--use_xnnpack={'true' if opts.get('use_xnnpack', True) else 'false'}"]
        if opts.get("use_gpu"):
            argv += ["--use_gpu=true", f"--gpu_precision_loss_allowed={'true' if self.spec.precision == 'fp16' else 'false'}"]
        if job.input_name:
            argv += [f"--input_layer={job.input_name}", "--input_layer_shape=" + ",".join(map(str, job.input_shape))]
        return argv + [str(a) for a in opts.get("extra_args", [])]

    def fingerprint(self, transport: Transport) -> dict:
        return shell_fingerprint(transport) | {"runtime": f"benchmark_model ({self.spec.binary})"}

    def measure(self, transport: Transport, jobs: list[MeasureJob], paths: dict[str, str],
                anchor: Optional[MeasureJob] = None) -> Iterator[Timing]:
        for job in jobs:
            result = transport.run(self.spec.env_argv(self.argv(paths[job.id], job)))
            result.check(f"benchmark_model on {job.id}")
            yield parse_benchmark_model(result.stdout + "\n" + result.stderr, job.id)
