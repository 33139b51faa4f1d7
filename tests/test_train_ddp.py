"""DDP: two CPU processes (gloo) launched by torchrun train the tiny space and stay in sync; only rank 0 writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ofa
from ofa.train.checkpoint import load_checkpoint
from ofa.train.metrics import read_metrics

# Each rank trains into its own --out (rank 1's must stay untouched) and writes a hash of its weights.
WORKER = """
import hashlib, os, sys
from pathlib import Path
from ofa.train import load_config, train

base, rank = Path(sys.argv[1]), int(os.environ["RANK"])
result = train(load_config(preset="smoke", overrides=["tensorboard=false"]), base / f"run-rank{rank}")
digest = hashlib.sha256()
for key, tensor in sorted(result.supernet.state_dict().items()):
    digest.update(key.encode())
    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
(base / f"hash-{rank}.json").write_text(f'{{"hash": "{digest.hexdigest()}", "steps": {result.global_step}}}')
"""


@pytest.mark.slow
def test_two_gloo_ranks_hold_identical_weights_and_only_rank0_writes(tmp_path: Path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(script), str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]

    hashes = [json.loads((tmp_path / f"hash-{rank}.json").read_text()) for rank in (0, 1)]
    assert hashes[0]["steps"] == hashes[1]["steps"] == 31  # the same schedule as one process (global batch 32)
    assert hashes[0]["hash"] == hashes[1]["hash"]

    run = tmp_path / "run-rank0"
    assert not (tmp_path / "run-rank1").exists()
    assert ofa.load_supernet(run / "supernet").num_classes == 10
    checkpoint = load_checkpoint(run)
    assert checkpoint["world_size"] == 2 and len(checkpoint["rng"]) == 2
    assert not (checkpoint["rng"][0]["torch"] == checkpoint["rng"][1]["torch"]).all()  # ranks augment differently
    assert [m["step"] for m in read_metrics(run) if m["event"] == "train"][-1] == 31
