"""A REINFORCE controller (Williams '92) over per-slot choices, with MnasNet's reward.

The policy is one categorical distribution per gene: kernel size and expand ratio per block slot, depth
per stage, and the resolution (only resolutions the constraints allow). Each step samples a batch from
the policy, scores every sample, and moves every distribution toward the choices of the better half of the
batch (advantage = centred rank of the reward, see :func:`advantage`; plain gradient ascent on the logits).

Reward, as in MnasNet (Tan et al., CVPR'19): ``accuracy * prod((cost / limit) ** w)`` over the
constraints, with ``w = latency_weight`` for a sample within its limit and ``w = -1`` beyond it, so the
controller learns where the budget is. The default ``latency_weight = 0`` is MnasNet's hard-constraint
reward (accuracy alone under the target); ``MNAS_SOFT = -0.07`` is its soft one, which also rewards
networks that leave part of the budget unused.
Only feasible samples enter the result; every scored sample counts against the evaluation budget.
"""

from __future__ import annotations

import time

import numpy as np

from ofa.population import Population
from ofa.search.constraints import Constraint, allowed_resolutions, feasible
from ofa.search.evolution import (
    EvolutionSettings,
    SearchHistory,
    SearchResult,
    initial_population,
)
from ofa.search.strategies.common import result_of
from ofa.spaces import SearchSpace

MNAS_HARD, MNAS_SOFT = 0.0, -0.07
LEARNING_RATE = 0.3
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
    """MnasNet's ``accuracy * prod((cost / limit) ** w)``: ``w = weight`` within a limit, -1 beyond it."""
    out = scores.astype(float).copy()
    for c in constraints:
        if c.limit < UNBOUNDED:
            ratio = np.maximum(c.cost(pop), 1e-12) / c.limit
            out *= ratio ** np.where(ratio <= 1, weight, -1.0)
    return out


def advantage(rewards: np.ndarray, ok: np.ndarray, excess: np.ndarray) -> np.ndarray:
    """Centred ranks: feasible samples by reward above every infeasible one (those by how far over they are).

    Ranks make the update independent of the fitness scale, and put the hard constraint in the order
    itself: a sample over its budget never teaches the policy more than one within it."""
    key = np.where(ok, rewards, -np.inf)
    order = np.lexsort((-excess, key))  # primary: reward (feasible first), then smaller excess
    ranks = np.empty(len(order))
    ranks[order] = np.arange(len(order))
    return (ranks - ranks.mean()) / (ranks.std() + 1e-8)


def _excess(pop: Population, constraints: list[Constraint]) -> np.ndarray:
    total = np.zeros(len(pop))
    for c in constraints:
        if c.limit < UNBOUNDED:
            total += np.maximum(c.cost(pop) / c.limit - 1.0, 0.0)
    return total


def reinforce(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
              evaluations: int, latency_weight: float = MNAS_HARD) -> SearchResult:
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    policy = Policy(space, allowed_resolutions(space, constraints))
    history = SearchHistory()
    batch = initial_population(space, constraints, settings, rng).take(slice(0, evaluations))  # fails fast
    step, spent = 0, 0
    per_step = max(4, settings.population // 5)
    while len(batch):
        scores = fitness(batch)
        spent += len(batch)
        ok = feasible(constraints, batch)
        if ok.any():
            history.add(step, batch.take(np.flatnonzero(ok)), scores[ok])
        rewards = reward(scores, batch, constraints, latency_weight)
        policy.update(batch, advantage(rewards, ok, _excess(batch, constraints)))
        step += 1
        n = min(per_step, evaluations - spent)
        if n <= 0:
            break
        batch = policy.sample(n, rng)
    return result_of(history, start, spent)
