"""Import parity against the official package: max |logit difference| of our supernet and extracted networks.

Reads a directory written by official_fixtures.py (generating it first when ``--generate`` is given), imports its
state dict with ``ofa import``'s code, runs every case (supernet with the selection active, and the extracted
static network) on the official inputs, and compares with the official supernet's and static network's logits.
Writes bench/results/official_parity.json (one entry per directory, keyed by its name).

    .venv/bin/python bench/official_parity.py --generate proxyless --width 1.3 --classes 1000 \\
        --dir bench/results/tmp/proxyless_w1.3                       # the full-size space (~1 min)
    .venv/bin/python bench/official_parity.py --dir tests/fixtures/official_proxyless_w0.35 --resolutions 32 48 64
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ofa.official import config_from_official, import_official
from ofa.official_resnet import import_official_resnet, resnet_config_from_official
from ofa.spaces import SPACES as SPACE_REGISTRY
from ofa.spaces.builtin import ofa_proxyless
from ofa.spaces.resnet import OFA_RESNET50, ResNetSpace

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from official_fixtures import _width  # noqa: E402

RESULTS = ROOT / "results"


def parity(directory: Path, space) -> dict:
    if isinstance(space, ResNetSpace):
        return resnet_parity(directory, space)
    net = import_official(directory / "supernet_state_dict.pt", space)
    cases = json.loads((directory / "cases.json").read_text())
    inputs = torch.load(directory / "inputs.pt", weights_only=True)
    outputs = torch.load(directory / "outputs.pt", weights_only=True)
    rows = []
    for i, case in enumerate(cases):
        cfg = config_from_official(net.space, case["ks"], case["e"], case["d"], case["resolution"])
        net.set_active(cfg)
        with torch.no_grad():
            ours, extracted = net(inputs[f"x{i}"]), net.extract(cfg)(inputs[f"x{i}"])
        rows.append({"case": i, "r": case["resolution"], "official_d": case["d"], "arch": cfg.arch_string(net.space),
                     "supernet_vs_official_supernet": float((ours - outputs[f"y{i}"]).abs().max()),
                     "extracted_vs_official_static": float((extracted - outputs[f"s{i}"]).abs().max()),
                     "official_logit_max_abs": float(outputs[f"y{i}"].abs().max())})
    worst = max(max(r["supernet_vs_official_supernet"], r["extracted_vs_official_static"]) for r in rows)
    return {"space": net.space.id, "cases": len(rows), "resolutions": sorted({r["r"] for r in rows}),
            "max_abs_diff": worst, "rows": rows}


def resnet_parity(directory: Path, space: ResNetSpace) -> dict:
    net = import_official_resnet(directory / "supernet_state_dict.pt", space)
    cases = json.loads((directory / "cases.json").read_text())
    inputs = torch.load(directory / "inputs.pt", weights_only=True)
    outputs = torch.load(directory / "outputs.pt", weights_only=True)
    rows = []
    for i, case in enumerate(cases):
        cfg = resnet_config_from_official(space, case["d"], case["e"], case["w"], case["resolution"])
        net.set_active(cfg)
        with torch.no_grad():
            ours, extracted = net(inputs[f"x{i}"]), net.extract(cfg)(inputs[f"x{i}"])
        rows.append({"case": i, "r": case["resolution"], "d": case["d"], "w": case["w"],
                     "supernet_vs_official_supernet": float((ours - outputs[f"y{i}"]).abs().max()),
                     "extracted_vs_official_static": float((extracted - outputs[f"s{i}"]).abs().max()),
                     "official_logit_max_abs": float(outputs[f"y{i}"].abs().max())})
    worst = max(max(r["supernet_vs_official_supernet"], r["extracted_vs_official_static"]) for r in rows)
    return {"space": space.id, "cases": len(rows), "resolutions": sorted({r["r"] for r in rows}), "max_abs_diff": worst,
            "rows": rows}


def _resnet(width, resolutions=None) -> ResNetSpace:
    widths = tuple(width) if isinstance(width, list) else (width,)
    if widths == OFA_RESNET50.w_choices:
        return OFA_RESNET50
    return ResNetSpace(id="ofa_resnet50_w" + "-".join(map(str, widths)), w_choices=widths,
                       resolutions=tuple(resolutions or OFA_RESNET50.resolutions))


SPACES = {"proxyless": ofa_proxyless, "resnet": _resnet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--family", choices=sorted(SPACES), default="proxyless")
    parser.add_argument("--generate", choices=sorted(SPACES), default=None, help="write --dir first (official venv)")
    parser.add_argument("--width", type=_width, default=None, help="default: the directory's meta.json")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 160, 192, 224])
    parser.add_argument("--result", type=Path, default=RESULTS / "official_parity.json")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.generate:
        from official_fixtures import generate

        generate(args.generate, args.width, args.resolutions, args.dir, args.classes)
    meta = json.loads((args.dir / "meta.json").read_text())
    width = args.width or meta["width_mult"]
    build = SPACES[args.generate or args.family]
    space = build(width)  # the official space itself where the width is its own (its resolutions 128-224)
    official = space.id in SPACE_REGISTRY or space == OFA_RESNET50
    if not official or min(args.resolutions) < min(space.resolutions):
        space = build(width, resolutions=tuple(args.resolutions))
    entry = parity(args.dir, space) | {"meta": meta, "command": "python " + " ".join(sys.argv),
                                        "seconds": round(time.perf_counter() - t0, 1),
                                        "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    results = json.loads(args.result.read_text()) if args.result.is_file() else {}
    results[args.dir.name] = entry
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in entry.items() if k != "rows"}, indent=2))


if __name__ == "__main__":
    main()
