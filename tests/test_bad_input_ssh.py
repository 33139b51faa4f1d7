"""The SSH transport's file copies with a configured ``workdir`` holding shell-special characters: the path is
one quoted argv element for the board's shell, never shell text (real sshd on loopback for the round trip)."""

from __future__ import annotations

import shlex

from conftest_ssh import sshd  # noqa: F401  (fixture)
from devices.spec import TransportSpec
from devices.transports import make_transport

HOSTILE = "work dir 'q' $HOME; `id` *"


def test_copy_commands_pass_the_remote_path_as_one_argument():
    t = make_transport(TransportSpec(kind="ssh", host="board.local", user="me"))  # nothing connects here
    remote = f"/tmp/{HOSTILE}/model 1.onnx"
    push, pull = t.push_argv(remote), t.pull_argv(remote)
    assert push[0] == "ssh" and push[-2] == "me@board.local"
    assert shlex.split(push[-1]) == ["sh", "-c", 'cat > "$1"', "sh", remote]  # what the board's shell runs
    assert shlex.split(pull[-1]) == ["cat", "--", remote]


def test_push_and_pull_into_a_workdir_with_spaces_quotes_and_dollars(sshd, tmp_path):  # noqa: F811
    workdir = tmp_path / HOSTILE
    src = tmp_path / "model.bin"
    src.write_bytes(bytes(range(256)) * 64)
    spec = TransportSpec(**sshd.transport(workdir=str(workdir)))
    with make_transport(spec, timeout_s=60) as t:
        remote = t.remote_path("model copy.bin")
        t.push(src, remote)
        assert (workdir / "model copy.bin").read_bytes() == src.read_bytes()  # same machine: the literal path
        back = tmp_path / "back" / "model.bin"
        t.pull(remote, back)
    assert back.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in workdir.iterdir()) == ["model copy.bin"]  # nothing else created there
    assert workdir.is_dir()  # a user-given workdir is kept on close
