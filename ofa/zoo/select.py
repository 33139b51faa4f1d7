"""Final choice by measured accuracy: the predictor proposes, measurement decides.

The search's top-K candidates under a budget are each extracted, BN-recalibrated and evaluated on the
held-out split; the best measured one is kept (ties go to the better predicted). Taking the single
best-*predicted* network selects the predictor's errors as much as the network (the winner's curse);
measuring K of them caps what a predictor error can cost. The measured figure of the kept one is
itself the best of K on the same split, so it carries a small optimistic bias of its own; the card
lists every candidate's predicted and measured top-1 so it can be judged.
"""

from __future__ import annotations

import logging

from ofa.search.result import Candidate

log = logging.getLogger(__name__)


def pick_by_measured(evaluator, space, candidates: list[Candidate]) -> tuple[Candidate, object, dict, list[dict]]:
    """(chosen candidate, its BN-recalibrated network, its accuracy, every candidate's figures for the card)."""
    from ofa.subnet import SubnetConfig

    if not candidates:
        raise ValueError("no candidates to choose from")
    best = None
    table = []
    for row in candidates:
        cfg = SubnetConfig.from_dict(row.subnet, space)
        net = evaluator.prepare(cfg)
        accuracy = evaluator.accuracy(net, cfg.r)
        predicted = row.first_latency()
        table.append({"rank": len(table) if row.rank is None else row.rank, "arch": row.arch,
                      "predicted_top1": row.predicted_top1, "predicted_top1_std": row.predicted_top1_std,
                      "top1": accuracy["top1"], "latency_predicted_ms": predicted.mean if predicted else None})
        if best is None or accuracy["top1"] > best[2]["top1"]:
            best = (row, net, accuracy)
    log.info("measured %d candidates: top-1 %s", len(table), [round(t["top1"], 4) for t in table])
    return best[0], best[1], best[2], table
