"""Shared test fixtures: paths to ../shared, small spaces, a reproducible random supernet."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OFA_REFERENCE = SHARED / "fixtures" / "ofa_mbv3_reference"
TINY = "ofa_tiny_in32_d12_e34_k35_w1.0"
IN32 = "ofa_mbv3_in32_d234_e346_k357_w1.0"
MBV3 = W10 = "ofa_mbv3_d234_e346_k357_w1.0"
W12 = "ofa_mbv3_d234_e346_k357_w1.2"  # the space of OFA's Note10 tables


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter and BN statistic non-trivial values (so slicing mistakes show)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.randn(tensor.shape, generator=gen) * 0.2
                if name.endswith("running_var"):
                    tensor.copy_(noise.abs() + 0.5)
                elif "kernel_transforms" in name:
                    tensor.add_(noise * 0.5)
                else:
                    tensor.copy_(noise if not name.endswith(("bn.weight", "running_var")) else 1 + noise)
    return module


@pytest.fixture(scope="session")
def ofa_reference() -> Path:
    if not OFA_REFERENCE.is_dir():
        pytest.skip(f"official OFA reference fixture not found at {OFA_REFERENCE}")
    return OFA_REFERENCE


@pytest.fixture
def tiny_supernet():
    from ofa import get_space
    from ofa.nn.supernet import OFASupernet

    return randomize(OFASupernet(get_space(TINY), num_classes=10)).eval()
