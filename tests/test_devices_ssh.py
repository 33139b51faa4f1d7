"""The SSH transport against a real sshd on loopback, end to end through profiling."""

from __future__ import annotations

import sys

import pytest

from conftest_ssh import sshd  # noqa: F401  (fixture)
from devices.spec import DeviceSpec, TransportSpec
from devices.transports import make_transport
from ofa.errors import DeviceError


def _transport(server, **extra):
    return make_transport(TransportSpec(**server.transport(**extra)), timeout_s=60)


def test_ssh_runs_argv_without_shell_injection(sshd, tmp_path):
    hostile = "a b; touch " + str(tmp_path / "pwned") + " && echo $HOME `id`"
    with _transport(sshd) as t:
        result = t.run(["printf", "%s|", hostile, "*"])
    assert result.returncode == 0
    assert result.stdout == hostile + "|*|"
    assert not (tmp_path / "pwned").exists()


def test_ssh_push_pull_and_cleanup(sshd, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(bytes(range(256)) * 100)
    t = _transport(sshd).open()
    remote = t.remote_path("model copy.bin")
    t.push(src, remote)
    back = tmp_path / "back.bin"
    t.pull(remote, back)
    assert back.read_bytes() == src.read_bytes()
    workdir = t.workdir
    assert t.run(["test", "-d", workdir]).returncode == 0
    t.close()
    assert _transport(sshd).run(["test", "-e", workdir]).returncode != 0  # temp dir removed


def test_ssh_rejects_unknown_host_key(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(DeviceError, match="connecting to ssh"):
        _transport(sshd, known_hosts=str(empty)).open()


def test_ssh_stream_timeout_and_failure(sshd):
    t = _transport(sshd)
    with pytest.raises(DeviceError, match="timed out"):
        list(t.stream(["sleep", "5"], timeout_s=1))
    with pytest.raises(DeviceError, match="exited with 3"):
        list(t.stream(["sh", "-c", "echo partial; echo broken >&2; exit 3"]))


@pytest.mark.slow
def test_profile_through_ssh_end_to_end(sshd, tmp_path):
    from devices.check import check_device
    from latency.profile import build_lut

    spec = DeviceSpec.from_dict({"name": "loopback-ort", "transport": sshd.transport(),
                                 "runner": {"kind": "onnxruntime", "threads": 1, "warmup": 2, "repeats": 5,
                                            "python": sys.executable, "env": {"MALLOC_ARENA_MAX": "2"}}})
    report = check_device(spec)
    assert report["ok"] and report["latency_ms"] > 0
    assert report["fingerprint"]["timing_env"]["MALLOC_ARENA_MAX"] == "2"  # runner.env crosses SSH as argv
    assert report["fingerprint"]["transport"].startswith("ssh ")
    assert report["fingerprint"]["runtime"].startswith("onnxruntime")
    table = build_lut(spec, "ofa_tiny_in32_d12_e34_k35_w1.0", [16], tmp_path / "lut", chunk_size=8)
    assert table.manifest["complete"] and len(table.frame) == 30
    assert (table.frame["mean_ms"] > 0).all() and (table.frame["count"] >= 1).all()
    assert table.manifest["device"]["transport"] == f"ssh {sshd.user}@127.0.0.1:{sshd.port}"
