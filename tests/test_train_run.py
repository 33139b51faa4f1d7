"""End-to-end training on the tiny space: artifacts, SIGKILL + --resume continuing exactly, resume rules, CLI errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

import ofa
from ofa.errors import ArtifactError, ConfigError
from ofa.train import load_config, resume, train
from ofa.train.checkpoint import load_checkpoint
from ofa.train.metrics import read_metrics

# The kernel stage is made long enough (20 steps) to be killed in its middle.
OVERRIDES = ["schedule.kernel.epochs=360", "checkpoint_every=2", "log_every=1", "tensorboard=false"]
STAGES = ["full", "kernel", "depth12", "expand34"]


def state_hash(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted smoke run (in process)."""
    out = tmp_path_factory.mktemp("train") / "reference"
    result = train(load_config(preset="smoke", overrides=OVERRIDES), out)
    return result


def test_a_run_writes_a_loadable_supernet_metrics_and_validation(reference):
    run = reference.run_dir
    net = ofa.load_supernet(run / "supernet")
    assert net.space.id == "ofa_tiny_in32_d12_e34_k35_w1.0" and net.num_classes == 10
    assert state_hash(net) == state_hash(reference.supernet.cpu())
    manifest = json.loads((run / "supernet" / "manifest.json").read_text())
    assert [s["name"] for s in manifest["config"]["schedule"]] == STAGES and manifest["labels"] == [str(i) for i in range(10)]
    sub = ofa.load_subnet(run / "supernet", {"ks": [3] * 6, "e": [3] * 6, "d": [1, 2, 1], "r": 24, "space": net.space.id})
    assert sub(torch.zeros(2, 3, 24, 24)).shape == (2, 10)

    train_records = [m for m in read_metrics(run) if m["event"] == "train"]
    assert [m["step"] for m in train_records] == list(range(1, reference.global_step + 1))
    for key in ("loss", "ce", "kd", "acc", "lr", "images_per_s", "r", "stage", "epoch"):
        assert key in train_records[-1]
    assert all(m["kd"] == 0 for m in train_records if m["stage"] == "full")
    assert all(m["kd"] > 0 for m in train_records if m["stage"] != "full")

    validation = json.loads((run / "validation.json").read_text())["rows"]
    assert [r["stage"] for r in validation] == [s for s in STAGES for _ in range(3)]
    assert {r["subnet"] for r in validation} == {"largest", "smallest", "random0"}
    assert all(0.0 <= r["top1"] <= 1.0 for r in validation)
    assert load_checkpoint(run)["state"]["stage"] == len(STAGES)


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("training did not reach the kernel stage in time")
        time.sleep(0.05)


def _in_kernel_stage(run: Path) -> bool:
    try:
        records = read_metrics(run)
    except json.JSONDecodeError:  # a line being written
        return False
    return any(m.get("stage") == "kernel" and m.get("stage_step", 0) >= 5 for m in records)


@pytest.mark.slow
def test_sigkill_mid_stage_then_resume_finishes_exactly_like_an_uninterrupted_run(reference, tmp_path: Path):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "ofa.cli.main", "train", "--preset", "smoke", "--out", str(run)]
    cmd += [arg for item in OVERRIDES for arg in ("--set", item)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: _in_kernel_stage(run), proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    state = load_checkpoint(run)["state"]
    assert state["stage"] == 1 and 0 < state["step"] < 20, state  # a mid-stage checkpoint of 'kernel'
    assert not (run / "supernet").exists()

    done = subprocess.run([sys.executable, "-m", "ofa.cli.main", "train", "--resume", str(run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resuming {run} at stage 2/4, step {state['step']}" in done.stderr

    resumed = ofa.load_supernet(run / "supernet")
    assert state_hash(resumed) == state_hash(ofa.load_supernet(reference.run_dir / "supernet"))
    steps = [m["step"] for m in read_metrics(run) if m["event"] == "train"]
    assert steps == list(range(1, reference.global_step + 1))  # no lost or repeated steps
    rows = json.loads((run / "validation.json").read_text())["rows"]
    assert [r["stage"] for r in rows][::3] == STAGES
    assert [r["top1"] for r in rows] == [r["top1"] for r in reference.validation]


def test_resume_refuses_a_changed_batch_size_and_keeps_the_checkpoint(reference):
    checkpoint = reference.run_dir / "checkpoint.pt"
    before = checkpoint.stat().st_mtime_ns
    with pytest.raises(ConfigError, match=r"cannot change batch_size \(was 32\) when resuming.*smaller batch_size"):
        resume(reference.run_dir, ("batch_size=4096",))
    assert checkpoint.stat().st_mtime_ns == before


def test_resume_refuses_a_checkpoint_from_another_run(reference, tmp_path):
    """A checkpoint whose config differs from the run's config.yaml (here: another seed) is not resumed."""
    run = tmp_path / "run"
    shutil.copytree(reference.run_dir, run)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["seed"] += 1
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    before = (run / "checkpoint.pt").stat().st_mtime_ns
    with pytest.raises(ArtifactError, match=r"does not belong to the run.*seed \(checkpoint \d+, config.yaml \d+\)"):
        resume(run)
    assert (run / "checkpoint.pt").stat().st_mtime_ns == before


def test_resume_of_a_finished_run_only_rewrites_the_supernet(reference):
    result = resume(reference.run_dir, ("log_every=3",))
    assert result.global_step == reference.global_step
    assert state_hash(ofa.load_supernet(reference.run_dir / "supernet")) == state_hash(reference.supernet.cpu())


def test_cli_refuses_to_overwrite_a_run_and_reports_config_errors(reference):
    from typer.testing import CliRunner

    from ofa.cli.main import app

    runner = CliRunner()
    again = runner.invoke(app, ["train", "--preset", "smoke", "--out", str(reference.run_dir)])
    assert again.exit_code == ConfigError.exit_code and "already holds a training run" in again.output and "Traceback" not in again.output
    bad = runner.invoke(app, ["train", "--preset", "smoke", "--out", "unused", "--set", "schedule.kernel.ks=[9]"])
    assert bad.exit_code == ConfigError.exit_code and "valid ks choices: [3, 5]" in bad.output
    shown = runner.invoke(app, ["train", "--space", "ofa_tiny_in32_d12_e34_k35_w1.0", "--print-config"])
    assert shown.exit_code == 0 and "name: depth12" in shown.output
