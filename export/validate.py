"""Parity of an exported file with its PyTorch reference, judged against per-precision tolerances.

Every output is compared on the same real images: max abs diff, max abs diff relative to the
largest reference logit, top-1 agreement, and (when the images are labelled with the model's
classes) accuracy of both and the drop. :func:`judge` lists every failure; nothing is raised here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ofa.errors import ConfigError


@dataclass(frozen=True)
class Tolerance:
    """Limits one precision must meet; ``None`` means the metric is recorded but not judged."""

    atol: float | None  # max |export - torch| <= atol + rtol * max |torch|
    rtol: float | None
    min_top1_agreement: float
    max_accuracy_drop: float | None  # in accuracy points (0.02 = 2 %), when labels exist

    def to_dict(self) -> dict:
        return asdict(self)


#: fp32 must be numerically the same network; fp16 weights move logits slightly; int8 is judged by
#: predictions: top-1 agreement with PyTorch and accuracy drop on the labelled validation images.
TOLERANCES: dict[str, Tolerance] = {
    "fp32": Tolerance(atol=1e-4, rtol=1e-4, min_top1_agreement=0.99, max_accuracy_drop=None),
    "fp16": Tolerance(atol=1e-2, rtol=5e-2, min_top1_agreement=0.98, max_accuracy_drop=None),
    "int8": Tolerance(atol=None, rtol=None, min_top1_agreement=0.90, max_accuracy_drop=0.03),
}
PRECISIONS = tuple(TOLERANCES)


def tolerance_for(precision: str) -> Tolerance:
    if precision not in TOLERANCES:
        raise ConfigError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)} (--precision)")
    return TOLERANCES[precision]


def compare(reference: np.ndarray, exported: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Metrics of one output: ``reference`` and ``exported`` are (N, classes) logits."""
    if reference.shape != exported.shape:
        return {"shape_reference": list(reference.shape), "shape_exported": list(exported.shape)}
    diff = np.abs(reference.astype(np.float64) - exported.astype(np.float64))
    scale = float(np.abs(reference).max()) or 1.0
    ref_top1, exp_top1 = reference.argmax(1), exported.argmax(1)
    metrics = {
        "images": int(len(reference)),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "max_rel_diff": float(diff.max() / scale),
        "reference_max_abs": scale,
        "top1_agreement": float((ref_top1 == exp_top1).mean()),
        "finite": bool(np.isfinite(exported).all()),
    }
    if labels is not None:
        acc_ref, acc_exp = float((ref_top1 == labels).mean()), float((exp_top1 == labels).mean())
        metrics |= {"accuracy_reference": acc_ref, "accuracy_exported": acc_exp, "accuracy_drop": acc_ref - acc_exp}
    return metrics


def judge(output: str, metrics: dict, tol: Tolerance) -> list[str]:
    """Every way ``metrics`` of ``output`` break ``tol``, as readable sentences (empty: passed)."""
    if "shape_reference" in metrics:
        return [f"{output}: shape {metrics['shape_exported']} != PyTorch {metrics['shape_reference']}"]
    failures = []
    if not metrics["finite"]:
        failures.append(f"{output}: non-finite values in the exported model's output")
    if tol.atol is not None:
        limit = tol.atol + (tol.rtol or 0.0) * metrics["reference_max_abs"]
        if not metrics["max_abs_diff"] <= limit:
            failures.append(f"{output}: max abs diff {metrics['max_abs_diff']:.3g} > {limit:.3g} "
                            f"(atol {tol.atol:g} + rtol {tol.rtol:g} x max|logit| {metrics['reference_max_abs']:.3g})")
    if metrics["top1_agreement"] < tol.min_top1_agreement:
        failures.append(f"{output}: top-1 agreement {metrics['top1_agreement']:.3f} < {tol.min_top1_agreement:.2f} "
                        f"on {metrics['images']} images")
    drop = metrics.get("accuracy_drop")
    if tol.max_accuracy_drop is not None and drop is not None and drop > tol.max_accuracy_drop:
        failures.append(f"{output}: accuracy drop {drop * 100:.1f} points > {tol.max_accuracy_drop * 100:.1f} "
                        f"({metrics['accuracy_reference']:.3f} -> {metrics['accuracy_exported']:.3f})")
    return failures
