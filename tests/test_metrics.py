"""Metrics on hand-built runs with hand-computed values, and against independent implementations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score

from beyondmode import metrics

# Three examples, answers already ranked. Gold ids: ex0 has {0, 1, 2}; ex1 {0}; ex2 {0}.
MATCHED = [
    [0, None, 1, 0, 2],  # a later generation hits gold 0 again: counted once
    [None, None, None, None, 0],
    [None, None, None, None, None],
]


@pytest.mark.parametrize(
    ("k", "recall", "coverage"),
    [(1, 1 / 3, 1 / 3), (2, 1 / 3, 1 / 3), (3, 2 / 3, 1 / 3), (4, 2 / 3, 1 / 3), (5, 4 / 3, 2 / 3)],
)
def test_recall_and_coverage_by_hand(k: int, recall: float, coverage: float) -> None:
    assert metrics.recall_at_k(MATCHED, k) == pytest.approx(recall)
    assert metrics.coverage_at_k(MATCHED, k) == pytest.approx(coverage)


def test_top1_and_distinct() -> None:
    assert metrics.top1(MATCHED) == pytest.approx(1 / 3)
    keys = [["flu", "flu", "cold"], ["a", "b", "c", "d"], []]
    assert metrics.distinct_at_n(keys, n=2) == pytest.approx((1 + 2 + 0) / 3)
    assert metrics.distinct_at_n_per_example(keys, n=30).tolist() == [2, 4, 0]


def test_rank_by_confidence() -> None:
    assert metrics.rank_by_confidence([0.1, 0.7, 0.2]) == [1, 2, 0]
    assert metrics.rank_by_confidence([0.3, 0.3, 0.5]) == [2, 0, 1]


def test_set_brier_averages_over_k() -> None:
    # ex A: ((0.5-1)^2 + (0.5-0)^2)/2 = 0.25 ; ex B: ((1-1)^2 + (0-0)^2)/2 = 0
    assert metrics.set_brier([[0.5, 0.5], [1.0, 0.0]], [[1, 0], [1, 0]]) == pytest.approx(0.125)
    with pytest.raises(ValueError, match="2 confidences but 1 hits"):
        metrics.set_brier([[0.5, 0.5]], [[1]])


def test_ece_by_hand() -> None:
    # bin 9: q = 0.9, 0.95 hits 1, 0 -> |0.5 - 0.925| = 0.425, weight 2/4; bin 2: q 0.2, 0.2 hits 0, 0 -> 0.2, weight 2/4
    ece = metrics.expected_calibration_error([0.9, 0.95, 0.2, 0.2], [1, 0, 0, 0])
    assert ece == pytest.approx(0.5 * 0.425 + 0.5 * 0.2)
    assert math.isnan(metrics.expected_calibration_error([], []))


def test_one_confidence_for_everything_is_calibrated_but_has_no_resolution() -> None:
    rng = np.random.default_rng(0)
    hits = rng.random(2000) < 0.3
    constant = np.full(2000, hits.mean())
    assert metrics.expected_calibration_error(constant, hits) < 1e-9
    assert metrics.auroc(constant, hits) == 0.5
    assert metrics.distinct_confidence_values(constant) == 1


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = np.round(rng.random(500), 1)  # rounding creates ties
    y = (rng.random(500) < q).astype(int)
    assert metrics.auroc(q, y) == pytest.approx(roc_auc_score(y, q))


@pytest.mark.parametrize("seed", range(5))
def test_ece_matches_independent_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = rng.random(1000)
    y = (rng.random(1000) < q**2).astype(int)
    accuracy, confidence = calibration_curve(y, q, n_bins=10, strategy="uniform")
    counts = np.array([c for c in _bins_by_hand(q.tolist(), 10) if c])  # not the code's own binning
    independent = float(np.sum(counts / len(q) * np.abs(accuracy - confidence)))
    assert metrics.expected_calibration_error(q, y) == pytest.approx(independent)
    bins = metrics.reliability_bins(q, y)
    assert sum(b.count for b in bins) == 1000
    assert [b.accuracy for b in bins if b.count] == pytest.approx(list(accuracy))


def test_auroc_needs_both_classes() -> None:
    assert math.isnan(metrics.auroc([0.1, 0.9], [1, 1]))


def test_oracle_gap_and_oracle_set() -> None:
    assert metrics.oracle_gap([0.5, 0.2, 0.0], [0.7, 0.2, 0.1]) == pytest.approx(0.1)
    posterior = {"flu": 0.5, "cold": 0.3, "covid": 0.15, "asthma": 0.05}
    assert metrics.oracle_answer_set(posterior, 3) == [("flu", 0.5), ("cold", 0.3), ("covid", 0.15)]


def test_pass_at_k_edges() -> None:
    assert metrics.pass_at_k(10, 0, 3) == 0.0
    assert metrics.pass_at_k(10, 10, 1) == 1.0
    assert metrics.pass_at_k(5, 1, 1) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="k <= num_samples"):
        metrics.pass_at_k(3, 1, 4)


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(3)
    small = rng.random(50) < 0.4
    large = rng.random(5000) < 0.4
    low_s, high_s = metrics.bootstrap_ci(small.astype(float))
    low_l, high_l = metrics.bootstrap_ci(large.astype(float))
    assert low_s <= small.mean() <= high_s
    assert low_l <= large.mean() <= high_l
    assert high_l - low_l < (high_s - low_s) / 3


def test_bootstrap_with_a_statistic_over_records() -> None:
    records = [[(0.9, 1), (0.1, 0)], [(0.8, 1), (0.3, 0)], [(0.6, 0), (0.4, 1)]] * 10

    def pooled_auroc(sample):
        pairs = [pair for record in sample for pair in record]
        return metrics.auroc([q for q, _ in pairs], [y for _, y in pairs])

    low, high = metrics.bootstrap_ci(records, pooled_auroc, num_resamples=200)
    point = pooled_auroc(records)
    assert low <= point <= high
    assert metrics.summarize(np.ones(3)) == {"mean": 1.0, "ci_low": 1.0, "ci_high": 1.0}


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=5),
)
def test_set_brier_is_one_minus_the_brier_reward_for_any_hits(pairs: list[tuple[float, float]]) -> None:
    """One Brier formula: the metric on (q, y) is 1 - the reward term on the same set, probabilities too."""
    from beyondmode.rewards import brier

    confidences, hits = [q for q, _ in pairs], [y for _, y in pairs]
    assert metrics.set_brier([confidences], [hits]) == pytest.approx(
        1.0 - brier(hits, confidences, len(pairs))
    )


def _bins_by_hand(q: list[float], num_bins: int) -> list[int]:
    """Bin b is [b / num_bins, (b + 1) / num_bins), the last one closed: a loop over the stated edges."""
    counts = [0] * num_bins
    for value in q:
        for b in range(num_bins):
            lower, upper = b / num_bins, (b + 1) / num_bins
            if lower <= value < upper or (b == num_bins - 1 and value == upper):
                counts[b] += 1
                break
    return counts


@pytest.mark.parametrize("num_bins", [10, 20, 7])
def test_bin_edges_match_a_hand_written_loop_on_continuous_values(num_bins: int) -> None:
    rng = np.random.default_rng(num_bins)
    edges = [b / num_bins for b in range(num_bins + 1)]
    near_edges = [float(np.nextafter(e, d)) for e in edges for d in (-1.0, 2.0)] + edges
    q = [v for v in [*rng.random(2000).tolist(), *near_edges] if 0.0 <= v <= 1.0]
    y = (rng.random(len(q)) < 0.5).astype(float).tolist()
    bins = metrics.reliability_bins(q, y, num_bins)
    assert [b.count for b in bins] == _bins_by_hand(q, num_bins)
    assert [(b.lower, b.upper) for b in bins] == list(itertools.pairwise(edges))
    by_hand = 0.0
    for b in range(num_bins):
        members = [(qi, yi) for qi, yi in zip(q, y, strict=True) if _bins_by_hand([qi], num_bins)[b]]
        if members:
            by_hand += len(members) * abs(np.mean([m[1] for m in members]) - np.mean([m[0] for m in members]))
    assert metrics.expected_calibration_error(q, y, num_bins) == pytest.approx(by_hand / len(q))


@pytest.mark.parametrize(
    "metric",
    [
        lambda q, y: metrics.expected_calibration_error(q, y),
        lambda q, y: metrics.auroc(q, y),
        lambda q, y: metrics.reliability_bins(q, y),
        lambda q, y: metrics.oracle_gap(q, y),
        lambda q, y: metrics.set_brier([q], [y]),
    ],
    ids=["ece", "auroc", "bins", "oracle_gap", "set_brier"],
)
def test_nan_confidences_raise(metric) -> None:
    with pytest.raises(ValueError, match="must be finite"):
        metric([0.9, math.nan, 0.2], [1.0, 0.0, 0.0])
