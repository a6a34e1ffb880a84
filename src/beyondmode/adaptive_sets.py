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
from dataclasses import dataclass

from beyondmode.grading.base import Grader, grade_expected
from beyondmode.types import ParsedResponse


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


@dataclass(frozen=True, slots=True)
class SetOutcome:
    """One answer set judged under the exact posterior: `size` listed answers (0 for a malformed
    completion, which lists nothing usable), `coverage` = P(the truth is in the set), and `value` =
    coverage - cost * size, the expected `set_reward`."""

    size: int
    coverage: float
    value: float


def completion_outcome(
    parsed: ParsedResponse, posterior: Mapping[str, float], grader: Grader, cost: float
) -> SetOutcome:
    """The outcome of one parsed completion: its distinct candidates' posterior mass (`grade_expected`,
    a duplicate earns 0 but is still listed and paid for).

    >>> from beyondmode.formats import AnswerFormat
    >>> from beyondmode.grading import get_grader
    >>> fmt = AnswerFormat(num_candidates=3, with_confidence=False, min_candidates=1)
    >>> parsed = fmt.parse(fmt.render(["flu", "cold"], think="t"))
    >>> completion_outcome(parsed, {"flu": 0.6, "cold": 0.3}, get_grader("exact_match"), cost=0.2)
    SetOutcome(size=2, coverage=0.9, value=0.5)
    """
    _check_cost(cost)
    if not parsed.format_ok:
        return SetOutcome(0, 0.0, 0.0)
    hits = grade_expected(parsed.texts, posterior, grader).hits
    coverage = round(min(1.0, float(sum(hits))), 12)
    size = len(parsed.texts)
    return SetOutcome(size, coverage, round(coverage - cost * size, 12))


def oracle_outcome(
    posterior: Mapping[str, float], cost: float, max_candidates: int, fewest: int = 1
) -> SetOutcome:
    """The outcome of the best response: `optimal_answer_set`, padded with the next likeliest answers up
    to `fewest` (a well-formed completion lists at least that many).

    >>> oracle_outcome({"flu": 0.6, "cold": 0.3, "measles": 0.1}, cost=0.2, max_candidates=3)
    SetOutcome(size=2, coverage=0.9, value=0.5)
    """
    chosen = optimal_answer_set(posterior, cost, max_candidates)
    if len(chosen) < fewest:
        ranked = sorted(posterior.items(), key=lambda item: -item[1])
        chosen = ranked[:fewest]
    coverage = round(min(1.0, sum(p for _, p in chosen)), 12)
    return SetOutcome(len(chosen), coverage, round(coverage - cost * len(chosen), 12))
