"""One writer per table directory: a second `ofa lut build` into the same --out fails fast, a killed one frees it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO, TINY
from devices.spec import DeviceSpec
from latency.lock import LOCK_FILE, OWNER_FILE, lut_lock
from latency.profile import build_lut
from latency.table import LatencyTable
from ofa.errors import ConfigError

DEVICE = {"name": "tiny-ort", "transport": {"kind": "local"},
          "runner": {"kind": "onnxruntime", "warmup": 2, "repeats": 5, "threads": 1}}
HOLDER = """
import sys, time
from ofa.locks import directory_lock
with directory_lock(sys.argv[1], sys.argv[2]):
    print("locked", flush=True)
    time.sleep(300)
"""


@pytest.fixture
def holder():
    """Start a separate process that holds the lock of a directory (killed at the end of the test)."""
    procs = []

    def start(out_dir, kind: str = "lut") -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out_dir), kind], cwd=REPO, stdout=subprocess.PIPE,
                                text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _cli_build(device_yaml, out_dir):
    from ofa.cli.main import app

    return CliRunner().invoke(app, ["lut", "build", "--device", str(device_yaml), "--space", TINY, "--out",
                                    str(out_dir), "--resolutions", "16", "--calibrate", "0", "--num-classes", "10"])


@pytest.mark.slow
def test_second_writer_fails_fast_then_a_killed_holder_frees_the_lock(tmp_path, holder, monkeypatch):
    monkeypatch.setenv("OFA_CONVERT_WORKERS", "1")  # 30 tiny blocks convert faster in this process
    out = tmp_path / "lut"
    other = holder(out)
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        build_lut(DeviceSpec.from_dict(DEVICE), TINY, [16], out, num_classes=10)
    assert time.monotonic() - start < 10  # refused at once, not after measuring
    text = str(err.value)
    assert f"pid {other.pid}" in text and str(out / LOCK_FILE) in text and "another --out" in text
    assert not LatencyTable.exists(out) and not (out / "models").exists()  # nothing written

    device_yaml = tmp_path / "tiny-ort.yaml"
    device_yaml.write_text(yaml.safe_dump(DEVICE))
    result = _cli_build(device_yaml, out)
    assert result.exit_code == ConfigError.exit_code and f"pid {other.pid}" in result.output

    other.kill()  # a run killed mid-build: the kernel drops its lock
    other.wait()
    assert (out / OWNER_FILE).is_file()  # its note is left behind, and does not block
    result = _cli_build(device_yaml, out)
    assert result.exit_code == 0, result.output
    table = LatencyTable.load(out)
    assert table.manifest["complete"] and len(table.frame) == 30
    assert not (out / OWNER_FILE).exists()  # released after the build


def test_lock_is_reentrant_in_its_thread_and_refused_to_another(tmp_path):
    refused = []

    def other_thread():
        try:
            with lut_lock(tmp_path):
                refused.append(False)
        except ConfigError as exc:
            refused.append(str(exc))

    with lut_lock(tmp_path):
        with lut_lock(tmp_path):  # what the CLI does: build + calibration inside its own lock
            pass
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert refused and refused[0] and "is being written by another run" in refused[0]
    with lut_lock(tmp_path):  # free again after the outer block
        pass


def test_calibration_into_a_locked_table_is_refused(tmp_path, holder):
    from latency.api import calibrate
    from test_bad_input_support import write_lut

    lut = tmp_path / "lut"
    write_lut(lut)
    before = sorted(p.name for p in lut.iterdir())
    other = holder(lut)
    with pytest.raises(ConfigError, match=f"pid {other.pid}"):
        calibrate(lut, DeviceSpec.from_dict(DEVICE), n=2)
    assert not (lut / "e2e.csv").exists()
    assert sorted(p.name for p in lut.iterdir() if not p.name.startswith(".ofa-lut")) == before


def test_validation_into_a_locked_table_is_refused(tmp_path, holder):
    from latency.validate import validate_lut
    from test_bad_input_support import write_lut

    lut = tmp_path / "lut"
    write_lut(lut)
    other = holder(lut)
    with pytest.raises(ConfigError, match=f"pid {other.pid}"):
        validate_lut(lut, DeviceSpec.from_dict(DEVICE), n=10)
    assert not (lut / "e2e.csv").exists() and not (lut / "validation.json").exists()


@pytest.mark.parametrize("kind", ["train", "acc", "zoo"])
def test_every_builder_directory_has_one_writer(tmp_path, kind):
    """The training run, accuracy table and zoo directories use the same lock as the tables."""
    from ofa.locks import directory_lock

    with directory_lock(tmp_path, kind):
        with directory_lock(tmp_path, kind):  # re-entrant in its thread
            pass
        refused = []
        thread = threading.Thread(target=lambda: _try(lambda: directory_lock(tmp_path, kind), refused))
        thread.start()
        thread.join()
        assert refused and "is being written by another run" in refused[0]
        assert (tmp_path / f".ofa-{kind}.lock.owner").is_file()
    assert not (tmp_path / f".ofa-{kind}.lock.owner").exists()


def test_a_second_training_run_into_a_locked_directory_fails_fast(tmp_path, holder):
    from ofa.train import load_config, train

    other = holder(tmp_path / "run", kind="train")
    with pytest.raises(ConfigError, match=f"pid {other.pid}"):
        train(load_config("smoke"), tmp_path / "run")
    assert not (tmp_path / "run" / "config.yaml").exists()


def _try(make_lock, refused: list) -> None:
    try:
        with make_lock():
            refused.append(False)
    except ConfigError as exc:
        refused.append(str(exc))
