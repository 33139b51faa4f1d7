"""Profiling on real local runtimes: resumable builds, a device dropping mid-run, validation, micro-models."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import TINY
from devices.spec import DeviceSpec
from latency.blocks import enumerate_blocks
from latency.micro import ModelCache, block_module
from latency.profile import build_lut
from latency.table import LatencyTable
from ofa.errors import ArtifactError, ConfigError, DeviceError
from ofa.spaces import get_space

FAST = {"warmup": 2, "repeats": 5, "threads": 1}


def _device(name="tiny-ort", python=None, kind="onnxruntime"):
    runner = {"kind": kind, **FAST} | ({"python": str(python)} if python else {})
    return DeviceSpec.from_dict({"name": name, "transport": {"kind": "local"}, "runner": runner})


def _dropping_python(tmp_path: Path, lines_before_drop: int) -> Path:
    """An interpreter wrapper that forwards the bench script's first lines, then dies like a lost link."""
    wrapper = tmp_path / "flaky-python"
    wrapper.write_text(f"""#!{sys.executable}
import os, subprocess, sys
real, args = {sys.executable!r}, sys.argv[1:]
if "--fingerprint" in args:
    os.execv(real, [real, *args])
proc = subprocess.Popen([real, *args], stdout=subprocess.PIPE, text=True)
for n, line in enumerate(proc.stdout, 1):
    sys.stdout.write(line); sys.stdout.flush()
    if n >= {lines_before_drop}:
        proc.kill(); sys.stderr.write("Connection to board closed by remote host.\\n"); sys.exit(255)
sys.exit(proc.wait())
""")
    wrapper.chmod(0o755)
    return wrapper


@pytest.mark.slow
def test_build_survives_device_drop_and_resumes(tmp_path):
    out = tmp_path / "lut"
    flaky = _device(python=_dropping_python(tmp_path, lines_before_drop=6))  # fingerprint + 5 results
    with pytest.raises(DeviceError, match="re-run the same command") as err:
        build_lut(flaky, TINY, [16], out, chunk_size=8)
    assert "closed by remote host" in str(err.value)
    partial = LatencyTable.load(out)
    assert len(partial.frame) == 5 and not partial.manifest["complete"]
    assert not [p for p in out.iterdir() if ".tmp" in p.name]  # nothing half-written
    seen = []
    table = build_lut(_device(), TINY, [16], out, chunk_size=8, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (5, 30) and seen[-1] == (30, 30)  # continued, did not start over
    assert table.manifest["complete"] and len(table.frame) == 30
    assert (table.frame["mean_ms"] > 0).all() and table.frame["key"].is_unique
    with pytest.raises(ArtifactError, match="another --out"):
        build_lut(_device(name="other-device"), TINY, [16], out)


@pytest.mark.slow
def test_validate_and_cli_on_a_local_table(tmp_path):
    from latency.api import calibrate, load_predictor
    from latency.validate import validate_lut
    from ofa.cli.main import app

    out = tmp_path / "lut"
    dev = _device()
    build_lut(dev, TINY, [32], out, chunk_size=64)
    calibrate(out, dev, n=4)
    assert load_predictor(out).name == "calibrated_sum" and load_predictor(out).n_points == 4
    report = validate_lut(out, dev, n=10)
    assert set(report["predictors"]) == {"block_sum", "calibrated_sum", "calibrated_sum_all", "fitted_e2e"}
    assert load_predictor(out).n_points == 14  # validation networks now feed the calibrated sum too
    for metrics in report["predictors"].values():
        assert 0 <= metrics["within_10pct"] <= 1 and metrics["rmse_ms"] > 0 and -1 <= metrics["spearman"] <= 1
    saved = json.loads((out / "validation.json").read_text())
    assert saved["n"] == 10 and saved["device"]["runtime"].startswith("onnxruntime")
    runner = CliRunner()
    shown = runner.invoke(app, ["lut", "show", str(out), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["summary"]["blocks"] == "30/30"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"space": TINY, "ks": [3] * 6, "e": [3] * 6, "d": [1, 1, 1], "r": 32}))
    pred = runner.invoke(app, ["lut", "predict", str(out), "--subnet", str(cfg), "--predictor", "block_sum"])
    assert pred.exit_code == 0 and json.loads(pred.stdout)["latency_ms"] > 0
    bad = runner.invoke(app, ["lut", "build", "--device", "no-such", "--space", TINY, "--out", str(tmp_path / "x")])
    assert bad.exit_code == ConfigError.exit_code and "unknown device" in bad.output and "Traceback" not in bad.output


def test_device_cli_list_and_check():
    from ofa.cli.main import app

    runner = CliRunner()
    listed = runner.invoke(app, ["device", "list", "--json"])
    assert listed.exit_code == 0 and "local-ort-cpu" in {d["name"] for d in json.loads(listed.stdout)}
    checked = runner.invoke(app, ["device", "check", "local-ort-cpu", "--json"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["latency_ms"] > 0 and report["fingerprint"]["cores"] >= 1


def test_onnx_micro_model_matches_pytorch(tmp_path):
    import onnxruntime as ort

    from latency import micro

    space = get_space(TINY)
    block = next(b for b in enumerate_blocks(space, [32]) if b.kind == "mbconv" and b.spec.se_channels)
    module = block_module(block, space)
    path = micro.export_module(module, torch.randn(block.input_shape), tmp_path / "blk.onnx", "onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal(block.input_shape).astype(np.float32)
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, module(torch.from_numpy(x)).detach().numpy(), atol=1e-4, rtol=1e-4)
    cached = ModelCache(tmp_path / "cache", "onnx")
    assert cached.block(block, space) == cached.block(block, space)  # built once, then reused


@pytest.mark.slow
def test_tflite_block_resized_on_device_matches_pytorch(tmp_path):
    pytest.importorskip("litert_torch")
    from ai_edge_litert.interpreter import Interpreter

    from latency import micro

    space = get_space(TINY)
    block = next(b for b in enumerate_blocks(space, [16]) if b.kind == "mbconv" and b.spec.se_channels and b.stride == 2)
    module = block_module(block, space)
    path = tmp_path / "blk.tflite"
    micro.export_module(module, torch.randn(1, block.in_channels, 32, 32), path, "tflite")
    interp = Interpreter(model_path=str(path), num_threads=1)
    detail = interp.get_input_details()[0]
    for size in (block.in_size, 24):  # converted at 32, run at other sizes (how LUT blocks are timed)
        x = torch.randn(1, block.in_channels, size, size)
        interp.resize_tensor_input(detail["index"], [1, size, size, block.in_channels])
        interp.allocate_tensors()
        interp.set_tensor(detail["index"], x.permute(0, 2, 3, 1).numpy())
        interp.invoke()
        got = interp.get_tensor(interp.get_output_details()[0]["index"])
        want = module(x).detach().permute(0, 2, 3, 1).numpy()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_parallel_conversion_builds_the_same_micro_models(tmp_path):
    """Converting in spawned worker processes gives the same graphs as converting in-process."""
    import onnx

    space = get_space(TINY)
    blocks = enumerate_blocks(space, [16], 10)
    serial, parallel = ModelCache(tmp_path / "serial", "onnx"), ModelCache(tmp_path / "parallel", "onnx")
    assert parallel.prebuild(blocks, space, workers=2) == len({b.key for b in blocks})
    assert parallel.prebuild(blocks, space, workers=2) == 0  # nothing left to build
    for block in blocks:
        a, b = serial.block(block, space), parallel.block(block, space)
        assert a.name == b.name
        ops = [[n.op_type for n in onnx.load(str(p)).graph.node] for p in (a, b)]
        assert ops[0] == ops[1] and ops[0]
