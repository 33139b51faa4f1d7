"""The accuracy predictor: an MLP on one-hot sub-network features (OFA uses 3 x 400).

Trained on measured (config, top-1) rows. Inference runs in numpy on whole populations, so the
search never touches torch. Evaluated by RMSE and Kendall tau on held-out rows, against a FLOPs
rank baseline (how well "bigger is better" alone orders the same rows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ofa import __version__
from ofa.errors import ArtifactError, ConfigError
from ofa.io import atomic_write, atomic_write_json
from ofa.search.encoding import encode, feature_size
from ofa.search.population import Population
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

WEIGHTS = "predictor.safetensors"
MANIFEST = "predictor.json"


@dataclass
class AccuracyPredictor:
    space: SearchSpace
    weights: list[np.ndarray]  # W0, b0, W1, b1, ... (numpy, inference only)
    target_mean: float
    target_std: float
    report: dict = field(default_factory=dict)

    def __call__(self, pop: Population) -> np.ndarray:
        """Predicted top-1 (0..1) for every config of ``pop``."""
        h = encode(self.space, pop)
        for i in range(0, len(self.weights) - 2, 2):
            h = np.maximum(h @ self.weights[i] + self.weights[i + 1], 0.0)
        out = h @ self.weights[-2] + self.weights[-1]
        return out[:, 0] * self.target_std + self.target_mean

    def predict_configs(self, configs: list[SubnetConfig]) -> np.ndarray:
        return self(Population.from_configs(self.space, configs))

    def save(self, out: "str | Path") -> Path:
        from safetensors.numpy import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {f"w{i}": np.ascontiguousarray(w, dtype=np.float32) for i, w in enumerate(self.weights)}
        atomic_write(out / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
        atomic_write_json(out / MANIFEST, {"schema_version": 1, "kind": "accuracy_predictor", "tool_version": __version__,
                                           "space": self.space.model_dump(mode="json"), "target_mean": self.target_mean,
                                           "target_std": self.target_std, "report": self.report})
        return out

    @classmethod
    def load(cls, path: "str | Path") -> "AccuracyPredictor":
        from safetensors.numpy import load_file

        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise ArtifactError(f"{path} is not an accuracy predictor directory (no {MANIFEST}); build one with `ofa acc build`")
        meta = json.loads((path / MANIFEST).read_text())
        tensors = load_file(str(path / WEIGHTS))
        weights = [tensors[f"w{i}"] for i in range(len(tensors))]
        return cls(SearchSpace.from_dict(meta["space"]), weights, meta["target_mean"], meta["target_std"], meta.get("report", {}))


def _mlp(n_in: int, hidden: int, layers: int) -> torch.nn.Sequential:
    mods: list[torch.nn.Module] = []
    for i in range(layers):
        mods += [torch.nn.Linear(n_in if i == 0 else hidden, hidden), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(hidden, 1))
    return torch.nn.Sequential(*mods)


def fit(space: SearchSpace, configs: list[SubnetConfig], accuracy: np.ndarray, hidden: int = 400, layers: int = 3,
        epochs: int = 400, lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0) -> AccuracyPredictor:
    """Train the MLP on (config, accuracy) pairs (full-batch Adam with cosine decay; seeded)."""
    if len(configs) < 5:
        raise ConfigError(f"need at least 5 measured sub-networks to fit a predictor, got {len(configs)}")
    torch.manual_seed(seed)
    x = torch.from_numpy(encode(space, Population.from_configs(space, configs)))
    y = torch.as_tensor(accuracy, dtype=torch.float32)
    mean, std = float(y.mean()), float(y.std().clamp_min(1e-6))
    target = ((y - mean) / std)[:, None]
    model = _mlp(feature_size(space), hidden, layers)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), target).backward()
        opt.step()
        sched.step()
    weights = []
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            weights += [layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy()]
    return AccuracyPredictor(space, weights, mean, std)


def rank_metrics(pred: np.ndarray, true: np.ndarray) -> dict:
    from scipy.stats import kendalltau, spearmanr

    return {"rmse_pct": float(np.sqrt(np.mean((pred - true) ** 2)) * 100),
            "kendall_tau": float(kendalltau(pred, true).statistic), "spearman": float(spearmanr(pred, true).statistic)}


def fit_and_evaluate(space: SearchSpace, table: pd.DataFrame, holdout: float = 0.2, seed: int = 0,
                     curve: tuple[int, ...] = (100, 300, 1000), **fit_args) -> AccuracyPredictor:
    """Fit on all but a held-out share; report RMSE/tau on it, a sample-size curve and a FLOPs baseline."""
    configs = [SubnetConfig.from_json(s, space) for s in table["subnet"]]
    acc = table["top1"].to_numpy(dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(configs))
    n_test = max(1, int(round(len(configs) * holdout)))
    test, train = order[:n_test], order[n_test:]
    pick = lambda idx: [configs[i] for i in idx]  # noqa: E731
    report: dict = {"n_rows": len(configs), "n_train": len(train), "n_test": len(test)}
    report["flops_baseline"] = rank_metrics(table["mflops"].to_numpy()[test], acc[test]) | {"rmse_pct": None}
    report["curve"] = []
    for n in sorted({c for c in curve if c < len(train)} | {len(train)}):
        model = fit(space, pick(train[:n]), acc[train[:n]], seed=seed, **fit_args)
        report["curve"].append({"n_train": int(n), **rank_metrics(model.predict_configs(pick(test)), acc[test])})
    final = fit(space, pick(train), acc[train], seed=seed, **fit_args)
    report["held_out"] = rank_metrics(final.predict_configs(pick(test)), acc[test])
    final.report = report
    return final
