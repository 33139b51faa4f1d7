"""Device declarations: built-in catalog, user YAML files, validation errors, plug-in registries."""

from __future__ import annotations

import pytest

from devices.catalog import get_device, list_devices, load_device_file
from devices.runners import RUNNERS, make_runner
from devices.spec import DeviceSpec, RunnerSpec, TransportSpec
from devices.transports import TRANSPORTS, make_transport
from devices.transports.local import LocalTransport
from ofa.errors import ConfigError, DeviceError


def test_builtin_catalog_has_local_runtimes_and_examples():
    names = {d.name: d for d in list_devices()}
    for local in ("local-ort-cpu", "local-litert-cpu", "local-torch-cpu", "local-openvino-cpu", "local-executorch-cpu"):
        assert names[local].transport.kind == "local" and not names[local].example
    examples = {n for n, d in names.items() if d.example}
    assert {"rpi4-ort-ssh", "jetson-orin-trtexec", "pixel-benchmark-model"} <= examples
    assert names["jetson-orin-trtexec"].runner.kind == "trtexec"
    assert names["pixel-benchmark-model"].transport.kind == "adb"


def test_user_file_via_env_overrides(tmp_path, monkeypatch):
    f = tmp_path / "mine.yaml"
    f.write_text("devices:\n  - name: local-ort-cpu\n    runner: {kind: onnxruntime, threads: 2}\n"
                 "  - name: board7\n    transport: {kind: ssh, host: 10.0.0.7, user: me}\n")
    monkeypatch.setenv("OFA_DEVICES", str(f))
    assert get_device("local-ort-cpu").runner.threads == 2
    assert get_device("board7").transport.host == "10.0.0.7"


def test_single_device_file_by_path(tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("name: solo\nrunner: {kind: litert, threads: 3}\n")
    assert get_device(str(f)).runner.threads == 3


@pytest.mark.parametrize("text, match", [
    ("name: x\nrunner: {kind: onnxruntime, thread: 2}\n", "thread"),
    ("name: x\nrunner: {kind: onnxruntime, threads: 0}\n", "threads"),
    ("name: 'bad name!'\n", "name"),
    ("- just a list\n", "mapping"),
    ("name: x\nrunner: {kind: onnxruntime\n", "not valid YAML"),
    ("name: x\nrunner: {kind: onnxruntime, env: {'A B': '1'}}\n", "environment variable name"),
])
def test_invalid_declarations_name_the_problem(tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_device_file(f)


def test_unknown_device_lists_known():
    with pytest.raises(ConfigError, match="local-ort-cpu"):
        get_device("no-such-device")


@pytest.mark.parametrize("kind", TRANSPORTS.names())
def test_every_transport_constructs(kind):
    spec = TransportSpec(kind=kind, host="127.0.0.1" if kind == "ssh" else None)
    assert make_transport(spec).kind == kind


@pytest.mark.parametrize("kind", RUNNERS.names())
def test_every_runner_constructs(kind):
    runner = make_runner(RunnerSpec(kind=kind, binary="/bin/true"))
    assert runner.kind == kind and runner.model_format in ("onnx", "tflite", "pt2", "pte", "mlpackage.zip")


def test_unknown_plugins_and_unsafe_ssh_host():
    with pytest.raises(ConfigError, match="known: adb, local, ssh"):
        make_transport(TransportSpec(kind="telnet"))
    with pytest.raises(ConfigError, match="not a valid SSH host"):
        make_transport(TransportSpec(kind="ssh", host="-oProxyCommand=evil"))


def test_ssh_and_adb_quote_every_argument():
    ssh = make_transport(TransportSpec(kind="ssh", host="board", user="pi", port=2222))
    argv = ssh.wrap(["python3", "/tmp/a b/x.py", "$(reboot)"])
    assert argv[0] == "ssh" and "StrictHostKeyChecking=yes" in argv and argv[-2] == "pi@board"
    assert argv[-1] == "python3 '/tmp/a b/x.py' '$(reboot)'"
    adb = make_transport(TransportSpec(kind="adb", serial="R58M"))
    assert adb.wrap(["ls", "a;b"]) == ["adb", "-s", "R58M", "shell", "ls 'a;b'"]


def test_local_transport_timeout_and_stream():
    t = LocalTransport(TransportSpec())
    assert list(t.stream(["printf", "a\\nb\\n"])) == ["a", "b"]
    with pytest.raises(DeviceError, match="timed out"):
        t.run(["sleep", "5"], timeout_s=0.5)
    with pytest.raises(DeviceError, match="not installed"):
        t.run(["definitely-not-a-binary-xyz"])


def test_runner_env_reaches_the_timing_process_as_an_argv_list():
    """runner.env becomes `env K=V ... python payload` (no shell); the payload's fingerprint reports it back."""
    import sys

    from devices.session import DeviceSession

    spec = DeviceSpec.from_dict({"name": "env-ort", "runner": {"kind": "onnxruntime", "python": sys.executable,
                                                                "env": {"MALLOC_ARENA_MAX": "2", "OMP_X": "a b;c"}}})
    assert spec.runner.env_argv(["python", "x.py"]) == ["env", "MALLOC_ARENA_MAX=2", "OMP_X=a b;c", "python", "x.py"]
    with DeviceSession(spec) as session:
        env = session.fingerprint()["timing_env"]
    assert env["MALLOC_ARENA_MAX"] == "2" and env["OMP_X"] == "a b;c"  # passed verbatim, not through a shell
    assert get_device("local-torch-cpu").runner.env["MALLOC_MMAP_THRESHOLD_"]  # the built-in PyTorch device uses it
