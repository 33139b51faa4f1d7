"""The Core ML device path as far as Linux goes: zipped .mlpackage micro-models, and the bench script's coreml
runtime up to the prediction, which needs macOS (the device template mac-coreml-ssh is unverified here)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import zipfile

import pytest
import torch

pytest.importorskip("coremltools", reason="coremltools is an optional extra: pip install 'ofa-deploy[coreml]'")

from devices.modelfile import export_module  # noqa: E402
from devices.runners.script import SCRIPT  # noqa: E402
from devices.spec import DeviceSpec  # noqa: E402
from ofa.errors import DeviceError  # noqa: E402

LINUX = platform.system() == "Linux"


@pytest.fixture(scope="module")
def zipped(tmp_path_factory):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    return export_module(module, torch.randn(1, 3, 8, 8), tmp_path_factory.mktemp("cm") / "m.mlpackage.zip",
                         "mlpackage.zip")


def test_micro_model_is_one_zip_holding_a_loadable_package(zipped, tmp_path):
    import coremltools as ct

    with zipfile.ZipFile(zipped) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path)
    assert "model.mlpackage/Manifest.json" in names
    spec = ct.models.MLModel(str(tmp_path / "model.mlpackage"), skip_model_load=True).get_spec()
    assert spec.WhichOneof("Type") == "mlProgram"
    assert list(spec.description.input[0].type.multiArrayType.shape) == [1, 3, 8, 8]


@pytest.mark.skipif(not LINUX, reason="checks what Linux reports; on macOS the runtime really runs")
@pytest.mark.slow
def test_timing_payload_reaches_the_macos_boundary_and_says_so(zipped, tmp_path):
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"runtime": "coreml", "options": {"compute_units": "CPU_ONLY"}, "repeats": 2,
                                "models": [{"id": "m", "path": str(zipped), "input_shape": [1, 3, 8, 8]}]}))
    result = subprocess.run([sys.executable, str(SCRIPT), str(jobs)], capture_output=True, text=True, timeout=300)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events[0]["runtime"].startswith("unavailable: Core ML predictions need macOS")
    assert result.returncode == 3 and events[-1]["event"] == "error" and "macOS" in events[-1]["message"]


@pytest.mark.skipif(not LINUX, reason="checks what Linux reports")
@pytest.mark.slow
def test_device_check_refuses_a_linux_host_with_the_reason():
    from devices.check import check_device

    device = DeviceSpec.from_dict({"name": "coreml-here", "transport": {"kind": "local"}, "runner": {"kind": "coreml"}})
    with pytest.raises(DeviceError, match="coreml is not usable .* Core ML predictions need macOS"):
        check_device(device)
