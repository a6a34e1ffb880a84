"""Proper scoring rules for the confidence term: properness (Hypothesis), ranges, and the reward wiring."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode import scoring_rules
from beyondmode.grading import get_grader
from beyondmode.methods import method_format, method_spec
from beyondmode.rewards import RewardSpec, brier
from beyondmode.scoring import Scorer
from beyondmode.scoring_rules import LOG_CLIP, ScoringRule, binary_score, confidence_term, expected_score

RULES = list(ScoringRule)
probability = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
GRID = [i / 400 for i in range(401)]


def test_doctests() -> None:
    assert doctest.testmod(scoring_rules).failed == 0


def _best_report(rule: ScoringRule, p: float) -> float:
    """The confidence the rule asks for when the truth is p (clipped to [eps, 1 - eps] for the log score)."""
    return min(max(p, LOG_CLIP), 1 - LOG_CLIP) if rule is ScoringRule.LOG else p


@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=150, deadline=None)
@given(p=probability, q=probability)
def test_expected_score_is_maximised_at_the_true_probability(rule: ScoringRule, p: float, q: float) -> None:
    best = expected_score(rule, _best_report(rule, p), p)
    assert expected_score(rule, q, p) <= best + 1e-12
    # strictly: reporting a confidence 0.05 away from the truth loses (inside the clip range for log)
    other = min(1.0, q + 0.05) if q < p else max(0.0, q - 0.05)
    if abs(other - _best_report(rule, p)) >= 0.05 and LOG_CLIP <= other <= 1 - LOG_CLIP:
        assert expected_score(rule, other, p) < best


@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=60, deadline=None)
@given(p=probability)
def test_the_grid_argmax_is_the_true_probability(rule: ScoringRule, p: float) -> None:
    """A numerical check independent of the closed forms: search q on a grid of step 1/400."""
    argmax = max(GRID, key=lambda q: expected_score(rule, q, p))
    # the log score cannot tell confidences beyond its clip points apart: compare the clipped argmax
    assert abs(_best_report(rule, argmax) - _best_report(rule, p)) <= 1 / 400 + 1e-9


@pytest.mark.parametrize("rule", RULES)
@given(q=probability, y=probability)
def test_scores_are_in_the_unit_interval_and_linear_expectation(
    rule: ScoringRule, q: float, y: float
) -> None:
    value = binary_score(rule, q, y)
    assert -1e-12 <= value <= 1 + 1e-12
    # a probability y gives the exact expectation of the 0/1 score
    assert value == pytest.approx(expected_score(rule, q, y), abs=1e-9)


@given(
    st.lists(st.tuples(probability, st.sampled_from([0.0, 1.0])), min_size=1, max_size=5),
    st.integers(min_value=0, max_value=3),
)
def test_brier_rule_is_the_brier_term(pairs: list[tuple[float, float]], missing: int) -> None:
    confidences, hits = [q for q, _ in pairs], [y for _, y in pairs]
    k = len(pairs) + missing
    assert confidence_term("brier", hits, confidences, k) == pytest.approx(brier(hits, confidences, k))


def test_log_score_punishes_a_confident_miss_more_than_brier() -> None:
    assert (
        binary_score("log", 0.99, 0.0)
        < 0.01
        < binary_score("spherical", 0.99, 0.0)
        < binary_score("brier", 0.99, 0.0)
    )
    assert confidence_term("log", [1.0], [None], 1) == 0.0


def test_reward_spec_uses_the_chosen_rule() -> None:
    text = "<answer1> flu </answer1> <confidence1> 0.9 </confidence1> <answer2> cold </answer2> <confidence2> 0.3 </confidence2>"
    fmt = method_format("multi_rlcr", 2)
    totals = {}
    for rule in RULES:
        spec = method_spec("multi_rlcr", multi_gold=True, scoring_rule=rule.value)
        scored = Scorer(fmt, spec, get_grader("exact_match")).score(f"<think> x </think> {text}", ["flu"])
        term = scored.breakdown.terms[rule.term_name]
        assert term == pytest.approx(confidence_term(rule, [1.0, 0.0], [0.9, 0.3], 2))
        assert scored.breakdown.total == pytest.approx(0.5 + 0.5 * 1.0 + 0.5 * term)
        totals[rule] = scored.breakdown.total
    assert len(set(totals.values())) == 3
    with pytest.raises(ValueError, match="scoring_rule must be one of brier, log, spherical"):
        RewardSpec(scoring_rule="logarithmic")
