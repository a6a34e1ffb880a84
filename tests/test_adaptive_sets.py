"""Adaptive K reward: the optimal answer set under a per-answer cost, checked against brute force."""

from __future__ import annotations

import doctest
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode import adaptive_sets
from beyondmode.adaptive_sets import expected_set_reward, optimal_answer_set, set_reward


def test_doctests() -> None:
    assert doctest.testmod(adaptive_sets).failed == 0


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=6),
    cost=st.floats(min_value=0.0, max_value=1.0),
    k=st.integers(min_value=1, max_value=4),
)
def test_optimal_set_maximises_the_expected_reward(weights: list[float], cost: float, k: int) -> None:
    total = sum(weights)
    posterior = {f"a{i}": w / total for i, w in enumerate(weights)}
    best = max(
        expected_set_reward(list(subset), posterior, cost)
        for size in range(k + 1)
        for subset in itertools.combinations(posterior, size)
    )
    chosen = [answer for answer, _ in optimal_answer_set(posterior, cost, k)]
    assert expected_set_reward(chosen, posterior, cost) == pytest.approx(best, abs=1e-12)
    assert all(posterior[a] > cost for a in chosen) and len(chosen) <= k


def test_bad_cost_and_duplicates_raise() -> None:
    with pytest.raises(ValueError, match="lambda"):
        set_reward([1.0], cost=1.5)
    with pytest.raises(ValueError, match="distinct"):
        expected_set_reward(["a", "a"], {"a": 0.5}, cost=0.1)
    with pytest.raises(ValueError, match="max_candidates"):
        optimal_answer_set({"a": 0.5}, cost=0.1, max_candidates=0)


# ------------------------------------------------------------------ the "up to K" format and its reward
def _up_to(k: int, fewest: int = 1, confidences: bool = False):
    from beyondmode.formats import AnswerFormat

    return AnswerFormat(num_candidates=k, with_confidence=confidences, min_candidates=fewest)


def test_up_to_k_format_accepts_1_to_k_answers_in_order() -> None:
    from beyondmode.types import Violation

    fmt = _up_to(3)
    for n in (1, 2, 3):
        parsed = fmt.parse(fmt.render([f"a{i}" for i in range(n)], think="t"))
        assert parsed.format_ok and parsed.texts == tuple(f"a{i}" for i in range(n))
    gap = fmt.parse("<think> t </think> <answer1> a </answer1> <answer3> c </answer3>")
    assert gap.violations == (Violation.MISSING_ANSWER,)
    assert fmt.parse("<think> t </think>").violations == (Violation.MISSING_ANSWER,)
    assert _up_to(3, fewest=2).parse(fmt.render(["a"], think="t")).violations == (Violation.MISSING_ANSWER,)
    with_conf = _up_to(3, confidences=True)
    one = "<think> t </think> <answer1> a </answer1> <confidence1> 0.7 </confidence1>"
    assert with_conf.parse(one).format_ok
    assert with_conf.parse(one + " <answer2> b </answer2>").violations == (Violation.MISSING_CONFIDENCE,)
    assert with_conf.parse(one + " <confidence2> 0.1 </confidence2>").violations == (
        Violation.MISSING_ANSWER,
    )
    assert "between 1 and 3" in fmt.instructions()
    with pytest.raises(ValueError, match="min_candidates"):
        _up_to(3, fewest=4)
    with pytest.raises(ValueError, match="1 to 3 candidates"):
        fmt.render([], think="t")


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=2, max_size=5),
    cost=st.sampled_from([0.05, 0.15, 0.3]),
)
def test_expected_reward_of_the_up_to_k_format_is_maximised_by_the_optimal_set(
    weights: list[float], cost: float
) -> None:
    """The Scorer's total reward in expected mode (what GRPO maximises), over every ordered list of 1..K
    distinct answers: the best lists exactly `optimal_answer_set` (or, when no answer is worth its cost,
    the likeliest one: a well-formed completion lists at least one)."""
    from beyondmode.methods import method_format, method_spec
    from beyondmode.scoring import RewardMode, Scorer

    k = 3
    total = sum(weights)
    posterior = {f"a{i}": w / total for i, w in enumerate(weights)}
    fmt = method_format("multi_rlvr", k, min_candidates=1)
    scorer = Scorer.for_method("multi_rlvr", k, mode=RewardMode.EXPECTED)
    scorer = Scorer(fmt, method_spec("multi_rlvr", answer_cost=cost), scorer.grader, scorer.mode)

    def reward(answers: tuple[str, ...]) -> float:
        return scorer.score(fmt.render(list(answers), think="t"), [["a0"]], posterior).breakdown.total

    lists = [p for n in range(1, k + 1) for p in itertools.permutations(posterior, n)]
    best = max(reward(answers) for answers in lists)
    optimal = [a for a, _ in optimal_answer_set(posterior, cost, k)] or [max(posterior, key=posterior.get)]
    assert reward(tuple(optimal)) == pytest.approx(best)
    expected = 0.5 + 0.5 * sum(posterior[a] - cost for a in optimal)
    assert reward(tuple(optimal)) == pytest.approx(expected)


def test_a_malformed_completion_never_beats_listing_every_answer() -> None:
    """lambda * K below 1 + format_weight / accuracy_weight: breaking the format to dodge the cost loses."""
    from beyondmode.methods import method_format, method_spec
    from beyondmode.scoring import Scorer

    fmt = method_format("multi_rlvr", 3, min_candidates=1)
    scorer = Scorer.for_method("multi_rlvr", 3)
    scorer = Scorer(fmt, method_spec("multi_rlvr", answer_cost=0.3), scorer.grader, scorer.mode)
    every_wrong = scorer.score(fmt.render(["x", "y", "z"], think="t"), [["flu"]]).breakdown
    broken = scorer.score("<answer1> x </answer1>", [["flu"]]).breakdown
    assert every_wrong.terms["listed"] == 3 and every_wrong.total == pytest.approx(0.5 - 0.5 * 0.9)
    assert broken.total == 0.0 < every_wrong.total
