"""Adaptive K, reward side: a per-answer cost lambda, so that a candidate is worth listing only when its
probability of being right exceeds lambda.

For a response that lists n <= K distinct candidates with hits y_i (0/1, or probabilities under an exact
posterior),

    set_reward = sum_i y_i - lambda * n.

Under the posterior, E[set_reward] = sum_i (p_i - lambda) with p_i = P(a_i hits Y* | x), so the optimal
response lists exactly the answers with p_i > lambda (the K likeliest of them when more qualify):
`optimal_answer_set`. This holds for exclusive answers (single gold) and for multi-gold sets alike,
because the reward is linear in the hits. In training and scoring the same reward is
`RewardSpec.answer_cost` with an "up to K" format (`AnswerFormat.min_candidates`): see docs/rewards.md.

>>> set_reward([1.0, 0.0], cost=0.2)
0.6
>>> optimal_answer_set({"flu": 0.6, "cold": 0.3, "measles": 0.1}, cost=0.2, max_candidates=3)
[('flu', 0.6), ('cold', 0.3)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def set_reward(hits: Sequence[float], cost: float) -> float:
    """sum_i y_i - cost * n over the n listed (distinct, graded) candidates; range [-cost K, K (1 - cost)].

    >>> set_reward([], cost=0.3), set_reward([0.5, 0.25], cost=0.3)
    (0.0, 0.15000000000000002)
    """
    _check_cost(cost)
    return float(sum(hits)) - cost * len(hits)


def optimal_answer_set(
    posterior: Mapping[str, float], cost: float, max_candidates: int
) -> list[tuple[str, float]]:
    """The answers with probability > cost, likeliest first, at most `max_candidates` (the set that
    maximises the expected `set_reward`); ties in probability keep the posterior's order."""
    _check_cost(cost)
    if max_candidates < 1:
        raise ValueError(f"max_candidates must be >= 1, got {max_candidates}")
    ranked = sorted(posterior.items(), key=lambda item: -item[1])
    return [(answer, p) for answer, p in ranked if p > cost][:max_candidates]


def expected_set_reward(answers: Sequence[str], posterior: Mapping[str, float], cost: float) -> float:
    """E[set_reward] of listing `answers` (distinct) when answer a is right with probability posterior[a].

    >>> round(expected_set_reward(["flu", "cold"], {"flu": 0.6, "cold": 0.3}, cost=0.2), 3)
    0.5
    """
    if len(set(answers)) != len(answers):
        raise ValueError("expected_set_reward needs distinct answers")
    return set_reward([posterior.get(a, 0.0) for a in answers], cost)


def _check_cost(cost: float) -> None:
    if not 0.0 <= cost <= 1.0:
        raise ValueError(f"the per-answer cost lambda must be in [0, 1], got {cost}")
