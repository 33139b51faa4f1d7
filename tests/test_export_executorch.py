"""The executorch format: .pte (XNNPACK) fp32 and PT2E int8, validated in the ExecuTorch runtime; its device."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("executorch.runtime", reason="ExecuTorch is an optional extra: pip install 'ofa-deploy[executorch]'")

from conftest import TINY  # noqa: E402
from export.api import export_model  # noqa: E402
from export.executorch_format import ExecuTorchRunner, read_executorch_metadata  # noqa: E402
from export.validate import TOLERANCES  # noqa: E402
from ofa.errors import ExportError  # noqa: E402
from test_export_support import make_subnet  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = make_subnet(TINY, seed=0, resolution=32, epochs=2)
    out = tmp_path_factory.mktemp("et")
    return net, export_model(net, "executorch", "fp32,int8", out, calib_images=100, val_images=128, latency_repeats=5)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_pte_passes_parity_in_the_executorch_runtime(exported, precision):
    net, report = exported
    result = report.result("executorch", precision)
    assert result.status == "passed", result.failures
    assert result.runtime_parity == "verified" and result.checks["xnnpack_delegate"]
    metrics = result.outputs["logits"]
    assert metrics["images"] == 128 and metrics["top1_agreement"] >= TOLERANCES[precision].min_top1_agreement
    if precision == "fp32":
        assert metrics["max_abs_diff"] < 1e-4
    else:
        assert metrics["accuracy_reference"] > 0.4 and metrics["accuracy_drop"] <= TOLERANCES["int8"].max_accuracy_drop
    meta = read_executorch_metadata(result.file)
    assert meta["space"] == TINY and meta["subnet"] == net.config.to_dict() and meta["precision"] == precision


def test_int8_program_is_smaller_and_fp16_is_refused(exported, tmp_path):
    net, report = exported
    assert report.result("executorch", "int8").size_bytes < 0.6 * report.result("executorch", "fp32").size_bytes
    from ofa.errors import ConfigError

    with pytest.raises(ConfigError, match="no precision 'fp16'"):
        export_model(net, "executorch", "fp16", tmp_path)


def test_runner_rejects_a_corrupt_program(tmp_path):
    bad = tmp_path / "bad.pte"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ExportError, match="ExecuTorch cannot load"):
        ExecuTorchRunner(bad)


@pytest.mark.slow
def test_device_check_and_timing_payload_with_executorch(exported):
    from devices.catalog import get_device
    from devices.check import check_device

    report = check_device(get_device("local-executorch-cpu"))
    assert report["ok"] and report["latency_ms"] > 0 and report["model"].endswith("(pte, fp32)")
    assert report["fingerprint"]["runtime"].startswith("executorch 1.")
    _, export_report = exported
    runner = ExecuTorchRunner(export_report.result("executorch", "fp32").file)
    assert runner(np.zeros((1, 3, 32, 32), np.float32)).shape == (1, 10)
    assert json.dumps(report)  # the check's report is plain JSON data


@pytest.mark.slow
def test_table_blocks_are_built_as_pte_and_timed_like_lut_build(tmp_path):
    """The path `ofa lut build --device local-executorch-cpu` takes, on three blocks (the whole tiny table
    takes minutes of XNNPACK lowering here; docs/devices_and_latency.md)."""
    from devices.catalog import get_device
    from devices.session import DeviceSession
    from latency.blocks import enumerate_blocks
    from latency.micro import ModelCache
    from latency.profile import block_job
    from ofa.spaces import get_space

    space = get_space(TINY)
    blocks = [b for b in enumerate_blocks(space, [16], 10) if b.kind in ("stem", "mbconv", "classifier")][:3]
    cache = ModelCache(tmp_path, "pte")
    with DeviceSession(get_device("local-executorch-cpu")) as session:
        jobs = [block_job(b, space, cache, session.layout) for b in blocks]
        timings = {t.id: t for t in session.measure(jobs)}
    assert all(job.model.suffix == ".pte" and job.model.stat().st_size > 0 for job in jobs)
    assert set(timings) == {job.id for job in jobs}
    assert all(len(t.samples_ms) > 0 and min(t.samples_ms) > 0 for t in timings.values())
