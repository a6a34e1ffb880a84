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
