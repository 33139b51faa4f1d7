"""Each input the fuzzer (``bench/fuzz.py``) once crashed a parser with a non-``OFAError``, kept as a regression
test: the same input now ends as the typed error that names the problem."""

from __future__ import annotations

import json

import pytest
import torch

from fuzz_targets import run_case, sample
from ofa.errors import ArtifactError, ConfigError, DeviceError


def _replace(name: str, old: bytes, new: bytes) -> bytes:
    data = sample(name)
    assert old in data, f"{old!r} not in the {name} sample"
    return data.replace(old, new, 1)


def _json_edit(name: str, **fields) -> bytes:
    return json.dumps(json.loads(sample(name)) | fields).encode()


CASES = [
    ("device_yaml", b"\xcb\xff" + sample("device_yaml"), ConfigError, "not UTF-8"),
    ("zoo_config_yaml", b"accuracy:\n  ensemble: 5\n ensemble: : 3\n", ConfigError, "not valid YAML"),
    ("zoo_config_yaml", b"\x00", ConfigError, "zoo.yaml"),
    ("lut_manifest", _json_edit("lut_manifest", schema_version={"a": 1}), ArtifactError, "schema_version"),
    ("lut_manifest", b"\xcb" + sample("lut_manifest"), ArtifactError, "not UTF-8"),
    ("lut_csv", None, ArtifactError, "incomplete"),  # resolution 1e30: filled in below
    ("benchmark_model_output", None, DeviceError, "1.2.3"),
    ("runner_events", b'{"event": "result", "samples_ms": [0.5]}\n', DeviceError, "without an id"),
    ("runner_events", b'{"event": "result", "id": "b", "samples_ms": [Infinity]}\n', DeviceError, "no valid samples"),
    ("supernet_manifest", _json_edit("supernet_manifest", dropout=1e20), ArtifactError, "dropout"),
    ("acc_predictor_manifest", _json_edit("acc_predictor_manifest", target_std=10**400), ArtifactError, "target_std"),
]


@pytest.mark.parametrize("name, data, error, words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_once_crashing_input_is_a_typed_error(tmp_path, name, data, error, words):
    if name == "lut_csv":
        lines = sample(name).split(b"\n")
        cells = lines[1].split(b",")
        cells[2] = b"100000000000000000000000000000"  # the resolution column
        data = b"\n".join([lines[0], b",".join(cells), *lines[2:]])
    if name == "benchmark_model_output":
        text = sample(name)
        start = text.index(b"avg=", text.rindex(b"count=")) + 4
        data = text[:start] + b"1.2.3" + text[text.index(b" ", start):]
    with pytest.raises(error, match=words):
        run_case(name, data, tmp_path)


def test_a_lut_manifest_with_null_num_classes_reads_as_an_imagenet_head(tmp_path):
    # as tables written before the field: a 1000-class head, whose logits block this 10-class table lacks
    with pytest.raises(ArtifactError, match="output:1000"):
        run_case("lut_manifest", _json_edit("lut_manifest", num_classes=None), tmp_path)


def test_a_checkpoint_state_with_a_foreign_key_is_an_artifact_error(tmp_path):
    run_case("train_checkpoint", sample("train_checkpoint"), tmp_path)
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    payload["state"]["st;p"] = payload["state"].pop("step")
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(ArtifactError, match="run state"):
        run_case("train_checkpoint", (tmp_path / "edited.pt").read_bytes(), tmp_path / "case")
