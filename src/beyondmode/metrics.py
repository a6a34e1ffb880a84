"""Evaluation metrics over a run (DESIGN section 5). Pure numpy; no torch.

Vocabulary: for one example, the *answers* are, for a multi-answer method, the candidates of ceil(k/K)
generations in order (by confidence, highest first, where there are confidences); for a single-answer
method, k independent samples. `matched[i]` is the gold element answer i hits (any hashable id) or None,
as produced by `beyondmode.grading.grade_labels` for one generation. Note that two generations may hit
the same gold element: recall counts it once.

Per-example functions return one value per example (for bootstrap intervals); the plain names return
the mean.

>>> matched = [[0, None, 1], [None, None, None]]
>>> recall_at_k(matched, 3), coverage_at_k(matched, 1)
(1.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from beyondmode.grading.base import answer_order
from beyondmode.rewards import brier_loss

T = TypeVar("T")

Matched = Sequence[Hashable | None]


# ------------------------------------------------------------------------------- answer ranking
def rank_by_confidence(confidences: Sequence[float | None]) -> list[int]:
    """Indices of candidates, highest confidence first; stable, and slot order without confidences.

    The same order in which `beyondmode.scoring.Scorer` resolves duplicates (`grading.answer_order`).

    >>> rank_by_confidence([0.2, 0.5, 0.2]), rank_by_confidence([None, None])
    ([1, 0, 2], [0, 1])
    """
    return answer_order(confidences)


# ---------------------------------------------------------------------------- recall / coverage
def recall_at_k_per_example(matched: Sequence[Matched], k: int) -> np.ndarray:
    """Number of distinct gold elements recovered among the first k answers, per example."""
    _check_k(k)
    return np.array([len({m for m in answers[:k] if m is not None}) for answers in matched], dtype=float)


def recall_at_k(matched: Sequence[Matched], k: int) -> float:
    """Mean number of distinct gold elements among the first k answers (a count; can exceed 1).

    >>> recall_at_k([[0, 0, 1], [2]], k=3)
    1.5
    """
    return _mean(recall_at_k_per_example(matched, k))


def coverage_at_k_per_example(matched: Sequence[Matched], k: int) -> np.ndarray:
    """1 where at least one of the first k answers hits the gold set, else 0."""
    _check_k(k)
    return np.array([any(m is not None for m in answers[:k]) for answers in matched], dtype=float)


def coverage_at_k(matched: Sequence[Matched], k: int) -> float:
    """Fraction of examples whose first k answers hit the gold set at least once.

    >>> coverage_at_k([[None, 0], [None, None]], k=2)
    0.5
    """
    return _mean(coverage_at_k_per_example(matched, k))


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased pass@k for i.i.d. samples: 1 - C(n-c, k) / C(n, k) (Chen et al., 2021).

    Never apply it to the K candidates of one generation: they are not independent (use coverage@K).

    >>> pass_at_k(num_samples=4, num_correct=1, k=2)
    0.5
    """
    if not 0 <= num_correct <= num_samples:
        raise ValueError(f"need 0 <= num_correct <= num_samples, got {num_correct} of {num_samples}")
    if not 1 <= k <= num_samples:
        raise ValueError(f"need 1 <= k <= num_samples ({num_samples}), got k={k}")
    if num_samples - num_correct < k:
        return 1.0
    return 1.0 - math.comb(num_samples - num_correct, k) / math.comb(num_samples, k)


def top1_per_example(matched: Sequence[Matched]) -> np.ndarray:
    """1 where the first answer (the highest-confidence candidate, after ranking) hits."""
    return np.array([bool(answers) and answers[0] is not None for answers in matched], dtype=float)


def top1(matched: Sequence[Matched]) -> float:
    """Fraction of examples whose first answer hits.

    >>> top1([[0, None], [None, 1]])
    0.5
    """
    return _mean(top1_per_example(matched))


def distinct_at_n_per_example(answer_keys: Sequence[Sequence[Hashable]], n: int = 30) -> np.ndarray:
    """Number of distinct normalized answers among the first n answers, per example."""
    _check_k(n)
    return np.array([len(set(keys[:n])) for keys in answer_keys], dtype=float)


def distinct_at_n(answer_keys: Sequence[Sequence[Hashable]], n: int = 30) -> float:
    """Mean number of distinct normalized answers among n answers (the paper's diversity, n = 30).

    >>> distinct_at_n([["flu", "flu", "cold"], ["flu"]], n=30)
    1.5
    """
    return _mean(distinct_at_n_per_example(answer_keys, n))


# ------------------------------------------------------------------------------------ calibration
def set_brier_per_example(
    confidences: Sequence[Sequence[float]], hits: Sequence[Sequence[float]]
) -> np.ndarray:
    """(1/K) sum_i brier_loss(q_i, y_i) for each example's answer set (a loss: lower is better).

    `beyondmode.rewards.brier_loss` is (q - y)^2 for 0/1 hits and adds the label variance y (1 - y) for
    probabilities, so that this metric is exactly 1 - the reward's brier term of the same set.
    """
    values = []
    for number, (q, y) in enumerate(zip(confidences, hits, strict=True)):
        if len(q) != len(y):
            raise ValueError(f"example {number} has {len(q)} confidences but {len(y)} hits")
        _check_finite(q, f"confidences of example {number}")
        _check_finite(y, f"hits of example {number}")
        values.append(sum(brier_loss(a, b) for a, b in zip(q, y, strict=True)) / len(q) if q else 0.0)
    return np.array(values, dtype=float)


def set_brier(confidences: Sequence[Sequence[float]], hits: Sequence[Sequence[float]]) -> float:
    """Mean over examples of (1/K) sum_i (q_i - y_i)^2 (plus y_i (1 - y_i) for probabilities y_i).

    >>> round(set_brier([[0.8, 0.1]], [[1, 0]]), 6)
    0.025
    """
    return _mean(set_brier_per_example(confidences, hits))


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One equal-width confidence bin: [lower, upper), the last one closed."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability_bins(
    confidences: Sequence[float], hits: Sequence[float], num_bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins of answer-level confidence with the observed hit rate in each.

    Empty bins have count 0 and NaN means.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    q, y = _pairs(confidences, hits)
    # the edges the bins report (b / num_bins), not floor(q * num_bins), which rounds 0.8999999999999999
    # into [0.9, 1.0]
    edges = np.arange(num_bins + 1) / num_bins
    index = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, num_bins - 1)
    bins = []
    for b in range(num_bins):
        mask = index == b
        count = int(mask.sum())
        mean_q = float(q[mask].mean()) if count else math.nan
        accuracy = float(y[mask].mean()) if count else math.nan
        bins.append(ReliabilityBin(b / num_bins, (b + 1) / num_bins, count, mean_q, accuracy))
    return bins


def expected_calibration_error(
    confidences: Sequence[float], hits: Sequence[float], num_bins: int = 10
) -> float:
    """Answer-level ECE: sum_b (n_b / N) |accuracy_b - mean confidence_b| over equal-width bins.

    >>> expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0])
    0.25
    """
    q, _ = _pairs(confidences, hits)
    if q.size == 0:
        return math.nan
    total = 0.0
    for b in reliability_bins(confidences, hits, num_bins):
        if b.count:
            total += b.count * abs(b.accuracy - b.mean_confidence)
    return total / q.size


def auroc(confidences: Sequence[float], hits: Sequence[float]) -> float:
    """Area under the ROC curve of confidence as a predictor of a hit (ties count one half).

    Equals P(q of a random hit > q of a random miss) + 0.5 P(tie); NaN when only one class occurs. A
    model that states one confidence for everything scores 0.5: calibrated on average, no resolution.

    >>> auroc([0.9, 0.8, 0.3, 0.3], [1, 0, 1, 0])
    0.625
    """
    q, y = _pairs(confidences, hits)
    positive = y > 0.5
    num_pos, num_neg = int(positive.sum()), int((~positive).sum())
    if num_pos == 0 or num_neg == 0:
        return math.nan
    ranks = _average_ranks(q)
    return float((ranks[positive].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def oracle_gap(confidences: Sequence[float], true_probabilities: Sequence[float]) -> float:
    """Mean |q_i - P(a_i in Y* | x)| over answers, against an exact posterior.

    >>> round(oracle_gap([0.5, 0.2], [0.7, 0.2]), 6)
    0.1
    """
    q, p = _pairs(confidences, true_probabilities)
    return float(np.abs(q - p).mean()) if q.size else math.nan


def distinct_confidence_values(confidences: Sequence[float], decimals: int = 2) -> int:
    """How many different confidence values (rounded) a method uses: 1 means no resolution at all.

    >>> distinct_confidence_values([0.3, 0.3, 0.301, 0.5])
    2
    """
    return len({round(float(q), decimals) for q in confidences})


def oracle_answer_set(posterior: Mapping[str, float], num_candidates: int) -> list[tuple[str, float]]:
    """The Bayes-optimal answer set: the top-K answers of the posterior with their probabilities.

    >>> oracle_answer_set({"a": 0.2, "b": 0.5, "c": 0.3}, 2)
    [('b', 0.5), ('c', 0.3)]
    """
    ranked = sorted(posterior.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:num_candidates]


# ------------------------------------------------------------------------------------- intervals
def bootstrap_ci(
    samples: Sequence[T] | np.ndarray,
    statistic: Callable[[list[T]], float] | None = None,
    *,
    num_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval, resampling examples with replacement.

    Without `statistic`, `samples` are per-example values and the statistic is their mean (vectorized).
    With one, `samples` are per-example records (e.g. lists of (q, y) pairs for an answer-level metric)
    and `statistic` maps a resampled list of records to a number; NaN results are dropped. A statistic
    with a `resampled(records, indices)` method returns the values of all resamples (rows of indices)
    at once.

    >>> low, high = bootstrap_ci([0.0, 1.0] * 50, seed=1)
    >>> 0.35 < low < 0.5 < high < 0.65
    True
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    size = len(samples)
    if size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, size, size=(num_resamples, size))
    if statistic is None:
        values = np.asarray(samples, dtype=float)[indices].mean(axis=1)
    elif hasattr(statistic, "resampled"):  # every resample at once (`evaluate.pooled.PooledConfidence`)
        values = np.asarray(statistic.resampled(list(samples), indices), dtype=float)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return math.nan, math.nan
    else:
        records = list(samples)
        values = np.array([statistic([records[i] for i in row]) for row in indices], dtype=float)
        values = values[~np.isnan(values)]
        if values.size == 0:
            return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


# --------------------------------------------------------------------------------------- helpers
def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _pairs(first: Sequence[float], second: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(first, dtype=float).ravel()
    b = np.asarray(second, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"got {a.size} confidences but {b.size} targets")
    _check_finite(a, "confidences")
    _check_finite(b, "targets (hits or true probabilities)")
    return a, b


def _check_finite(values: Sequence[float] | np.ndarray, what: str) -> None:
    """Raise on NaN or infinite values: a metric must not silently skip (ECE) or rank (AUROC) them."""
    array = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(
            f"{what} must be finite numbers; {bad.size} of {array.size} are not (first at index "
            f"{int(bad[0])}: {array.flat[int(bad[0])]}); drop or repair those answers before computing metrics"
        )


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their positions.

    >>> _average_ranks(np.array([0.3, 0.9, 0.3]))
    array([1.5, 3. , 1.5])
    """
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based position of each distinct value's first copy
    return (first + (counts - 1) / 2.0 + 1.0)[inverse.ravel()]


def summarize(values: np.ndarray, **bootstrap: Any) -> dict[str, float]:
    """Mean and bootstrap 95% interval of per-example values, as a dict for result files.

    >>> summarize(np.array([1.0, 1.0]))
    {'mean': 1.0, 'ci_low': 1.0, 'ci_high': 1.0}
    """
    low, high = bootstrap_ci(values, **bootstrap)
    return {"mean": _mean(values), "ci_low": low, "ci_high": high}
