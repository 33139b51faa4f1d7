"""A REINFORCE controller (Williams '92) over per-slot choices, with MnasNet's reward.

The policy is one categorical distribution per gene: kernel size and expand ratio per block slot, depth
per stage, and the resolution (only resolutions the constraints allow). Each step samples a batch of
feasible networks from the policy and moves every distribution toward the choices of networks that beat
the running baseline (advantage normalised by the batch's spread; plain gradient ascent on the logits).

Reward, as in MnasNet (Tan et al., CVPR'19): ``accuracy * (cost / limit) ** w`` for each constraint. The
constraints stay hard here (only feasible samples are scored, so ``cost <= limit``), and ``w`` is
MnasNet's soft-constraint exponent ``-0.07`` when ``latency_weight`` is left at its default: a network
that uses less of its budget scores slightly higher at equal accuracy. ``latency_weight=0`` ranks by
accuracy alone (MnasNet's hard-constraint reward under the target).
"""

from __future__ import annotations

import time

import numpy as np

from ofa.search.constraints import Constraint, allowed_resolutions
from ofa.search.evolution import (
    EvolutionSettings,
    MemoizedFitness,
    SearchHistory,
    SearchResult,
    _feasible_children,
    initial_population,
)
from ofa.search.population import Population
from ofa.search.strategies.common import result_of
from ofa.spaces import SearchSpace

MNAS_W = -0.07
LEARNING_RATE = 0.3
BASELINE_DECAY = 0.9
UNBOUNDED = 1e29  # constraints at or above this limit only restrict resolutions; they do not shape the reward


class Policy:
    """Logits of every gene: ``ks``/``e`` (slots, choices), ``d`` (stages, choices), ``r`` (1, choices)."""

    def __init__(self, space: SearchSpace, r_choices: np.ndarray | None):
        self.logits = {"ks": np.zeros((space.n_block_slots, len(space.ks_choices))),
                       "e": np.zeros((space.n_block_slots, len(space.e_choices))),
                       "d": np.zeros((space.n_stages, len(space.d_choices))),
                       "r": np.zeros((1, len(space.resolutions)))}
        if r_choices is not None:
            blocked = np.setdiff1d(np.arange(len(space.resolutions)), r_choices)
            self.logits["r"][0, blocked] = -np.inf

    def probs(self, gene: str) -> np.ndarray:
        z = self.logits[gene] - self.logits[gene].max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def sample(self, n: int, rng: np.random.Generator) -> Population:
        genes = {}
        for gene in self.logits:
            cum = np.cumsum(self.probs(gene), axis=1)
            genes[gene] = (rng.random((n, cum.shape[0], 1)) > cum[None]).sum(axis=2).clip(max=cum.shape[1] - 1)
        return Population(genes["ks"], genes["e"], genes["d"], genes["r"][:, 0])

    def update(self, pop: Population, advantage: np.ndarray) -> None:
        """One gradient-ascent step on ``mean(advantage * log pi(choices))``."""
        for gene, chosen in (("ks", pop.ks), ("e", pop.e), ("d", pop.d), ("r", pop.r[:, None])):
            p = self.probs(gene)
            onehot = np.eye(p.shape[1])[chosen]  # (n, genes, choices)
            grad = (advantage[:, None, None] * (onehot - p[None])).mean(axis=0)
            finite = np.isfinite(self.logits[gene])
            self.logits[gene][finite] += LEARNING_RATE * grad[finite]


def reward(scores: np.ndarray, pop: Population, constraints: list[Constraint], weight: float) -> np.ndarray:
    out = scores.astype(float).copy()
    for c in constraints:
        if weight and c.limit < UNBOUNDED:
            out *= (np.maximum(c.cost(pop), 1e-12) / c.limit) ** weight
    return out


def reinforce(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
              evaluations: int, latency_weight: float = MNAS_W) -> SearchResult:
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    policy = Policy(space, allowed_resolutions(space, constraints))
    score = MemoizedFitness(space, fitness)
    history = SearchHistory()
    first = initial_population(space, constraints, settings, rng).take(slice(0, evaluations))  # fails fast if infeasible
    batch, baseline, step = first, None, 0
    per_step = max(4, settings.population // 5)
    while len(batch):
        scores = score(batch)
        history.add(step, batch, scores)
        r = reward(scores, batch, constraints, latency_weight)
        baseline = float(r.mean()) if baseline is None else BASELINE_DECAY * baseline + (1 - BASELINE_DECAY) * float(r.mean())
        policy.update(batch, (r - baseline) / (r.std() + 1e-8))
        step += 1
        n = min(per_step, evaluations - len(history))
        if n <= 0:
            break
        batch = _feasible_children(lambda k: policy.sample(k, rng), n, constraints)
    return result_of(history, start)
