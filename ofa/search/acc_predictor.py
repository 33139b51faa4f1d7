"""The accuracy predictor: an ensemble of MLPs on one-hot sub-network features (OFA uses one 3 x 400).

Trained on measured (config, top-1) rows. Member 0 sees every row; the others each see a bootstrap
resample (another seed), so the members' disagreement is the predictor's uncertainty: few rows, or a
config far from them, give a wide spread. The prediction is the members' mean. Inference runs in
numpy on whole populations, so the search never touches torch. Evaluated by RMSE and Kendall tau on
held-out rows, against a FLOPs rank baseline (how well "bigger is better" alone orders the same rows).
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ofa.errors import ArtifactError, ConfigError
from ofa.io import atomic_write, atomic_write_json, read_json_file
from ofa.manifest import ManifestHeader
from ofa.population import Population
from ofa.search.encoding import encode, feature_size
from ofa.search.population import from_configs
from ofa.spaces import SearchSpace
from ofa.spaces.resnet import ResNetConfig, ResNetSpace
from ofa.subnet import SubnetConfig

WEIGHTS = "predictor.safetensors"
MANIFEST = "predictor.json"
HEADER = ManifestHeader("accuracy_predictor", 1)


@dataclass
class AccuracyPredictor:
    space: SearchSpace
    members: list[list[np.ndarray]]  # per MLP: W0, b0, W1, b1, ... (numpy, inference only)
    target_mean: float
    target_std: float
    report: dict = field(default_factory=dict)
    residual_std: float = 0.0  # the held-out error the members share (their spread cannot show it)

    def __call__(self, pop: Population) -> np.ndarray:
        """Predicted top-1 (0..1) for every config of ``pop``: the ensemble's mean."""
        outs = self._outputs(pop)
        return outs[0] if len(outs) == 1 else np.stack(outs).mean(axis=0)

    def _outputs(self, pop: Population) -> list[np.ndarray]:
        """Each member's prediction, with BLAS on one thread (see :func:`one_blas_thread`)."""
        h0 = encode(self.space, pop)
        with one_blas_thread():
            return [self._member(weights, h0) for weights in self.members]

    def predict_with_spread(self, pop: Population) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of top-1: the members' mean, and their spread combined with :attr:`residual_std`.

        Bootstrap members disagree where data is thin, but they share the error all of them make (measured
        on held-out rows: the residual), so the spread alone is far too confident (on the demo: 0.14 points
        of spread against a 0.76-point held-out RMSE)."""
        outs = np.stack(self._outputs(pop))
        return outs.mean(axis=0), np.sqrt(outs.var(axis=0) + self.residual_std ** 2)

    def lower_bound(self, pop: Population) -> np.ndarray:
        """Mean minus one ensemble std: ranks a well-supported config above an equally good guess."""
        mean, std = self.predict_with_spread(pop)
        return mean - std

    def _member(self, weights: list[np.ndarray], h: np.ndarray) -> np.ndarray:
        for i in range(0, len(weights) - 2, 2):
            h = h @ weights[i]  # a fresh buffer: bias and ReLU then run in place (same numbers, no temporaries)
            h += weights[i + 1]
            np.maximum(h, 0.0, out=h)
        return (h @ weights[-2] + weights[-1])[:, 0] * self.target_std + self.target_mean

    def predict_configs(self, configs: list[SubnetConfig]) -> np.ndarray:
        return self(from_configs(self.space, configs))

    def fingerprint(self) -> float:
        """A cheap number that changes whenever the weights do (for caches keyed by the predictor)."""
        return float(sum(float(m[-2].sum()) for m in self.members))

    def save(self, out: "str | Path") -> Path:
        from safetensors.numpy import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {f"m{m}.w{i}": np.ascontiguousarray(w, dtype=np.float32)
                   for m, weights in enumerate(self.members) for i, w in enumerate(weights)}
        atomic_write(out / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
        atomic_write_json(out / MANIFEST, {**HEADER.fields(),
                                           "space": self.space.model_dump(mode="json"), **_family(self.space),
                                           "target_mean": self.target_mean,
                                           "target_std": self.target_std, "residual_std": self.residual_std,
                                           "report": self.report})
        return out

    @classmethod
    def load(cls, path: "str | Path") -> "AccuracyPredictor":
        """Read a predictor directory; any corrupt, edited or mismatched file is an :class:`ArtifactError`."""
        path = Path(path)
        if not (path / MANIFEST).is_file():
            raise ArtifactError(f"{path} is not an accuracy predictor directory (no {MANIFEST}); build one with `ofa acc build`")
        fix = f"rebuild it with `ofa acc build` (or restore {path} from a copy)"
        meta = read_json_file(path / MANIFEST, "accuracy predictor manifest", ArtifactError, fix)
        HEADER.check(meta, path / MANIFEST, fix)
        numbers = {key: meta.get(key, 0.0 if key == "residual_std" else None)
                   for key in ("target_mean", "target_std", "residual_std")}
        bad = {k: v for k, v in numbers.items() if not _finite(v) or (k != "target_mean" and v < 0)}
        if bad or numbers["target_std"] == 0:
            raise ArtifactError(f"{path / MANIFEST}: {bad or numbers} must be finite numbers (std > 0); {fix}")
        try:
            space = _read_space(meta, path / MANIFEST)
        except ConfigError as exc:
            raise ArtifactError(f"{exc}; {fix}") from None
        members = _read_members(path / WEIGHTS, feature_size(space), fix)
        report = meta.get("report") if isinstance(meta.get("report"), dict) else {}
        return cls(space, members, float(numbers["target_mean"]), float(numbers["target_std"]), report,
                   float(numbers["residual_std"]))


def _family(space) -> dict:
    """The manifest's family marker: OFA-ResNet predictors say so (their space is a ResNetSpace)."""
    return {"family": "resnet"} if isinstance(space, ResNetSpace) else {}


def _read_space(meta: dict, where: Path) -> "SearchSpace | ResNetSpace":
    if meta.get("family") == "resnet":
        from ofa.resnet_artifacts import resnet_space

        if not isinstance(meta.get("space"), dict):
            raise ConfigError(f"{where}: 'space' must be the ResNet space definition")
        return resnet_space(meta["space"])
    return SearchSpace.from_dict(meta.get("space"), source=str(where))


@contextmanager
def one_blas_thread():
    """Run numpy's BLAS on one thread inside the block (restored after).

    The search scores tens to hundreds of rows at a time: too few for a second BLAS thread to pay, and on a
    loaded machine OpenBLAS's spinning worker threads made one search 50x slower (34 s instead of 0.8 s,
    measured on the 2-core dev VM). Setting the count directly costs about a microsecond per call
    (``threadpool_limits`` re-scans the loaded libraries, about 30 us)."""
    libs = _blas_libraries()
    before = [lib.get_num_threads() for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


@lru_cache(maxsize=1)
def _blas_libraries() -> tuple:
    """numpy's own BLAS (the one the MLP's matmuls call). Loaded with numpy, so caching it is safe; a BLAS
    that another package loads later (scipy's, a runtime's) is not numpy's and is left alone."""
    from threadpoolctl import ThreadpoolController

    numpy_dir = str(Path(np.__file__).resolve().parent)  # numpy/ and its wheel's numpy.libs/
    return tuple(c for c in ThreadpoolController().select(user_api="blas").lib_controllers
                 if str(c.filepath).startswith((numpy_dir, numpy_dir + ".libs")))


def _finite(value) -> bool:
    """A real, finite JSON number (a bool or an integer too large for a float is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _read_members(file: Path, n_in: int, fix: str) -> list[list[np.ndarray]]:
    """The MLPs of ``file`` (keys ``m{member}.w{i}``, or ``w{i}`` for one MLP), each checked layer by layer."""
    from safetensors.numpy import load_file

    if not file.is_file():
        raise ArtifactError(f"{file} is missing; {fix}")
    try:
        tensors = load_file(str(file))
    except Exception as exc:  # safetensors raises its own error types (and OSError) for any corrupt file
        raise ArtifactError(f"{file} is not a readable safetensors file ({type(exc).__name__}: "
                            f"{str(exc)[:120]}); {fix}") from None
    by_member: dict[int, dict[int, np.ndarray]] = {}
    for key, value in tensors.items():
        match = re.fullmatch(r"(?:m(\d+)\.)?w(\d+)", key)
        if not match or int(match.group(2)) > 64 or int(match.group(1) or 0) > 1024:
            raise ArtifactError(f"{file} holds an unexpected tensor {key!r}; {fix}")
        by_member.setdefault(int(match.group(1) or 0), {})[int(match.group(2))] = value
    if not by_member or sorted(by_member) != list(range(len(by_member))):
        raise ArtifactError(f"{file} holds no complete ensemble (members {sorted(by_member)}); {fix}")
    return [_check_layers(file, m, by_member[m], n_in, fix) for m in sorted(by_member)]


def _check_layers(file: Path, member: int, layers: dict[int, np.ndarray], n_in: int, fix: str) -> list[np.ndarray]:
    weights = [layers.get(i) for i in range(len(layers))]
    width = n_in
    problem = "" if len(weights) >= 2 and len(weights) % 2 == 0 and all(w is not None for w in weights) else "a missing layer"
    for i in range(0, len(weights) - 1, 2):
        if problem:
            break
        w, b = weights[i], weights[i + 1]
        out = 1 if i == len(weights) - 2 else (w.shape[1] if w.ndim == 2 else -1)
        if w.ndim != 2 or w.shape != (width, out) or b.shape != (out,):
            problem = f"layer {i // 2} has shapes {w.shape}, {b.shape}; expected ({width}, {out}), ({out},)"
        elif not (np.issubdtype(w.dtype, np.floating) and np.isfinite(w).all() and np.isfinite(b).all()):
            problem = f"layer {i // 2} holds non-finite or non-float values"
        width = out
    if problem:
        raise ArtifactError(f"{file}: ensemble member {member}: {problem}; {fix}")
    return [np.asarray(w, dtype=np.float32) for w in weights]


def _mlp(n_in: int, hidden: int, layers: int) -> torch.nn.Sequential:
    mods: list[torch.nn.Module] = []
    for i in range(layers):
        mods += [torch.nn.Linear(n_in if i == 0 else hidden, hidden), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(hidden, 1))
    return torch.nn.Sequential(*mods)


def fit(space: SearchSpace, configs: list[SubnetConfig], accuracy: np.ndarray, hidden: int = 400, layers: int = 3,
        epochs: int = 400, lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0, members: int = 5) -> AccuracyPredictor:
    """Train ``members`` MLPs on (config, accuracy) pairs (full-batch Adam with cosine decay; seeded).

    Member 0 trains on every row, member m > 0 on a bootstrap resample drawn with seed ``(seed, m)``."""
    if len(configs) < 5:
        raise ConfigError(f"need at least 5 measured sub-networks to fit a predictor, got {len(configs)}")
    if members < 1:
        raise ConfigError(f"an accuracy predictor needs at least one ensemble member, got {members}")
    x = torch.from_numpy(encode(space, from_configs(space, configs)))
    y = torch.tensor(np.asarray(accuracy, dtype=np.float32))
    mean, std = float(y.mean()), float(y.std().clamp_min(1e-6))
    target = ((y - mean) / std)[:, None]
    weights = []
    for m in range(members):
        rows = np.arange(len(y)) if m == 0 else np.random.default_rng([seed, m]).integers(0, len(y), len(y))
        weights.append(_fit_member(x[rows], target[rows], hidden, layers, epochs, lr, weight_decay, seed + m))
    return AccuracyPredictor(space, weights, mean, std)


def _fit_member(x: torch.Tensor, target: torch.Tensor, hidden: int, layers: int, epochs: int, lr: float,
                weight_decay: float, seed: int) -> list[np.ndarray]:
    torch.manual_seed(seed)
    model = _mlp(x.shape[1], hidden, layers)
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
    return weights


def rank_metrics(pred: np.ndarray, true: np.ndarray) -> dict:
    from scipy.stats import kendalltau, spearmanr

    return {"rmse_pct": float(np.sqrt(np.mean((pred - true) ** 2)) * 100),
            "kendall_tau": float(kendalltau(pred, true).statistic), "spearman": float(spearmanr(pred, true).statistic)}


def fit_and_evaluate(space: SearchSpace, table: pd.DataFrame, holdout: float = 0.2, seed: int = 0,
                     curve: tuple[int, ...] = (100, 300, 1000), **fit_args) -> AccuracyPredictor:
    """Fit on all but a held-out share; report RMSE/tau on it, a sample-size curve and a FLOPs baseline."""
    parse = ResNetConfig.from_json if isinstance(space, ResNetSpace) else SubnetConfig.from_json
    configs = [parse(s, space) for s in table["subnet"]]
    acc = table["top1"].to_numpy(dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(configs))
    n_test = max(1, int(round(len(configs) * holdout)))
    test, train = order[:n_test], order[n_test:]
    pick = lambda idx: [configs[i] for i in idx]  # noqa: E731
    report: dict = {"n_rows": len(configs), "n_train": len(train), "n_test": len(test)}
    report["flops_baseline"] = rank_metrics(table["mflops"].to_numpy()[test], acc[test]) | {"rmse_pct": None}
    report["curve"] = []
    for n in sorted({c for c in curve if c < len(train)}):
        model = fit(space, pick(train[:n]), acc[train[:n]], seed=seed, **fit_args)
        report["curve"].append({"n_train": int(n), **rank_metrics(model.predict_configs(pick(test)), acc[test])})
    held = fit(space, pick(train), acc[train], seed=seed, **fit_args)
    mean, spread = held.predict_with_spread(from_configs(space, pick(test)))
    report["curve"].append({"n_train": len(train), **rank_metrics(mean, acc[test])})
    metrics = rank_metrics(mean, acc[test])
    report["held_out"] = metrics | {
        "members": len(held.members), "ensemble_spread_pct": float(100 * spread.mean()),
        "within_2_ensemble_spread": float(np.mean(np.abs(mean - acc[test]) <= 2 * spread + 1e-12))}
    final = fit(space, configs, acc, seed=seed, **fit_args)  # the held-out rows were for the report; use them too
    final.residual_std = metrics["rmse_pct"] / 100
    final.report = report
    return final
