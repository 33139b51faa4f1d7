"""End to end: `ofa zoo` on the tiny space and built-in data, with a real local device."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ofa.errors import ConfigError
from ofa.zoo.verify import verify_artifact

ZOO_YAML = """
name: test-zoo
space: ofa_tiny_in32_d12_e34_k35_w1.0
data: builtin
supernet: {train_preset: smoke}
devices:
  - device: local-ort-cpu
    formats: [onnx]
    budgets_ms: [0.0001, 1000]
    latency_stat: p90
    lut_resolutions: [16, 32]
    calibrate: 3
accuracy: {samples: 8, calib_images: 100, epochs: 50, ensemble: 3, top_k: 3}
search: {population: 30, generations: 15, pareto_generations: 8}
bn_calib_images: 100
export_latency_repeats: 5
entry_warmup: 5
entry_repeats: 40
entry_passes: 2
"""


def _zoo(config, out):
    return subprocess.run([sys.executable, "-m", "ofa.cli.main", "zoo", "--config", str(config), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    (root / "zoo.yaml").write_text(ZOO_YAML)
    proc = _zoo(root / "zoo.yaml", root / "zoo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def _mtimes(directory):
    return {str(p): p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}


def test_structure_and_infeasible_budget(zoo):
    out = zoo / "zoo"
    index = json.loads((out / "index.json").read_text())
    assert {r["status"] for r in index} == {"ok", "infeasible"}
    bad = next(r for r in index if r["status"] == "infeasible")
    assert "smallest reachable" in bad["reason"]
    ok = next(r for r in index if r["status"] == "ok")
    entry = out / ok["path"]
    for name in ("card.json", "card.md", "subnet/weights.safetensors", "subnet/subnet.json", "export/export_report.json"):
        assert (entry / name).is_file(), name
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and ok["name"] in html and "infeasible" in html
    assert (out / "index.csv").read_text().count("\n") == len(index) + 1
    verified = verify_artifact(out)  # the whole zoo: every entry's file hashes and a strict load of its subnet
    assert verified.kind == "zoo" and any(c.startswith(f"{ok['path']}: sha256 of the") for c in verified.checks)


def test_card_figures_are_real_measurements(zoo):
    out = zoo / "zoo"
    ok = next(r for r in json.loads((out / "index.json").read_text()) if r["status"] == "ok")
    card = json.loads((out / ok["path"] / "card.json").read_text())
    lat = card["latency_ms"]
    assert lat["measured_median"] > 0 and lat["measured_count"] == 80 and lat["measured_std"] >= 0
    assert lat["measured"] == max(lat["measured_passes"]) and len(lat["measured_passes"]) == 2
    assert lat["device_fingerprint"]["device"] == "local-ort-cpu"
    assert 0 <= card["accuracy"]["top1"] <= 1 and card["accuracy"]["images"] == 359
    assert card["latency_ms"]["predicted_mean"] <= 1000
    for name, info in card["files"].items():  # hashes in the card are the files on disk
        from ofa.io import sha256_file

        assert sha256_file(out / ok["path"] / name) == info["sha256"], name


def test_declared_statistic_round_trips_through_lut_card_and_report(zoo):
    out = zoo / "zoo"
    manifest = json.loads((out / "_work/luts/local-ort-cpu/manifest.json").read_text())
    assert manifest["budget_stat"] == "p90"
    ok = next(r for r in json.loads((out / "index.json").read_text()) if r["status"] == "ok")
    assert ok["stat"] == "p90" and ok["limit_ms"] == 1000 * 0.95
    card = json.loads((out / ok["path"] / "card.json").read_text())
    assert card["latency_ms"]["stat"] == "p90" and card["budget_ms"] == 1000
    assert "p90" in (out / ok["path"] / "card.md").read_text() and "p90" in (out / "report.html").read_text()


def test_entry_is_the_best_measured_of_the_top_k(zoo):
    out = zoo / "zoo"
    ok = next(r for r in json.loads((out / "index.json").read_text()) if r["status"] == "ok")
    acc = json.loads((out / ok["path"] / "card.json").read_text())["accuracy"]
    assert len(acc["candidates"]) == 3
    assert acc["top1"] == max(c["top1"] for c in acc["candidates"])
    assert acc["predicted_top1_std"] >= 0 and acc["rank_by"] == "mean"


def test_exported_model_loads_and_matches_its_card(zoo):
    import onnxruntime as ort

    from ofa import load_subnet

    out = zoo / "zoo"
    ok = next(r for r in json.loads((out / "index.json").read_text()) if r["status"] == "ok")
    entry = out / ok["path"]
    card = json.loads((entry / "card.json").read_text())
    export = next(e for e in card["exports"] if e["format"] == "onnx")
    session = ort.InferenceSession(str(entry / export["file"]), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal(card["input"]["shape"]).astype(np.float32)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    net = load_subnet(entry / "subnet")
    assert net.config.to_dict() == card["subnet"]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() <= max(1e-4, export["max_abs_diff"] * 10 + 1e-5)


def test_rerun_does_no_repeated_work(zoo):
    out = zoo / "zoo"
    before = _mtimes(out / "_work") | {k: v for k, v in _mtimes(out).items() if "card.json" in k}
    proc = _zoo(zoo / "zoo.yaml", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = _mtimes(out / "_work") | {k: v for k, v in _mtimes(out).items() if "card.json" in k}
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, changed
    assert "building" not in proc.stdout + proc.stderr


def test_bad_zoo_config_is_a_clear_error(tmp_path):
    (tmp_path / "z.yaml").write_text("devices: []\nbogus: 1\n")
    proc = _zoo(tmp_path / "z.yaml", tmp_path / "o")
    assert proc.returncode == ConfigError.exit_code and "bogus" in proc.stderr and "Traceback" not in proc.stderr


def test_slow_device_tightens_the_target_then_says_over_budget(zoo, tmp_path, monkeypatch):
    """An injected slow device (every timing + 2 s; a factor would depend on how fast this machine is): each
    round searches under a tighter target; after the configured rounds the entry is over_budget with both figures, never ok."""
    import shutil

    import ofa.zoo.entry as entry_mod
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.pipeline import ZooBuilder

    out = tmp_path / "zoo"
    shutil.copytree(zoo / "zoo" / "_work", out / "_work")
    real = entry_mod.measure_entry

    def slow(*args, **kwargs):
        figures = real(*args, **kwargs)
        return figures | {"measured": figures["measured"] + 2000.0}

    monkeypatch.setattr(entry_mod, "measure_entry", slow)
    config = load_zoo_config(zoo / "zoo.yaml")
    config.devices[0].budgets_ms = [1000]
    config.devices[0].latency_rounds = 2
    rows = ZooBuilder(config, out).run()["rows"]
    assert [r.status for r in rows] == ["over_budget"]
    card = json.loads((out / rows[0].path / "card.json").read_text())
    rounds = card["latency_ms"]["rounds"]
    assert len(rounds) == 2 and rounds[1]["target_ms"] < rounds[0]["target_ms"] == 950
    assert all(r["measured_ms"] > 950 for r in rounds)
    assert card["status"] == "over_budget" and "limit 950 ms" in card["reason"]
    assert "over_budget" in (out / "report.html").read_text()


def test_one_device_session_serves_every_entry_and_round(zoo, tmp_path, monkeypatch):
    """Two entries on one device, the first taking two closed-loop rounds (its first measurement is made 2 s
    slower): three timings through one session, opened once with the entry timing settings, closed at the end."""
    import shutil

    import ofa.zoo.entry as entry_mod
    from devices.catalog import get_device
    from devices.session import DeviceSession
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.pipeline import ZooBuilder

    opened, closed, timed = [], [], []
    real_enter, real_exit, real_measure = DeviceSession.__enter__, DeviceSession.__exit__, entry_mod.measure_entry

    def enter(self):  # wraps the real session: the local device still connects and times
        opened.append(self.spec)
        return real_enter(self)

    def exit_(self, *exc):
        closed.append(self.spec.name)
        return real_exit(self, *exc)

    def first_slow(*args, **kwargs):
        figures = real_measure(*args, **kwargs)
        timed.append(figures["measured"])
        return figures | {"measured": figures["measured"] + (2000.0 if len(timed) == 1 else 0.0)}

    monkeypatch.setattr(DeviceSession, "__enter__", enter)
    monkeypatch.setattr(DeviceSession, "__exit__", exit_)
    monkeypatch.setattr(entry_mod, "measure_entry", first_slow)
    out = tmp_path / "zoo"
    shutil.copytree(zoo / "zoo" / "_work", out / "_work")
    config = load_zoo_config(zoo / "zoo.yaml")
    config.devices[0].budgets_ms, config.devices[0].latency_rounds = [900, 1000], 2
    rows = ZooBuilder(config, out).run()["rows"]
    assert [r.status for r in rows] == ["ok", "ok"] and [r.rounds for r in rows] == [2, 1]
    assert len(timed) == 3 and all(0 < t < 900 for t in timed)
    # one session per (device, runner settings): the table's calibration (profiling settings), the entries' plain loop
    assert [s.name for s in opened] == ["local-ort-cpu"] * 2 and closed == ["local-ort-cpu"] * 2
    profiling, entries = (s.runner for s in opened)
    assert profiling == get_device("local-ort-cpu").runner
    assert (entries.warmup, entries.repeats, entries.passes, entries.drift_anchor) == (5, 40, 1, False)
    cards = [json.loads((out / r.path / "card.json").read_text()) for r in rows]
    assert cards[0]["latency_ms"]["device_fingerprint"] == cards[1]["latency_ms"]["device_fingerprint"]


def test_verify_an_export_directory_and_refuse_a_changed_model(zoo, tmp_path):
    import shutil

    from ofa.errors import ArtifactError

    out = zoo / "zoo"
    ok = next(r for r in json.loads((out / "index.json").read_text()) if r["status"] == "ok")
    export = shutil.copytree(out / ok["path"] / "export", tmp_path / "export")
    checked = verify_artifact(export)
    assert checked.kind == "export" and any("sha256 as exported (onnx/fp32" in c for c in checked.checks)
    model = next(export.glob("*.onnx"))
    data = bytearray(model.read_bytes())
    data[-1] ^= 1  # one bit of the exported model
    model.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match the size/sha256"):
        verify_artifact(export)


def test_report_without_matplotlib_names_the_extra(monkeypatch):
    from ofa.zoo.report import pyplot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'ofa-deploy\[report\]'"):
        pyplot()


@pytest.mark.slow
def test_int8_device_entry_is_timed_and_scored_in_int8(zoo, tmp_path):
    """An entry for local-ort-cpu-int8: searched under the int8 table, exported fp32 + int8, timed as the int8
    file, and its card reports the int8 file's top-1, its agreement with fp32 and the drop on the val split."""
    import shutil

    from ofa.zoo.config import DeviceTarget, load_zoo_config
    from ofa.zoo.pipeline import ZooBuilder

    out = tmp_path / "zoo"
    shutil.copytree(zoo / "zoo" / "_work", out / "_work")  # the trained supernet and accuracy predictor
    config = load_zoo_config(zoo / "zoo.yaml")
    config.devices = [DeviceTarget(device="local-ort-cpu-int8", formats=["onnx"], budgets_ms=[1000],
                                   lut_resolutions=[16, 32], calibrate=3)]
    rows = ZooBuilder(config, out).run()["rows"]
    assert [r.status for r in rows] in (["ok"], ["int8_mismatch"])  # the smoke-trained net may miss int8 parity
    assert json.loads((out / "_work/luts/local-ort-cpu-int8/manifest.json").read_text())["device"]["precision"] == "int8"
    card = json.loads((out / rows[0].path / "card.json").read_text())
    q = card["accuracy"]["int8"]
    assert 0 <= q["top1"] <= 1 and 0 <= q["top1_agreement_with_fp32"] <= 1 and q["images"] == 359
    assert abs(q["fp32_top1"] - card["accuracy"]["top1"]) <= 1 / 359  # the same split as the fp32 figure
    assert q["accuracy_drop"] == pytest.approx(q["fp32_top1"] - q["top1"])
    assert q["calibration"]["images"] == 200 and q["format"] == "onnx"
    assert {(e["format"], e["precision"]) for e in card["exports"]} == {("onnx", "fp32"), ("onnx", "int8")}
    assert card["latency_ms"]["measured_format"] == "onnx:int8"
    assert card["latency_ms"]["device_fingerprint"]["precision"] == "int8"
    assert rows[0].top1_int8 == q["top1"] and "int8 vs fp32" in (out / rows[0].path / "card.md").read_text()
    export_passed = q["top1_agreement_with_fp32"] >= 0.90 and q["accuracy_drop"] <= 0.03
    assert (q["status"] == "passed") == export_passed
    kept = export_passed and q["accuracy_drop"] <= config.int8_max_drop  # the zoo's promise is tighter
    assert (rows[0].status == "ok") == kept
    tries = card["accuracy"]["int8_tries"]["tries"]
    assert 1 <= len(tries) <= config.int8_tries and card["arch"] in [t["arch"] for t in tries]
    if not kept:  # never "ok": the entry says which int8 figure missed
        assert "int8 file misses its tolerance" in card["reason"]


@pytest.mark.parametrize("precision, match", [(["fp32"], "need a int8 export"), (["int4"], "precision")])
def test_int8_device_without_an_int8_export_is_a_config_error(tmp_path, precision, match):
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.pipeline import ZooBuilder

    (tmp_path / "z.yaml").write_text(ZOO_YAML)
    with pytest.raises(ConfigError, match=match):
        config = load_zoo_config(tmp_path / "z.yaml", {"devices": [{"device": "local-ort-cpu-int8",
                                                                     "precision": precision}]})
        ZooBuilder(config, tmp_path / "zoo").run()
