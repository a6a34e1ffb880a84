"""Parse once, grade once, score every term: the one path from completion text to reward.

The TRL reward callables, the verl `compute_score`, `beyondmode score` and evaluation all go through
`Scorer.score`, so a completion gets the same numbers everywhere.

>>> from beyondmode.scoring import Scorer
>>> scorer = Scorer.for_method("multi_rlvr", num_candidates=2)
>>> scored = scorer.score("<think> - </think> <answer1> flu </answer1> <answer2> cold </answer2>",
...                       gold=[["influenza", "flu"]])
>>> scored.breakdown.total, scored.breakdown.terms["coverage"]
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from beyondmode.formats import AnswerFormat
from beyondmode.grading.base import (
    Grader,
    Grades,
    answer_order,
    get_grader,
    grade_expected,
    grade_labels,
)
from beyondmode.grading.code import prefetch_code_runs
from beyondmode.methods import method_format, method_spec
from beyondmode.rewards import RewardBreakdown, RewardSpec, combine, compute_terms
from beyondmode.scoring_rules import ScoringRule, confidence_term
from beyondmode.types import ParsedResponse, as_gold


class RewardMode(StrEnum):
    """`label`: hits are 0/1 against the gold answers. `expected`: hits are probabilities under the
    example's exact posterior (noise-free rewards with the same optimum)."""

    LABEL = "label"
    EXPECTED = "expected"


@dataclass(frozen=True, slots=True)
class ScoredCompletion:
    parsed: ParsedResponse
    grades: Grades
    breakdown: RewardBreakdown


@dataclass(frozen=True, slots=True)
class Scorer:
    """Scores completions for one format, reward spec, grader and mode."""

    answer_format: AnswerFormat
    spec: RewardSpec
    grader: Grader
    mode: RewardMode = RewardMode.LABEL

    @classmethod
    def for_method(
        cls,
        method: str,
        num_candidates: int = 3,
        *,
        multi_gold: bool = False,
        grader: str = "exact_match",
        mode: RewardMode | str = RewardMode.LABEL,
    ) -> Scorer:
        return cls(
            method_format(method, num_candidates),
            method_spec(method, multi_gold=multi_gold),
            get_grader(grader),
            RewardMode(mode),
        )

    def score(
        self,
        completion: str,
        gold: Sequence[str | Sequence[str]] | tuple[tuple[str, ...], ...],
        posterior: Mapping[str, float] | None = None,
    ) -> ScoredCompletion:
        """Parse, grade and score one completion. `posterior` is required in expected mode."""
        parsed = self.answer_format.parse(completion)
        grades = self.grade(parsed, gold, posterior)
        fmt = self.answer_format
        terms = compute_terms(
            parsed, grades, fmt.num_candidates, self.spec.sum_tolerance, fmt.fewest_candidates
        )
        if self.spec.scoring_rule is not ScoringRule.BRIER:
            terms[self.spec.scoring_rule.term_name] = confidence_term(
                self.spec.scoring_rule, grades.hits, parsed.confidences, self.answer_format.num_candidates
            )
        return ScoredCompletion(parsed, grades, combine(terms, self.spec))

    def prefetch(self, completions: Sequence[str], golds: Sequence[Sequence[str | Sequence[str]]]) -> int:
        """Run the candidate programs of many completions in one sandbox batch before they are scored
        (label mode with the code grader; otherwise nothing). Returns the number of programs sent.

        >>> Scorer.for_method("rlvr").prefetch(["<answer> flu </answer>"], [["flu"]])
        0
        """
        if self.mode is not RewardMode.LABEL:
            return 0
        items = [(c, _gold_tuple(g)) for c, g in zip(completions, golds, strict=True) if len(g)]
        return prefetch_code_runs(self, items)

    def grade(
        self,
        parsed: ParsedResponse,
        gold: Sequence[str | Sequence[str]] | tuple[tuple[str, ...], ...],
        posterior: Mapping[str, float] | None = None,
    ) -> Grades:
        """Grades in slot order; duplicates and re-hits are resolved in answer order (highest confidence
        first), so the ranked-first copy of an answer is the hit that top1 and the metrics read."""
        order = answer_order(parsed.confidences)
        if self.mode is RewardMode.EXPECTED:
            if posterior is None:
                raise ValueError("reward mode 'expected' needs the example's posterior; use mode 'label'")
            return grade_expected(parsed.texts, posterior, self.grader, _gold_tuple(gold), order)
        return grade_labels(parsed.texts, _gold_tuple(gold), self.grader, order)


def _gold_tuple(gold: Sequence[str | Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    if isinstance(gold, tuple) and all(isinstance(element, tuple) for element in gold):
        return gold  # type: ignore[return-value]
    return as_gold(gold)
