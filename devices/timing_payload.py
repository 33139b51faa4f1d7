#!/usr/bin/env python3
"""Self-contained latency runner pushed to the device (standard library + one runtime only).

Usage on the device:
    python3 timing_payload.py --fingerprint               # one JSON line describing the device
    python3 timing_payload.py JOBS.json                   # time every model listed in JOBS.json

JOBS.json: {"runtime": "onnxruntime"|"litert"|"pytorch"|"openvino"|"executorch"|"coreml", "options": {...},
            "threads": 1, "warmup": 10, "repeats": 50,
            "rounds": 5, "anchor": {"path": ..., "input_shape": [...]} or null,
            "models": [{"id": "...", "path": "relative/or/absolute", "input_shape": [1, 3, 224, 224]}]}
Output: JSON lines, first {"event": "fingerprint", ...}, then one {"event": "result", "id", "samples_ms",
"anchor_samples_ms"} per model as soon as it is timed, or {"event": "error", "id", "message"} followed by
exit status 3. Each sample is one inference timed with time.perf_counter after ``warmup`` untimed runs.

Drift anchor: with an ``anchor`` model, each model's ``repeats`` runs are split into ``rounds`` rounds and
every round of the model follows a round of the anchor, so the anchor's timings describe the device's
state (clock, thermal throttling, a neighbour's load) at the moment the model ran. The host uses them
to put every timing on the same footing (see devices/stats.py).
Keep this file free of project imports: it runs on boards that only have Python and the runtime.
"""

import json
import os
import platform
import sys
import time


def _read(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except OSError:
        return None


def cpu_model():
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Model", "cpu model"):
        for line in text.splitlines():
            if line.startswith(key) and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def runtime_version(runtime):
    try:
        if runtime == "onnxruntime":
            import onnxruntime
            return "onnxruntime " + onnxruntime.__version__
        if runtime == "litert":
            try:
                from importlib.metadata import version
                return "ai-edge-litert " + version("ai-edge-litert")
            except Exception:
                import tflite_runtime
                return "tflite-runtime " + getattr(tflite_runtime, "__version__", "?")
        if runtime == "pytorch":
            import torch
            return "torch " + torch.__version__
        if runtime == "openvino":
            import openvino
            return "openvino " + openvino.__version__.split("-")[0] + " (CPU, f32 inference precision)"
        if runtime == "executorch":
            from importlib.metadata import version

            import executorch.runtime  # noqa: F401  (the pybindings must load, not only the package)
            return "executorch " + version("executorch") + " (XNNPACK)"
        if runtime == "coreml":
            import coremltools
            mac = platform.mac_ver()[0]
            if not mac:
                return "unavailable: Core ML predictions need macOS (coremltools %s found)" % coremltools.__version__
            return "coremltools %s (macOS %s)" % (coremltools.__version__, mac)
    except Exception as exc:  # reported, not fatal: the fingerprint says what is missing
        return "unavailable: %s" % exc
    return "unknown runtime " + runtime


def fingerprint(runtime):
    return {"event": "fingerprint", "cpu_model": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "os": platform.platform(), "hostname": platform.node(), "python": platform.python_version(),
            "runtime": runtime_version(runtime),
            "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
            "max_freq_khz": _read("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"),
            "timing_env": timing_env()}


TIMING_ENV_PREFIXES = ("MALLOC_", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "LD_PRELOAD", "XNNPACK_", "ORT_")


def timing_env():
    """The process's allocator and thread-pool variables: they change timings (runner.env sets them)."""
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(TIMING_ENV_PREFIXES)}


def _input_array(shape, dtype="float32"):
    import numpy
    return numpy.random.default_rng(0).standard_normal(shape).astype(dtype)


def make_onnxruntime(path, shape, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: _input_array(shape)}
    return lambda: sess.run(None, feed)


def _litert_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


def make_litert(path, shape, threads):
    interp = _litert_interpreter()(model_path=path, num_threads=threads)
    detail = interp.get_input_details()[0]
    if list(detail["shape"]) != list(shape):  # resolution-independent blocks are resized here
        interp.resize_tensor_input(detail["index"], list(shape))
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], _input_array(shape, detail["dtype"]))
    return interp.invoke


def make_pytorch(path, shape, threads):
    import torch
    torch.set_num_threads(threads)
    module = torch.export.load(path).module()
    x = torch.from_numpy(_input_array(shape))

    def run():
        with torch.inference_mode():
            module(x)
    return run


def make_openvino(path, shape, threads):
    """OpenVINO CPU with f32 inference precision forced (the CPU plugin runs bf16 where the CPU has it)."""
    import openvino
    config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1}
    compiled = openvino.Core().compile_model(path, "CPU", config)
    applied = compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
    if applied != "f32":
        raise RuntimeError("OpenVINO ignored INFERENCE_PRECISION_HINT=f32 (runs %s)" % applied)
    request = compiled.create_infer_request()
    x = _input_array(shape)
    return lambda: request.infer([x])


def make_executorch(path, shape, threads):
    """ExecuTorch runtime (XNNPACK delegate) over a .pte program; its threadpool set to ``threads``."""
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime
    portable_lib._unsafe_reset_threadpool(threads)
    method = Runtime.get().load_program(path).load_method("forward")
    x = torch.from_numpy(_input_array(shape))
    return lambda: method.execute([x])


OPTIONS = {}  # the runner's options from JOBS.json (coreml: compute_units)


def make_coreml(path, shape, threads):
    """Core ML through coremltools on macOS: a zipped .mlpackage, unpacked next to it, on ``compute_units``."""
    import tempfile
    import zipfile

    import coremltools
    target = tempfile.mkdtemp(prefix="ofa-coreml-")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(target)
    units = getattr(coremltools.ComputeUnit, OPTIONS.get("compute_units", "ALL"))
    model = coremltools.models.MLModel(os.path.join(target, "model.mlpackage"), compute_units=units)
    feed = {model.get_spec().description.input[0].name: _input_array(shape)}
    return lambda: model.predict(feed)


RUNTIMES = {"onnxruntime": make_onnxruntime, "litert": make_litert, "pytorch": make_pytorch,
            "openvino": make_openvino, "executorch": make_executorch, "coreml": make_coreml}


def timed_runs(run, count):
    samples = []
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        run()
        samples.append((clock() - start) * 1000.0)
    return samples


def time_model(run, warmup, repeats, anchor=None, rounds=1):
    """(model samples, anchor samples): ``repeats`` timed runs, interleaved with the anchor by round."""
    for _ in range(warmup):
        run()
    if anchor is None:
        return timed_runs(run, repeats), []
    for _ in range(warmup):
        anchor()
    rounds = max(1, min(rounds, repeats))
    samples, anchor_samples = [], []
    for i in range(rounds):
        count = repeats // rounds + (1 if i < repeats % rounds else 0)
        anchor_samples.extend(timed_runs(anchor, count))
        samples.extend(timed_runs(run, count))
    return samples, anchor_samples


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run_jobs(job_path):
    with open(job_path) as fh:
        jobs = json.load(fh)
    runtime = jobs["runtime"]
    if runtime not in RUNTIMES:
        emit({"event": "error", "id": None, "message": "unknown runtime %r; known: %s" % (runtime, sorted(RUNTIMES))})
        return 3
    emit(fingerprint(runtime))
    OPTIONS.update(jobs.get("options") or {})
    base = os.path.dirname(os.path.abspath(job_path))
    threads = int(jobs.get("threads", 1))

    def load(model):
        path = model["path"] if os.path.isabs(model["path"]) else os.path.join(base, model["path"])
        return RUNTIMES[runtime](path, model["input_shape"], threads)

    anchor = None
    if jobs.get("anchor"):
        try:
            anchor = load(jobs["anchor"])
        except Exception as exc:
            emit({"event": "error", "id": "anchor", "message": "%s: %s" % (type(exc).__name__, exc)})
            return 3
    for model in jobs["models"]:
        try:
            samples, anchor_samples = time_model(load(model), int(jobs.get("warmup", 10)), int(jobs.get("repeats", 50)),
                                                 anchor, int(jobs.get("rounds", 1)))
        except Exception as exc:
            emit({"event": "error", "id": model["id"], "message": "%s: %s" % (type(exc).__name__, exc)})
            return 3
        emit({"event": "result", "id": model["id"], "samples_ms": [round(s, 6) for s in samples],
              "anchor_samples_ms": [round(s, 6) for s in anchor_samples]})
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--fingerprint":
        emit(fingerprint(argv[2]))
        return 0
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    return run_jobs(argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
