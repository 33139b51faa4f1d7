"""Reference data from MIT's official ``ofa`` package (its own venv, see official_ofa.py) for import parity.

For an official supernet class and its arguments it writes, into ``--out``:

- ``supernet_state_dict.pt``: the state dict of a randomly initialised official supernet (seeded) whose BN
  statistics and affine parameters, kernel-transform matrices and classifier bias were perturbed away
  from their initial values, so an importer that drops any of them cannot match;
- ``cases.json``: sub-network selections in the official encoding (``ks``/``e``/``d`` lists as the
  official ``set_active_subnet`` takes them, plus the resolution) and the official static net config;
- ``inputs.pt`` / ``outputs.pt``: ``x{i}`` and the official logits ``y{i}`` (supernet, eval mode) and
  ``s{i}`` (the official ``get_active_subnet()`` static network) for case ``i``;
- ``shapes.json``: every state-dict key and shape (for checking the full-size space's structure in CI).

    .venv/bin/python bench/official_fixtures.py proxyless --width 0.35 --resolutions 32 48 64 \\
        --out tests/fixtures/official_proxyless_w0.35                # the small CI fixture
    .venv/bin/python bench/official_fixtures.py proxyless --width 1.3 --out bench/results/tmp/proxyless_w1.3
    .venv/bin/python bench/official_fixtures.py resnet --width 0.06,0.09,0.12 --resolutions 32 48 64 \
        --out tests/fixtures/official_resnet50_w0.06-0.12           # the ResNet50 class at small widths
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from official_ofa import run_official  # noqa: E402

#: family -> (import, constructor, the largest and smallest selections, how a selection is applied)
FAMILIES = {
    "proxyless": ("from ofa.imagenet_classification.elastic_nn.networks import OFAProxylessNASNets as Net",
                  "Net(n_classes={classes}, dropout_rate=0, width_mult={width}, ks_list=[3, 5, 7], "
                  "expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])",
                  "n, groups = len(net.blocks) - 1, len(net.block_group_info)\n"
                  "selections = [dict(ks=[7] * n, e=[6] * n, d=[4] * groups), dict(ks=[3] * n, e=[3] * n, d=[2] * groups)]",
                  "net.set_active_subnet(ks=sel['ks'], e=sel['e'], d=sel['d'])"),
    "resnet": ("from ofa.imagenet_classification.elastic_nn.networks import OFAResNets as Net",
               "Net(n_classes={classes}, dropout_rate=0, depth_list=[0, 1, 2], expand_ratio_list=[0.2, 0.25, 0.35], "
               "width_mult_list={width})",
               "n = len(net.blocks)\n"
               "selections = [dict(d=[2] * 5, e=[0.35] * n, w=[2] * 6), dict(d=[0] * 5, e=[0.2] * n, w=[0] * 6)]",
               "net.set_active_subnet(d=sel['d'], e=sel['e'], w=sel['w'])"),
}

_SCRIPT = '''
import json, random, sys
import torch
from torch import nn
{imports}
out, resolutions, n_random = {out!r}, {resolutions!r}, {n_random}
torch.manual_seed({seed}); random.seed({seed})
net = {build}
with torch.no_grad():
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2); m.running_var.uniform_(0.5, 2.0)
            m.weight.uniform_(0.5, 1.5); m.bias.normal_(0, 0.2)
    for name, p in net.named_parameters():
        if name.endswith("_matrix"):
            p.add_(torch.randn_like(p) * 0.05)
        elif name.endswith("linear.bias"):
            p.normal_(0, 0.1)
net.eval()
{extremes}
selections += [net.sample_active_subnet() for _ in range(n_random)]
inputs, outputs, cases = {{}}, {{}}, []
for i, sel in enumerate(selections):
    r = resolutions[i % len(resolutions)]
    {apply}
    x = torch.randn(2, 3, r, r)
    static = net.get_active_subnet(preserve_weight=True).eval()
    with torch.no_grad():
        inputs[f"x{{i}}"], outputs[f"y{{i}}"], outputs[f"s{{i}}"] = x, net(x), static(x)
    cases.append(dict({{k: list(v) for k, v in sel.items()}}, resolution=r, net_config=net.get_active_net_config()))
state = {{k: v.contiguous() for k, v in net.state_dict().items()}}
torch.save(state, f"{{out}}/supernet_state_dict.pt")
torch.save(inputs, f"{{out}}/inputs.pt")
torch.save(outputs, f"{{out}}/outputs.pt")
json.dump(cases, open(f"{{out}}/cases.json", "w"), indent=1, default=str)
json.dump({{k: list(v.shape) for k, v in state.items()}}, open(f"{{out}}/shapes.json", "w"), indent=0)
import ofa
print(json.dumps({{"cases": len(cases), "tensors": len(state), "params": sum(v.numel() for v in state.values()),
                  "ofa_version": getattr(ofa, "__version__", "0.1.0.post202307202001"), "torch": torch.__version__}}))
'''


def generate(family: str, width, resolutions: list[int], out: Path, classes: int = 10, n_random: int = 4,
             seed: int = 0) -> dict:
    imports, build, extremes, apply = FAMILIES[family]
    out.mkdir(parents=True, exist_ok=True)
    script = _SCRIPT.format(imports=imports, build=build.format(classes=classes, width=width), out=str(out.resolve()),
                            resolutions=resolutions, n_random=n_random, seed=seed, extremes=extremes, apply=apply)
    result = run_official(script, timeout=1800)
    readme = {"family": family, "width_mult": width, "n_classes": classes, "resolutions": resolutions, "seed": seed,
              "made_by": "bench/official_fixtures.py (official package ofa==0.1.0.post202307202001)", **result}
    (out / "meta.json").write_text(json.dumps(readme, indent=2) + "\n")
    return readme


def _width(text: str):
    values = [float(v) for v in text.split(",")]
    return values if "," in text else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("--width", type=_width, required=True, help="proxyless: 1.3; resnet: 0.65,0.8,1.0 (the list)")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 160, 192, 224])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--n-random", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(generate(args.family, args.width, args.resolutions, args.out, args.classes, args.n_random, args.seed)))


if __name__ == "__main__":
    main()
