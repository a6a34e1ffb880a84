"""Reward terms (DESIGN section 4) and their weighted, gated combination.

Each term is a plain function of one parsed response's grades (`beyondmode.grading.Grades`): hits
y_i in [0, 1] (0/1 labels, or probabilities under an exact posterior) and confidences q_i. The same
function serves both modes, because every term is written as its expectation, which equals the label
version when y_i is 0 or 1.

>>> from beyondmode.rewards import RewardSpec, combine
>>> spec = RewardSpec(accuracy="coverage", brier_weight=0.5, gate_uniqueness=True)
>>> combine({"format": 1.0, "coverage": 1.0, "any_hit": 1.0, "brier": 0.9, "uniqueness": 1.0,
...          "top1": 1.0, "sum_le_1": 1.0}, spec).total
1.45
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from beyondmode.grading.base import Grades
from beyondmode.scoring_rules import ScoringRule, parse_scoring_rule
from beyondmode.types import ParsedResponse

REWARD_VERSION = 2
"""Bumped whenever a change makes the same completion score differently; written into every result."""

TERM_NAMES = ("format", "coverage", "any_hit", "brier", "uniqueness", "top1", "sum_le_1", "listed")


class AccuracyTerm(StrEnum):
    """Which correctness term a method rewards."""

    ANY_HIT = "any_hit"
    COVERAGE = "coverage"


@dataclass(frozen=True, slots=True)
class RewardSpec:
    """Weights and gates of the total reward.

    total = w_format * format
          + w_acc   * (accuracy - answer_cost * listed) * [format] * [uniqueness]
          + w_brier * brier    * [format] * [uniqueness] * [sum_le_1]
          + w_top1  * top1     * [format]
    where a bracketed gate is 1 when disabled. `[format]` is `require_format`: malformed output earns
    nothing beyond the (zero) format term, while every term is still computed on the leniently parsed
    candidates and logged. `brier` stands for the `scoring_rule`'s term (`beyondmode.scoring_rules`).

    `answer_cost` (lambda, adaptive K: an "up to K" format, `AnswerFormat.min_candidates`) charges each
    listed candidate. With one true answer the accuracy term is the summed hit of the distinct
    candidates, so the expected accuracy part is sum_i (p_i - lambda): the best response lists exactly
    the answers with p_i > lambda (`beyondmode.adaptive_sets.optimal_answer_set`). A malformed
    completion earns 0 here, so keep lambda * K below 1 + format_weight / accuracy_weight (it then never
    pays to break the format).
    """

    format_weight: float = 0.5
    accuracy: AccuracyTerm = AccuracyTerm.COVERAGE
    accuracy_weight: float = 0.5
    brier_weight: float = 0.0
    top1_weight: float = 0.0
    gate_uniqueness: bool = False
    gate_sum_le_1: bool = False
    sum_tolerance: float = 0.01
    require_format: bool = True
    scoring_rule: ScoringRule = ScoringRule.BRIER
    answer_cost: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "accuracy", AccuracyTerm(self.accuracy))
        object.__setattr__(self, "scoring_rule", parse_scoring_rule(self.scoring_rule))
        for name in ("format_weight", "accuracy_weight", "brier_weight", "top1_weight", "sum_tolerance"):
            value = getattr(self, name)
            if not value >= 0.0:
                raise ValueError(f"RewardSpec.{name} must be >= 0, got {value}")
        if not 0.0 <= self.answer_cost < 1.0:
            raise ValueError(f"RewardSpec.answer_cost must be in [0, 1), got {self.answer_cost}")


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    """Every term, every gate's value, and the total of one completion."""

    terms: Mapping[str, float]
    gates: Mapping[str, float]
    total: float


# ----------------------------------------------------------------------------------------- terms
def format_term(parsed: ParsedResponse) -> float:
    """1 if the completion is well formed (exactly K candidates, all tags, valid confidences), else 0.

    >>> from beyondmode.formats import AnswerFormat
    >>> format_term(AnswerFormat(num_candidates=1, with_confidence=False).parse("<answer> x </answer>"))
    0.0
    """
    return 1.0 if parsed.format_ok else 0.0


def coverage(hits: Sequence[float], num_candidates: int, num_gold: int) -> float:
    """Distinct gold elements hit / min(K, |Y*|); with one gold answer this is pass@K of one generation.

    >>> coverage([1.0, 0.0, 1.0], num_candidates=3, num_gold=5)
    0.6666666666666666
    """
    if num_gold <= 0:
        return 0.0
    return min(1.0, sum(hits) / min(num_candidates, num_gold))


def any_hit(hits: Sequence[float]) -> float:
    """1 if some candidate hits Y* (expected: the summed probability of the distinct candidates).

    >>> any_hit([0.0, 1.0]), any_hit([0.25, 0.5])
    (1.0, 0.75)
    """
    return min(1.0, sum(hits))


def brier_loss(confidence: float, hit: float) -> float:
    """Expected squared error of a stated confidence q against a hit y in [0, 1]: (q - y)^2 + y (1 - y).

    The one Brier formula of the project (the reward term, the set Brier metric and the per-slot token
    credit all use it). y (1 - y) is the variance of a Bernoulli(y) label, so for a probability y this
    is E[(q - Y)^2] with Y ~ Bernoulli(y), and for a 0/1 hit it is the plain squared error.

    >>> brier_loss(0.8, 1.0), brier_loss(0.5, 0.5)
    (0.03999999999999998, 0.25)
    """
    return (confidence - hit) ** 2 + hit * (1.0 - hit)


def brier(hits: Sequence[float], confidences: Sequence[float | None], num_candidates: int) -> float:
    """Multi-answer Brier: 1 - (1/K) sum_i [(q_i - y_i)^2 + y_i (1 - y_i)] (see `brier_loss`).

    The y_i (1 - y_i) part is the expected label noise when y_i is a probability; it is 0 for 0/1 hits.
    Missing slots count as (q, y) = (0, 0); a missing confidence, or no candidate at all, makes the
    term 0.

    >>> brier([1.0, 0.0], [0.8, 0.1], num_candidates=2)
    0.975
    """
    if not confidences or len(confidences) != len(hits) or None in confidences:
        return 0.0
    total = 0.0
    for q, y in zip(confidences, hits, strict=True):
        total += brier_loss(q, y)  # type: ignore[arg-type]
    return 1.0 - total / num_candidates


def uniqueness(grades: Grades, num_candidates: int, fewest: int | None = None) -> float:
    """1 if all K candidates (at least `fewest` of them in an "up to K" format) are distinct after
    normalization and hit distinct gold elements.

    >>> uniqueness(Grades((1.0, 0.0), (0, None), distinct=True, num_gold=1), num_candidates=2)
    1.0
    >>> uniqueness(Grades((1.0,), (0,), distinct=True, num_gold=1), num_candidates=2, fewest=1)
    1.0
    """
    needed = num_candidates if fewest is None else fewest
    return 1.0 if grades.distinct and needed <= len(grades.hits) <= num_candidates else 0.0


def top1(hits: Sequence[float], confidences: Sequence[float | None]) -> float:
    """Hit of the highest-confidence candidate (the first one on ties, or without confidences).

    >>> top1([0.0, 1.0], [0.3, 0.6]), top1([0.0, 1.0], [None, None])
    (1.0, 0.0)
    """
    if not hits:
        return 0.0
    best = 0
    if confidences and None not in confidences:
        for index, q in enumerate(confidences):
            if q > confidences[best]:  # type: ignore[operator]
                best = index
    return hits[best]


def sum_le_1(confidences: Sequence[float | None], tolerance: float = 0.01) -> float:
    """1 if the stated confidences sum to at most 1 + tolerance (exclusive answers).

    >>> sum_le_1([0.5, 0.3, 0.2]), sum_le_1([0.6, 0.6])
    (1.0, 0.0)
    """
    total = sum(confidences) if None not in confidences else sum(q for q in confidences if q is not None)
    return 1.0 if total <= 1.0 + tolerance else 0.0


# ------------------------------------------------------------------------------------ combining
def compute_terms(
    parsed: ParsedResponse, grades: Grades, num_candidates: int, tolerance: float, fewest: int | None = None
) -> dict[str, float]:
    """Every term of DESIGN section 4 for one graded completion, in one pass.

    This is the hot path of every reward computation; the single-term functions above are its
    specification, and `tests/test_rewards.py` checks that both agree on random answer sets.
    """
    hits = grades.hits
    confidences = tuple(candidate.confidence for candidate in parsed.candidates)
    total_hits = sum(hits)
    if confidences and None not in confidences and len(confidences) == len(hits):
        squared = 0.0
        best = 0
        for index, (q, y) in enumerate(zip(confidences, hits, strict=True)):
            squared += brier_loss(q, y)  # type: ignore[arg-type]
            if q > confidences[best]:  # type: ignore[operator]
                best = index
        brier_value = 1.0 - squared / num_candidates
        stated = sum(confidences)  # type: ignore[arg-type]
    else:
        brier_value, best = 0.0, 0
        stated = sum(q for q in confidences if q is not None)
    num_gold = grades.num_gold
    needed = num_candidates if fewest is None else fewest
    return {
        "format": 0.0 if parsed.violations else 1.0,
        "coverage": min(1.0, total_hits / min(num_candidates, num_gold)) if num_gold > 0 else 0.0,
        "any_hit": min(1.0, total_hits),
        "brier": brier_value,
        "uniqueness": 1.0 if grades.distinct and needed <= len(hits) <= num_candidates else 0.0,
        "top1": hits[best] if hits else 0.0,
        "sum_le_1": 1.0 if stated <= 1.0 + tolerance else 0.0,
        "listed": float(len(hits)),
    }


def reference_terms(
    parsed: ParsedResponse, grades: Grades, num_candidates: int, tolerance: float, fewest: int | None = None
) -> dict[str, float]:
    """`compute_terms` written as one call per term: the obviously correct version, for tests."""
    confidences = parsed.confidences
    hits = grades.hits
    return {
        "format": format_term(parsed),
        "coverage": coverage(hits, num_candidates, grades.num_gold),
        "any_hit": any_hit(hits),
        "brier": brier(hits, confidences, num_candidates),
        "uniqueness": uniqueness(grades, num_candidates, fewest),
        "top1": top1(hits, confidences),
        "sum_le_1": sum_le_1(confidences, tolerance),
        "listed": float(len(hits)),
    }


def combine(terms: Mapping[str, float], spec: RewardSpec) -> RewardBreakdown:
    """Apply the spec's weights and gates to the terms (see `RewardSpec`)."""
    gate_format = terms["format"] if spec.require_format else 1.0
    gate_unique = terms["uniqueness"] if spec.gate_uniqueness else 1.0
    gate_sum = terms["sum_le_1"] if spec.gate_sum_le_1 else 1.0
    accuracy = terms[spec.accuracy]
    if spec.answer_cost:
        accuracy -= spec.answer_cost * terms["listed"]
    total = (
        spec.format_weight * terms["format"]
        + spec.accuracy_weight * accuracy * gate_format * gate_unique
        + spec.brier_weight * terms[spec.scoring_rule.term_name] * gate_format * gate_unique * gate_sum
        + spec.top1_weight * terms["top1"] * gate_format
    )
    gates = {"format": gate_format, "uniqueness": gate_unique, "sum_le_1": gate_sum}
    return RewardBreakdown(terms, gates, total)
