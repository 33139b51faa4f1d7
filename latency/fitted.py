"""A latency predictor fitted from end-to-end measurements alone, as an artifact directory.

``ofa latency fit`` writes it; :func:`latency.load_predictor` (and so ``ofa search --device DIR``,
``ofa lut predict``, zoo devices with ``latency_predictor:``) reads it wherever a table directory works.

- ``manifest.json``: kind ``latency-predictor``, schema and tool version, space, resolutions (those
  measured), classes, the declared statistic, the chosen family and its features and coefficients,
  the uncertainty, the measurement files' sha256, and ``weights_sha256``.
- ``weights.npz`` (numpy arrays, read with ``allow_pickle=False``): the fitted model as a per-block
  table, ``base_ms[r]`` and ``block_ms[r, slot, k, e]``; every family is linear in per-block features.
- ``report.json``: the cross-validated scores of every candidate family.

Uncertainty: the fit is judged by its relative error, so the spread is relative too: ``std_ms =
rel_std * mean_ms`` with ``rel_std`` the 68th percentile of the absolute cross-validated relative
residuals (about one sigma, without assuming normal errors). Loading re-hashes the weights and refuses a
file that does not match its manifest.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from devices.stats import BUDGET_STATS
from latency.index import BlockIndex
from latency.predictors import LatencyPredictor
from ofa.errors import ArtifactError, ConfigError
from ofa.io import atomic_write, atomic_write_json, read_json_file, sha256_file
from ofa.manifest import ManifestHeader
from ofa.population import Population
from ofa.spaces import get_space

KIND = "latency-predictor"
SCHEMA_VERSION = 1
HEADER = ManifestHeader(KIND, SCHEMA_VERSION)
MANIFEST_FILE, WEIGHTS_FILE, REPORT_FILE = "manifest.json", "weights.npz", "report.json"


def is_fitted_predictor(path: "str | Path") -> bool:
    """Whether ``path`` is a directory written by ``ofa latency fit`` (by its manifest's kind)."""
    manifest = Path(path) / MANIFEST_FILE
    if not manifest.is_file():
        return False
    try:
        return read_json_file(manifest, "manifest", ArtifactError).get("kind") == KIND
    except ArtifactError:
        return False


class FittedLatencyPredictor(LatencyPredictor):
    """``base_ms[r] + sum of block_ms[r, slot, k, e]`` over active slots; spread ``rel_std * mean``."""

    name = "fitted"

    def __init__(self, index: BlockIndex, base_ms: np.ndarray, block_ms: np.ndarray, rel_std: float,
                 manifest: "dict[str, Any] | None" = None):
        super().__init__(index)
        self.base_ms, self.block_ms = np.asarray(base_ms, float), np.asarray(block_ms, float)
        self.rel_std, self.manifest = float(rel_std), dict(manifest or {})

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        return self.base_ms, self.block_ms

    def spread(self, pop: Population, mean: np.ndarray) -> np.ndarray:
        return self.rel_std * np.abs(mean)

    def minimum_ms(self) -> float:
        """The smallest latency this model predicts for any network of the space (exact: it is a table)."""
        return self.additive().minimum()[0]

    def describe(self) -> dict:
        keys = ("family", "statistic", "n_measurements", "device")
        return {"name": self.name, **{k: self.manifest.get(k) for k in keys}, "rel_std_pct": 100 * self.rel_std}

    # ----- disk ----------------------------------------------------------------------------------------
    def save(self, directory: "str | Path", report: dict) -> Path:
        """Weights, report, then the manifest (last: a directory without one is not an artifact)."""
        directory = Path(directory)
        atomic_write(directory / WEIGHTS_FILE, lambda tmp: _save_npz(tmp, self.base_ms, self.block_ms))
        atomic_write_json(directory / REPORT_FILE, report)
        manifest = self.manifest | HEADER.fields() | {"space": self.space.id,
                                    "resolutions": list(self.index.resolutions), "num_classes": self.index.num_classes,
                                    "rel_std": self.rel_std, "weights_file": WEIGHTS_FILE,
                                    "weights_sha256": sha256_file(directory / WEIGHTS_FILE)}
        atomic_write_json(directory / MANIFEST_FILE, manifest)
        self.manifest = manifest
        return directory

    @classmethod
    def load(cls, directory: "str | Path") -> "FittedLatencyPredictor":
        directory = Path(directory)
        fix = "fit it again with `ofa latency fit MEASUREMENTS --space SPACE --out DIR`"
        manifest = read_json_file(directory / MANIFEST_FILE, "latency predictor manifest", ArtifactError, fix)
        HEADER.check(manifest, directory / MANIFEST_FILE, fix)
        _check_manifest(manifest, directory, fix)
        weights = directory / WEIGHTS_FILE
        if not weights.is_file() or sha256_file(weights) != manifest["weights_sha256"]:
            raise ArtifactError(f"{weights} is missing or does not match the sha256 in its manifest (edited or "
                                f"corrupt); {fix}")
        try:
            space = get_space(manifest["space"])
            index = BlockIndex(space, manifest["resolutions"], manifest["num_classes"])
        except ConfigError as exc:
            raise ArtifactError(f"{directory / MANIFEST_FILE}: {exc}; {fix}") from None
        base, block = _load_npz(weights, index, fix)
        model = cls(index, base, block, manifest["rel_std"], manifest)
        if not model.minimum_ms() > 0:
            raise ArtifactError(f"{weights}: the model predicts {model.minimum_ms():.3g} ms for some network; {fix}")
        return model


def _save_npz(tmp: Path, base: np.ndarray, block: np.ndarray) -> None:
    with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a path
        np.savez(fh, base_ms=base, block_ms=block)


def _load_npz(path: Path, index: BlockIndex, fix: str) -> tuple[np.ndarray, np.ndarray]:
    space = index.space
    shape = (len(index.resolutions), space.n_block_slots, len(space.ks_choices), len(space.e_choices))
    try:
        with np.load(path, allow_pickle=False) as data:
            base, block = np.asarray(data["base_ms"], float), np.asarray(data["block_ms"], float)
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"{path} is not a readable weights file ({exc}); {fix}") from None
    if base.shape != shape[:1] or block.shape != shape or not (np.isfinite(base).all() and np.isfinite(block).all()):
        raise ArtifactError(f"{path}: weights of shape {base.shape} / {block.shape} (finite) expected "
                            f"{shape[:1]} / {shape}; {fix}")
    return base, block


_FIELDS = {"space": str, "resolutions": list, "num_classes": int, "statistic": str,
           "rel_std": float, "weights_sha256": str, "family": str}


def _check_manifest(manifest: dict, directory: Path, fix: str) -> None:
    for key, kind in _FIELDS.items():
        value = manifest.get(key)
        ok = isinstance(value, (int, float)) if kind is float else isinstance(value, kind)
        if isinstance(value, bool) or not ok:
            raise ArtifactError(f"{directory / MANIFEST_FILE}: field {key!r} must be a {kind.__name__}, got {value!r}; {fix}")
    if manifest["statistic"] not in BUDGET_STATS or not (math.isfinite(manifest["rel_std"]) and manifest["rel_std"] >= 0):
        raise ArtifactError(f"{directory / MANIFEST_FILE}: statistic {manifest['statistic']!r} / rel_std "
                            f"{manifest['rel_std']!r} invalid; {fix}")
    res = manifest["resolutions"]
    if not res or not all(isinstance(r, int) and not isinstance(r, bool) for r in res) or manifest["num_classes"] < 1:
        raise ArtifactError(f"{directory / MANIFEST_FILE}: resolutions {res!r} / num_classes invalid; {fix}")
