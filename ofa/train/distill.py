"""The training loss: label-smoothed cross-entropy plus knowledge distillation from the full network.

``loss = ce_weight * CE(logits, labels, label_smoothing) + kd_weight * KD(logits, teacher_logits)``,
where KD is the soft-target cross-entropy ``-sum softmax(t/T) * log_softmax(s/T)``, scaled by ``T**2``
(OFA uses ``T = 1``). The teacher runs in eval mode without gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def soft_target_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Cross-entropy of the student against the teacher's softened distribution (batch mean)."""
    target = F.softmax(teacher_logits / temperature, dim=1)
    log_probs = F.log_softmax(logits / temperature, dim=1)
    return -(target * log_probs).sum(dim=1).mean() * temperature**2


def training_loss(logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None, kd_weight: float,
                  ce_weight: float = 1.0, label_smoothing: float = 0.1, temperature: float = 1.0) -> tuple[torch.Tensor, dict]:
    """The combined loss and its parts (as floats, for logging)."""
    ce = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    loss = ce_weight * ce
    parts = {"ce": float(ce.detach())}
    if teacher_logits is not None and kd_weight > 0:
        kd = soft_target_loss(logits, teacher_logits, temperature)
        loss = loss + kd_weight * kd
        parts["kd"] = float(kd.detach())
    return loss, parts


@torch.no_grad()
def teacher_logits(teacher: nn.Module | None, images: torch.Tensor) -> torch.Tensor | None:
    if teacher is None:
        return None
    teacher.eval()
    return teacher(images)
