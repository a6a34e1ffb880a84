"""Proper scoring rules for the confidence term of a reward: Brier (default), clipped log, spherical.

A candidate with stated confidence q and hit y (0/1, or its probability under an exact posterior) gets a
score S(q, y) in [0, 1], higher is better. Each rule is *proper*: if y ~ Bernoulli(p), the expected score
E_p[S(q, y)] = p S(q, 1) + (1 - p) S(q, 0) is maximised at q = p (the clipped log score: at q = p for p
in [eps, 1 - eps], at the nearer clip point otherwise).

| rule | S(q, y) |
|---|---|
| brier | 1 - (q - y)^2, and 1 - [(q - y)^2 + y (1 - y)] for a probability y (its exact expectation) |
| log | 1 - [-(y log q_c + (1 - y) log(1 - q_c))] / (-log eps), q_c = min(max(q, eps), 1 - eps) |
| spherical | (y q + (1 - y)(1 - q)) / sqrt(q^2 + (1 - q)^2) |

The log and spherical scores are linear in y, so plugging a probability y into them gives their exact
expectation; the Brier score needs the y (1 - y) term for that. The multi-answer term averages over the
K slots, a missing slot counting as a perfect score (as the Brier term counts it as (q, y) = (0, 0)):

    term = 1 - (1/K) sum_i [1 - S(q_i, y_i)]

With `ScoringRule.BRIER` this is exactly `beyondmode.rewards.brier`. Set the rule of a reward with
`RewardSpec(scoring_rule="log")` (config: `method.weights: {scoring_rule: log}`); the weighted term is
still `brier_weight`, and the value is logged as `log_score` / `spherical_score`.

>>> round(binary_score("brier", 0.8, 1.0), 3), round(binary_score("spherical", 0.8, 1.0), 3)
(0.96, 0.97)
>>> round(confidence_term("log", [1.0, 0.0], [0.9, 0.2], num_candidates=2), 3)
0.964
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import StrEnum

LOG_CLIP = 0.01
"""eps of the clipped log score: confidences are clipped to [eps, 1 - eps], so the worst loss is log 100."""


class ScoringRule(StrEnum):
    """Which proper scoring rule scores the stated confidences."""

    BRIER = "brier"
    LOG = "log"
    SPHERICAL = "spherical"

    @property
    def term_name(self) -> str:
        """The reward term that holds this rule's value (`brier`, `log_score`, `spherical_score`)."""
        return "brier" if self is ScoringRule.BRIER else f"{self.value}_score"


def parse_scoring_rule(value: ScoringRule | str) -> ScoringRule:
    """The rule named `value`; an unknown name raises ValueError listing the known ones.

    >>> parse_scoring_rule("spherical")
    <ScoringRule.SPHERICAL: 'spherical'>
    """
    try:
        return ScoringRule(value)
    except ValueError:
        known = ", ".join(r.value for r in ScoringRule)
        raise ValueError(f"RewardSpec.scoring_rule must be one of {known}; got {value!r}") from None


def binary_score(rule: ScoringRule | str, confidence: float, hit: float, clip: float = LOG_CLIP) -> float:
    """S(q, y) in [0, 1] for one candidate (y a 0/1 hit or a probability: the exact expectation).

    >>> binary_score("log", 0.5, 1.0) == binary_score("log", 0.5, 0.0)
    True
    """
    rule = parse_scoring_rule(rule)
    q, y = float(confidence), float(hit)
    if rule is ScoringRule.BRIER:
        return 1.0 - ((q - y) ** 2 + y * (1.0 - y))
    if rule is ScoringRule.LOG:
        clipped = min(max(q, clip), 1.0 - clip)
        loss = -(y * math.log(clipped) + (1.0 - y) * math.log(1.0 - clipped))
        return 1.0 - loss / -math.log(clip)
    return (y * q + (1.0 - y) * (1.0 - q)) / math.sqrt(q * q + (1.0 - q) ** 2)


def expected_score(
    rule: ScoringRule | str, confidence: float, probability: float, clip: float = LOG_CLIP
) -> float:
    """E_p[S(q, y)] = p S(q, 1) + (1 - p) S(q, 0): maximised at q = p by a proper rule.

    >>> q_values = [i / 100 for i in range(101)]
    >>> max(q_values, key=lambda q: expected_score("spherical", q, 0.3))
    0.3
    """
    return probability * binary_score(rule, confidence, 1.0, clip) + (1.0 - probability) * binary_score(
        rule, confidence, 0.0, clip
    )


def confidence_term(
    rule: ScoringRule | str,
    hits: Sequence[float],
    confidences: Sequence[float | None],
    num_candidates: int,
    clip: float = LOG_CLIP,
) -> float:
    """1 - (1/K) sum_i [1 - S(q_i, y_i)] over the candidates; 0 without (valid, complete) confidences.

    >>> confidence_term("brier", [1.0, 0.0], [0.8, 0.1], num_candidates=2)  # = rewards.brier
    0.975
    """
    if not confidences or len(confidences) != len(hits) or None in confidences:
        return 0.0
    loss = sum(1.0 - binary_score(rule, q, y, clip) for q, y in zip(confidences, hits, strict=True))  # type: ignore[arg-type]
    return 1.0 - loss / num_candidates
