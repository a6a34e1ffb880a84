"""Split conformal sets and conformal risk control: the finite-sample guarantees on synthetic scores."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from beyondmode import conformal
from beyondmode.conformal import (
    CandidatePool,
    PooledCandidate,
    conformal_quantile,
    conformal_risk_control,
    pool_candidates,
    prediction_set,
    risk_control_threshold,
    split_conformal,
    wilson_interval,
)

NUM_SPLITS = 200
NUM_EXAMPLES = 200
CALIBRATION_FRACTION = 0.5


def test_doctests() -> None:
    assert doctest.testmod(conformal).failed == 0


def _single_gold_pools(rng: np.random.Generator, n: int, miss_rate: float = 0.0) -> list[CandidatePool]:
    """K=4 candidates with Dirichlet scores; gold drawn from the scores (a calibrated model), or, with
    probability `miss_rate`, outside the pool. Scores are continuous: no ties."""
    scores = rng.dirichlet(np.ones(4), size=n)
    drawn = (scores.cumsum(axis=1) < rng.uniform(size=(n, 1))).sum(axis=1).clip(max=3)
    missed = rng.uniform(size=n) < miss_rate
    return [
        CandidatePool(tuple(row.tolist()), tuple("g" if j == d and not miss else None for j in range(4)))
        for row, d, miss in zip(scores, drawn, missed, strict=True)
    ]


def _tolerance(n: int, m: int, alpha: float, splits: int) -> float:
    """4 standard errors of the mean test coverage over `splits` independent splits.

    Given the calibration set the coverage is Beta(l, n+1-l) with l = ceil((n+1)(1-alpha)); the test
    proportion adds at most 1/(4m) of binomial variance.
    """
    rank = math.ceil((n + 1) * (1 - alpha))
    beta_variance = rank * (n + 1 - rank) / ((n + 1) ** 2 * (n + 2))
    return 4 * math.sqrt((beta_variance + 0.25 / m) / splits)


@pytest.mark.parametrize(
    ("alpha", "num_examples", "splits"), [(0.1, 200, 200), (0.3, 200, 200), (0.1, 40, 1000)]
)
def test_split_conformal_coverage_is_between_the_finite_sample_bounds(
    alpha: float, num_examples: int, splits: int
) -> None:
    """With 20 calibration cases the +1 of the finite-sample rank matters (19/21 vs 18/21 coverage)."""
    rng = np.random.default_rng(12345)
    coverages = []
    for seed in range(splits):
        result = split_conformal(_single_gold_pools(rng, num_examples), alpha, CALIBRATION_FRACTION, seed)
        coverages.append(result.coverage)
    n, m = result.num_calibration, result.num_test
    mean = float(np.mean(coverages))
    tolerance = _tolerance(n, m, alpha, splits)
    assert 1 - alpha - tolerance <= mean <= 1 - alpha + 1 / (n + 1) + tolerance, (mean, tolerance)


def test_a_pool_that_misses_gold_counts_against_coverage() -> None:
    rng = np.random.default_rng(7)
    alpha = 0.2
    results = [
        split_conformal(_single_gold_pools(rng, NUM_EXAMPLES, miss_rate=0.1), alpha, 0.5, s)
        for s in range(NUM_SPLITS)
    ]
    mean = float(np.mean([r.coverage for r in results]))
    n, m = results[0].num_calibration, results[0].num_test
    assert mean >= 1 - alpha - _tolerance(n, m, alpha, NUM_SPLITS)
    assert all(r.coverage <= r.pool_coverage for r in results)
    # with alpha below the miss rate the guarantee cannot be met: the set is the whole pool
    hard = split_conformal(_single_gold_pools(rng, NUM_EXAMPLES, miss_rate=0.3), 0.05, 0.5, 0)
    assert not hard.attainable and hard.coverage == hard.pool_coverage < 0.95
    assert hard.mean_set_size == hard.mean_pool_size == 4


def _multi_gold_pools(rng: np.random.Generator, n: int) -> list[CandidatePool]:
    """K=6 candidates, each gold with probability equal to its score; some gold outside the pool."""
    pools = []
    for _ in range(n):
        scores = rng.uniform(size=6)
        gold = tuple(f"g{i}" if rng.random() < s else None for i, s in enumerate(scores))
        num_gold = sum(g is not None for g in gold) + int(rng.random() < 0.05)
        if num_gold == 0:
            gold, num_gold = (*gold[:-1], "g5"), 1
        pools.append(CandidatePool(tuple(float(s) for s in scores), gold, num_gold))
    return pools


def test_risk_control_keeps_expected_recall_loss_below_alpha() -> None:
    rng = np.random.default_rng(99)
    alpha = 0.2
    results = [
        conformal_risk_control(_multi_gold_pools(rng, NUM_EXAMPLES), alpha, 0.5, s) for s in range(100)
    ]
    losses = np.array([1 - r.mean_recall for r in results])
    tolerance = 4 * losses.std(ddof=1) / math.sqrt(len(losses))
    assert losses.mean() <= alpha + tolerance
    # and not vacuously (the whole pool would lose far less than alpha)
    assert losses.mean() >= alpha - 0.05
    assert all(r.attainable and r.mean_set_size < 6 for r in results)


def _reference_threshold(pools: list[CandidatePool], alpha: float) -> float:
    """The definition, evaluated at every candidate threshold in increasing order."""
    n = len(pools)
    for t in sorted({1.0 - s for pool in pools for s in pool.scores} | {-math.inf}):
        risk = float(np.mean([conformal.recall_loss(pool, t) for pool in pools]))
        if n / (n + 1) * risk + 1 / (n + 1) <= alpha + 1e-12:
            return t
    return math.inf


@pytest.mark.parametrize("seed", range(20))
def test_fast_risk_control_threshold_equals_the_definition(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pools = _multi_gold_pools(rng, 40)
    if seed % 2:  # ties between candidates
        pools = [CandidatePool(tuple(round(s, 1) for s in p.scores), p.gold, p.num_gold) for p in pools]
    alpha = float(rng.uniform(0.05, 0.6))
    assert risk_control_threshold(pools, alpha) == _reference_threshold(pools, alpha)


def test_risk_control_unattainable_when_the_pool_recall_is_too_low() -> None:
    pools = [CandidatePool((0.9, 0.4), ("a", None), num_gold=3) for _ in range(20)]
    assert risk_control_threshold(pools, alpha=0.2) == math.inf
    result = conformal_risk_control(pools * 2, alpha=0.2)
    assert not result.attainable and result.mean_recall == pytest.approx(1 / 3)


def test_recall_needs_the_gold_count() -> None:
    with pytest.raises(ValueError, match="num_gold"):
        conformal_risk_control([CandidatePool((0.5,), ("a",))] * 4, alpha=0.2)


def test_quantile_rank_and_bad_alpha() -> None:
    scores = list(np.linspace(0.01, 0.99, 99))
    # n = 99, alpha = 0.1: rank ceil(100 * 0.9) = 90
    assert conformal_quantile(scores, 0.1) == pytest.approx(scores[89])
    assert conformal_quantile(scores, 0.005) == math.inf
    with pytest.raises(ValueError, match="alpha"):
        conformal_quantile(scores, 1.5)
    with pytest.raises(ValueError, match="calibration_fraction"):
        split_conformal([CandidatePool((0.5,), ("a",))] * 4, alpha=0.1, calibration_fraction=1.0)


def test_sets_contain_gold_exactly_when_nonconformity_is_below_the_threshold() -> None:
    rng = np.random.default_rng(3)
    for pool in _single_gold_pools(rng, 200, miss_rate=0.2):
        threshold = float(rng.uniform())
        members = prediction_set(pool, threshold)
        assert any(pool.gold[i] is not None for i in members) == conformal.is_covered(pool, threshold)


def test_pooling_merges_keys_and_counts_absence_as_zero() -> None:
    generations = [
        [PooledCandidate("dog", 0.5, "dog"), PooledCandidate("cat", 0.4), PooledCandidate("dog", 0.2, "dog")],
        [PooledCandidate("cat", 0.9)],
        [],
    ]
    pool = pool_candidates(generations, num_gold=1)
    assert pool.gold == (None, "dog")
    assert pool.scores == pytest.approx(((0.4 + 0.9) / 3, 0.5 / 3))
    assert pool_candidates(generations, pooling="max").scores == pytest.approx((0.9, 0.5))
    frequency = pool_candidates(
        [[PooledCandidate("a", 1.0)], [PooledCandidate("a", 1.0)], [PooledCandidate("b", 1.0)]]
    )
    assert frequency.scores == pytest.approx((2 / 3, 1 / 3))
    with pytest.raises(ValueError, match="pooling"):
        pool_candidates(generations, pooling="sum")  # type: ignore[arg-type]


def test_wilson_interval_matches_reference_values() -> None:
    low, high = wilson_interval(45, 50)
    assert (round(low, 4), round(high, 4)) == (0.7864, 0.9565)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
