"""local-openvino-cpu: the OpenVINO runner times real models through the pushed bench script."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("openvino", reason="OpenVINO is an optional extra: pip install 'ofa-deploy[openvino]'")

from devices.catalog import get_device  # noqa: E402
from devices.check import check_device  # noqa: E402
from devices.runners.script import SCRIPT  # noqa: E402


def test_device_check_passes_and_fingerprints_openvino():
    report = check_device(get_device("local-openvino-cpu"))
    assert report["ok"] and report["count"] > 0 and report["latency_ms"] > 0
    assert report["fingerprint"]["runtime"].startswith("openvino 20")
    assert "f32 inference precision" in report["fingerprint"]["runtime"]


def test_timing_payload_refuses_a_model_it_cannot_compile(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"runtime": "openvino", "models": [{"id": "bad", "path": str(bad), "input_shape": [1, 3, 8, 8]}]}))
    result = subprocess.run([sys.executable, str(SCRIPT), str(jobs)], capture_output=True, text=True, timeout=120)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 3 and events[-1]["event"] == "error" and events[-1]["id"] == "bad"


def test_lut_build_times_every_block_with_openvino(tmp_path):
    from devices.spec import DeviceSpec
    from latency.profile import build_lut

    device = DeviceSpec.from_dict({"name": "tiny-ov", "transport": {"kind": "local"},
                                   "runner": {"kind": "openvino", "warmup": 2, "repeats": 5, "threads": 1}})
    table = build_lut(device, "ofa_tiny_in32_d12_e34_k35_w1.0", [16], tmp_path / "lut", chunk_size=64)
    manifest = json.loads((tmp_path / "lut" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["device"]["runtime"].startswith("openvino")
    assert len(table.frame) == manifest["n_blocks"] > 10 and (table.frame["median_ms"] > 0).all()
