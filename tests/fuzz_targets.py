"""Fuzz targets: every file parser a user feeds, with a valid sample to start mutating from.

A target writes a valid artifact into a directory (``setup``); the fuzzer overwrites one of its files
(``filename``) with mutated bytes and calls ``parse``. The property, checked by
``tests/test_bad_input_fuzz_files.py`` (a fixed seed corpus in CI) and ``bench/fuzz.py`` (a long run): it
parses, or it raises an :class:`ofa.errors.OFAError`; no other exception.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import yaml
from hypothesis import strategies as st

from conftest import TINY
from test_bad_input_support import write_acc_predictor, write_e2e, write_lut, write_supernet

FIXTURES = Path(__file__).parent / "fixtures_devices"


@dataclass(frozen=True)
class Target:
    name: str
    filename: str  # the file of the case directory that receives the fuzzed bytes
    setup: Callable[[Path], None]  # writes a valid case into the directory
    parse: Callable[[Path], object]  # reads the case; returns anything or raises


# ----- setups and parses --------------------------------------------------------------------------------
def _subnet_setup(d: Path) -> None:
    from ofa.subnet import SubnetConfig

    (d / "cfg.json").write_text(json.dumps(SubnetConfig.smallest(TINY, r=16).to_dict()))


def _subnet_parse(d: Path):
    from ofa.subnet import SubnetConfig

    return SubnetConfig.load(d / "cfg.json")


def _space_setup(d: Path) -> None:
    from ofa.spaces import get_space

    (d / "space.yaml").write_text(yaml.safe_dump(get_space(TINY).model_dump(mode="json") | {"id": "fuzzed"}))


def _space_parse(d: Path):
    from ofa.spaces import get_space

    return get_space(d / "space.yaml").summary()


def _device_setup(d: Path) -> None:
    shutil.copy(Path(__file__).parents[1] / "devices" / "builtin_devices" / "local.yaml", d / "device.yaml")


def _device_parse(d: Path):
    from devices.catalog import load_device_file

    return [spec.summary() for spec in load_device_file(d / "device.yaml")]


def _train_setup(d: Path) -> None:
    from ofa.train.config import read_preset

    (d / "train.yaml").write_text(yaml.safe_dump(read_preset("demo")))


def _train_parse(d: Path):
    from ofa.train import load_config

    return load_config(file=d / "train.yaml")


def _zoo_setup(d: Path) -> None:
    from ofa.zoo.config import load_zoo_config

    (d / "zoo.yaml").write_text(yaml.safe_dump(load_zoo_config().model_dump(mode="json")))


def _zoo_parse(d: Path):
    from ofa.zoo.config import load_zoo_config

    return load_zoo_config(d / "zoo.yaml")


def _lut_parse(d: Path):
    from latency.api import load_predictor
    from ofa.subnet import SubnetConfig

    load_predictor(d, "block_sum").predict([SubnetConfig.smallest(TINY, r=16)])


def _e2e_parse(d: Path):
    from latency.e2e import load_e2e

    return load_e2e(d)


def _copy_fixture(name: str) -> Callable[[Path], None]:
    return lambda d: shutil.copy(FIXTURES / name, d / name)


def _benchmark_model_parse(d: Path):
    from devices.parsers import parse_benchmark_model

    return parse_benchmark_model(_text(d / "benchmark_model_android.txt"))


def _trtexec_parse(d: Path):
    from devices.parsers import parse_trtexec

    return parse_trtexec(_text(d / "trtexec_jetson.txt"))


def _script_line_setup(d: Path) -> None:
    event = {"event": "result", "id": "blk", "samples_ms": [0.5, 0.52, 0.49], "anchor_samples_ms": [1.0, 1.1]}
    (d / "events.txt").write_text(json.dumps(event) + "\n")


def _script_line_parse(d: Path):
    from devices.parsers import parse_script_line, timing_from_event

    text = _text(d / "events.txt")
    return [timing_from_event(event, text) for line in text.splitlines() if (event := parse_script_line(line))]


def _text(path: Path) -> str:
    """Runner output as the transports hand it over: bytes decoded with replacement."""
    return path.read_bytes().decode("utf-8", errors="replace")


def _predictor_parse(d: Path):
    from ofa.search.acc_predictor import AccuracyPredictor
    from ofa.subnet import SubnetConfig

    return AccuracyPredictor.load(d).predict_configs([SubnetConfig.smallest(TINY, r=16)])


def _supernet_parse(d: Path):
    from ofa.artifacts import load_supernet

    return load_supernet(d)


def _resealed_parse(d: Path):
    """Weights edited on purpose and the manifest's sha256 updated to match: the shape/key checks must hold."""
    from ofa.artifacts import load_supernet
    from ofa.io import sha256_file

    manifest = json.loads((d / "manifest.json").read_text())
    for name in manifest.get("files", {}):
        manifest["files"][name] = sha256_file(d / name)
    (d / "manifest.json").write_text(json.dumps(manifest))
    return load_supernet(d)


def _checkpoint_setup(d: Path) -> None:
    from ofa.train.checkpoint import RunState, save_checkpoint

    model = {"w": torch.zeros(3, 2), "b": torch.ones(2)}
    save_checkpoint(d, config={"seed": 0}, state=RunState(), model=model, optimizer=None, teacher=None,
                    rng=[{"python": 1}], world_size=1)


def _checkpoint_parse(d: Path):
    from ofa.train.checkpoint import load_checkpoint, state_from

    return state_from(load_checkpoint(d))


def _official_setup(d: Path) -> None:
    torch.save({"state_dict": {"first_conv.conv.weight": torch.zeros(16, 3, 3, 3),
                               "classifier.linear.weight": torch.zeros(10, 1280)}}, d / "ofa.pth")


def _official_parse(d: Path):
    from ofa.official import infer_space, read_checkpoint

    return infer_space(read_checkpoint(d / "ofa.pth"))


def _measurements_setup(d: Path) -> None:
    from ofa.spaces import get_space
    from ofa.subnet import SubnetConfig

    space = get_space(TINY)
    rows = [SubnetConfig.sample(space, i) for i in range(12)]
    quoted = ['"' + c.to_json().replace('"', '""') + '"' for c in rows[:6]]
    lines = [f"{q},,{1 + i / 10},median" for i, q in enumerate(quoted)]
    lines += [f",{c.arch_string(space)},{2 + i / 10},median" for i, c in enumerate(rows[6:])]
    (d / "m.csv").write_text("config,arch,latency_ms,statistic\n" + "\n".join(lines) + "\n")
    (d / "m.jsonl").write_text("".join(json.dumps({"subnet": c.to_dict(), "latency_ms": 1 + i / 10}) + "\n"
                                       for i, c in enumerate(rows)))


def _measurements_parse(name: str):
    def parse(d: Path):
        from latency.measurements import read_measurements
        from ofa.spaces import get_space

        return len(read_measurements(d / name, get_space(TINY)))

    return parse


def _fitted_setup(d: Path) -> None:
    from latency.fit import fit_predictor
    from latency.measurements import read_measurements
    from ofa.spaces import get_space

    _measurements_setup(d)
    fit_predictor(read_measurements(d / "m.jsonl", get_space(TINY)), get_space(TINY), d / "p", seed=0)


def _fitted_parse(d: Path):
    from latency.fitted import FittedLatencyPredictor
    from ofa.subnet import SubnetConfig

    return FittedLatencyPredictor.load(d / "p").predict([SubnetConfig.smallest(TINY)]).mean_ms


TARGETS = {t.name: t for t in [
    Target("subnet_json", "cfg.json", _subnet_setup, _subnet_parse),
    Target("space_yaml", "space.yaml", _space_setup, _space_parse),
    Target("device_yaml", "device.yaml", _device_setup, _device_parse),
    Target("train_config_yaml", "train.yaml", _train_setup, _train_parse),
    Target("zoo_config_yaml", "zoo.yaml", _zoo_setup, _zoo_parse),
    Target("lut_csv", "lut.csv", write_lut, _lut_parse),
    Target("lut_manifest", "manifest.json", write_lut, _lut_parse),
    Target("e2e_csv", "e2e.csv", lambda d: write_e2e(d, n=4), _e2e_parse),
    Target("benchmark_model_output", "benchmark_model_android.txt", _copy_fixture("benchmark_model_android.txt"),
           _benchmark_model_parse),
    Target("trtexec_output", "trtexec_jetson.txt", _copy_fixture("trtexec_jetson.txt"), _trtexec_parse),
    Target("runner_events", "events.txt", _script_line_setup, _script_line_parse),
    Target("acc_predictor_manifest", "predictor.json", write_acc_predictor, _predictor_parse),
    Target("acc_predictor_weights", "predictor.safetensors", write_acc_predictor, _predictor_parse),
    Target("supernet_weights", "weights.safetensors", write_supernet, _supernet_parse),
    Target("supernet_manifest", "manifest.json", write_supernet, _supernet_parse),
    Target("supernet_weights_resealed", "weights.safetensors", write_supernet, _resealed_parse),
    Target("train_checkpoint", "checkpoint.pt", _checkpoint_setup, _checkpoint_parse),
    Target("official_checkpoint", "ofa.pth", _official_setup, _official_parse),
    Target("measurements_csv", "m.csv", _measurements_setup, _measurements_parse("m.csv")),
    Target("measurements_jsonl", "m.jsonl", _measurements_setup, _measurements_parse("m.jsonl")),
    Target("latency_predictor_manifest", "p/manifest.json", _fitted_setup, _fitted_parse),
]}

#: targets whose file is a safetensors file: also fuzzed with valid files of swapped tensors
TENSOR_TARGETS = {"supernet_weights", "supernet_weights_resealed", "acc_predictor_weights"}


# ----- cases -----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def template(name: str) -> Path:
    """A valid case of ``name``, written once per process (copied for every example)."""
    directory = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    TARGETS[name].setup(directory)
    return directory


def sample(name: str) -> bytes:
    return (template(name) / TARGETS[name].filename).read_bytes()


def run_case(name: str, data: bytes, work: Path) -> object:
    """Copy the valid case to ``work``, overwrite the target's file with ``data``, parse it."""
    shutil.copytree(template(name), work, dirs_exist_ok=True)
    (work / TARGETS[name].filename).write_bytes(data)
    return TARGETS[name].parse(work)


# ----- mutations -------------------------------------------------------------------------------------------
#: tokens that broke parsers before: non-finite and huge numbers, zero, negatives, not-a-number text
EDGE_TOKENS = [b"nan", b"NaN", b"inf", b"-inf", b"1e400", b"-1", b"0", b"-0.0", b"", b"abc", b"1.2.3", b"[]", b"{}",
               b"null", b"true", b"99999999999999999999", b"\x00", b"\xff\xfe", b"'", b'"', b",", b":", b"- ", b"\n"]
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _edit_bytes(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for pos, op, value in edits:
        if not out:
            out.append(value)
            continue
        pos %= len(out)
        if op == 0:
            out[pos] = value
        elif op == 1:
            out.insert(pos, value)
        else:
            del out[pos]
    return bytes(out)


def _replace_numbers(data: bytes, picks: list[tuple[int, int]]) -> bytes:
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return data
    chosen = {spans[i % len(spans)]: EDGE_TOKENS[t % len(EDGE_TOKENS)] for i, t in picks}
    out, last = [], 0
    for (start, end), token in sorted(chosen.items()):
        out += [data[last:start], token]
        last = end
    return b"".join(out + [data[last:]])


def _swap_lines(data: bytes, picks: list[tuple[int, int]]) -> bytes:
    lines = data.split(b"\n")
    for i, j in picks:
        if lines:
            lines[i % len(lines)], lines[j % len(lines)] = lines[j % len(lines)], lines[i % len(lines)]
    return b"\n".join(lines)


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, the valid file cut short, byte edits, number tokens swapped for edge values, lines swapped."""
    n = len(valid)
    return st.one_of(
        st.binary(max_size=512),
        st.integers(0, n).map(lambda cut: valid[:cut]),
        st.lists(st.tuples(st.integers(0, max(n, 1)), st.integers(0, 2), st.integers(0, 255)), min_size=1,
                 max_size=8).map(lambda edits: _edit_bytes(valid, edits)),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, len(EDGE_TOKENS) - 1)), min_size=1,
                 max_size=4).map(lambda picks: _replace_numbers(valid, picks)),
        st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1,
                 max_size=3).map(lambda picks: _swap_lines(valid, picks)),
    )


def tensor_swaps(name: str) -> st.SearchStrategy[bytes]:
    """Valid safetensors files whose tensors were replaced by ones of another shape or dtype, renamed or dropped."""
    from safetensors.torch import load, save

    tensors = load(sample(name))
    keys = sorted(tensors)
    dtypes = [torch.float32, torch.float16, torch.int64, torch.uint8, torch.bool]

    def build(picks):
        out = dict(tensors)
        for idx, action, dims, dtype in picks:
            key = keys[idx % len(keys)]
            if key not in out:
                continue
            if action == 0:
                out[key] = torch.zeros(dims, dtype=dtypes[dtype % len(dtypes)])
            elif action == 1:
                out[key + ".renamed"] = out.pop(key)
            else:
                del out[key]
        return save(out)

    return st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2), st.lists(st.integers(0, 5), max_size=4),
                              st.integers(0, 10)), min_size=1, max_size=4).map(build)
