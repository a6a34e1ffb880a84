"""Answer sets with a finite-sample guarantee: split conformal prediction over pooled candidates.

For each example the *pool* is the distinct candidates of its generations (the ceil(k/K) generations
of a multi-answer method, or the k samples of a single-answer method), each with a score s(a) in [0, 1]
(`pool_candidates`). The answer set at threshold t is C_t(x) = {a in pool(x) : 1 - s(a) <= t}.

Split conformal (`split_conformal`). The examples are split at random (seeded) into n calibration and
m test cases. The nonconformity of an example is

    r(x) = 1 - max{ s(a) : a in pool(x) hits a gold answer },   r(x) = +inf when no candidate hits,

and the threshold is the finite-sample quantile q_hat = the ceil((n+1)(1 - alpha))-th smallest of the
n calibration scores (q_hat = +inf when that rank exceeds n). Because calibration and test cases are
exchangeable, a test case's set contains a gold answer with probability

    1 - alpha <= P(r(x) <= q_hat) <= 1 - alpha + 1/(n+1)

(the upper bound when the scores have no ties). Examples whose pool misses gold keep r = +inf, so they
count against coverage; when more than about alpha of the cases have such a pool, q_hat = +inf, the
set is the whole pool and its coverage is the pool's coverage, below 1 - alpha: the guarantee is
reported as not attainable (`ConformalResult.attainable`). In words: "a gold answer is in the set with
probability >= 1 - alpha" holds only up to the candidate pool's recall.

Conformal risk control (`conformal_risk_control`, Angelopoulos et al. 2022, "Conformal Risk Control").
For multi-gold examples the loss of a set is L(x, t) = 1 - (distinct gold elements in C_t(x)) / |Y*|,
bounded by B = 1 and non-increasing in t. The threshold is

    lambda_hat = inf{ t : n/(n+1) * R_hat(t) + B/(n+1) <= alpha },   R_hat(t) = mean calibration loss,

and then E[L(x_test, lambda_hat)] <= alpha: the expected recall of the set is at least 1 - alpha. If no
t reaches the bound (the pool's own recall is too low), lambda_hat = +inf (the whole pool) and the
result says `attainable=False`.

Coverage is reported with a 95% Wilson score interval.

>>> pools = [CandidatePool(scores=(0.9, 0.1), gold=("a", None)) for _ in range(9)]
>>> pools.append(CandidatePool(scores=(0.6, 0.3), gold=(None, "b")))
>>> result = split_conformal(pools, alpha=0.2, calibration_fraction=0.5, seed=0)
>>> result.num_calibration, result.num_test
(5, 5)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Pooling = Literal["mean", "max"]
POOLINGS: tuple[str, ...] = ("mean", "max")
WILSON_Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class CandidatePool:
    """The distinct candidates of one example: their scores and the gold element each hits (or None).

    Two candidates that hit the same gold element are the same answer: `pool_candidates` merges them, so
    each gold element appears at most once. `num_gold` (|Y*|) is needed for recall only.
    """

    scores: tuple[float, ...]
    gold: tuple[Hashable | None, ...]
    num_gold: int | None = None

    def __post_init__(self) -> None:
        if len(self.scores) != len(self.gold):
            raise ValueError(f"CandidatePool: {len(self.scores)} scores but {len(self.gold)} gold entries")


@dataclass(frozen=True, slots=True)
class PooledCandidate:
    """One candidate of one generation: its merge key, stated confidence (None = not stated), gold hit."""

    key: Hashable
    confidence: float | None
    gold: Hashable | None = None


def pool_candidates(
    generations: Sequence[Sequence[PooledCandidate]],
    pooling: Pooling = "mean",
    num_gold: int | None = None,
) -> CandidatePool:
    """Merge the candidates of an example's generations into one pool with one score per answer.

    Within a generation a repeated key keeps its highest confidence. Across the G generations:

    - "mean" (default): s(a) = (1/G) sum_g q_g(a), with q_g(a) = 0 when generation g does not list a.
      This is the mixture of the G stated distributions; with confidence 1 for every single-answer
      sample it is the sample frequency (conformal sampling's score). A missing confidence counts 0.
    - "max": s(a) = max_g q_g(a) (ignores how often a recurs; right when each answer occurs once, as in
      the oracle's pseudo-generations).

    A candidate hits gold when any of its occurrences does (keys of gold hits should name the gold
    element, so that aliases merge).

    >>> gens = [[PooledCandidate("flu", 0.6, "flu"), PooledCandidate("cold", 0.3)],
    ...         [PooledCandidate("cold", 0.5), PooledCandidate("flu", 0.4, "flu")]]
    >>> pool = pool_candidates(gens)
    >>> [round(s, 2) for s in pool.scores], pool.gold
    ([0.5, 0.4], ('flu', None))
    >>> pool_candidates(gens, pooling="max").scores
    (0.6, 0.5)
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    totals: dict[Hashable, float] = {}
    gold: dict[Hashable, Hashable | None] = {}
    for generation in generations:
        best: dict[Hashable, float] = {}
        for candidate in generation:
            q = 0.0 if candidate.confidence is None else float(candidate.confidence)
            if not math.isfinite(q):
                raise ValueError(f"candidate {candidate.key!r}: confidence {q} is not finite")
            best[candidate.key] = max(best.get(candidate.key, 0.0), q)
            if gold.get(candidate.key) is None:
                gold[candidate.key] = candidate.gold
        for key, q in best.items():
            if pooling == "mean":
                totals[key] = totals.get(key, 0.0) + q
            else:
                totals[key] = max(totals.get(key, 0.0), q)
    scale = len(generations) if pooling == "mean" and generations else 1
    keys = sorted(totals, key=lambda k: -totals[k])
    return CandidatePool(tuple(totals[k] / scale for k in keys), tuple(gold[k] for k in keys), num_gold)


# ----------------------------------------------------------------------------- scores and sets
def nonconformity(pool: CandidatePool) -> float:
    """r(x) = 1 - the highest score of a gold-hitting candidate; +inf when no candidate hits gold.

    >>> nonconformity(CandidatePool((0.7, 0.2), (None, 0))), nonconformity(CandidatePool((0.7,), (None,)))
    (0.8, inf)
    """
    hits = [s for s, g in zip(pool.scores, pool.gold, strict=True) if g is not None]
    return 1.0 - max(hits) if hits else math.inf


def in_set(score: float, threshold: float) -> bool:
    """Whether a candidate of score s is in C_t: 1 - s <= t (computed as `nonconformity` computes it)."""
    return 1.0 - score <= threshold


def is_covered(pool: CandidatePool, threshold: float) -> bool:
    """Whether C_t holds a gold answer: r(x) <= t, where a pool without gold (r = +inf) is never covered,
    not even by the whole pool at t = +inf.

    >>> is_covered(CandidatePool((0.7,), (None,)), math.inf), is_covered(CandidatePool((0.7,), (0,)), 0.5)
    (False, True)
    """
    score = nonconformity(pool)
    return math.isfinite(score) and score <= threshold


def prediction_set(pool: CandidatePool, threshold: float) -> list[int]:
    """Indices of the pool's candidates in C_t = {a : 1 - s(a) <= t}.

    >>> prediction_set(CandidatePool((0.7, 0.2, 0.05), (None, 0, None)), 0.85)
    [0, 1]
    """
    return [i for i, s in enumerate(pool.scores) if in_set(s, threshold)]


def conformal_quantile(scores: Sequence[float], alpha: float) -> float:
    """The ceil((n+1)(1-alpha))-th smallest of n scores (+inf when that rank exceeds n).

    >>> conformal_quantile([0.1, 0.2, 0.3, 0.4], alpha=0.4), conformal_quantile([0.1, 0.2], alpha=0.1)
    (0.3, inf)
    """
    _check_alpha(alpha)
    n = len(scores)
    rank = math.ceil((n + 1) * (1 - alpha) - 1e-12)
    if n == 0 or rank > n:
        return math.inf
    return float(np.sort(np.asarray(scores, dtype=float))[max(rank, 1) - 1])


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default); (0, 1) without trials.

    (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)

    >>> [round(v, 3) for v in wilson_interval(90, 100)]
    [0.826, 0.945]
    """
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator))


def calibration_split(
    num_examples: int, calibration_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of example indices into (calibration, test); both non-empty.

    >>> cal, test = calibration_split(10, 0.3, seed=1)
    >>> len(cal), len(test), sorted([*cal, *test]) == list(range(10))
    (3, 7, True)
    """
    if not 0 < calibration_fraction < 1:
        raise ValueError(f"calibration_fraction must be in (0, 1), got {calibration_fraction}")
    if num_examples < 2:
        raise ValueError(f"conformal calibration needs at least 2 examples, got {num_examples}")
    order = np.random.default_rng(seed).permutation(num_examples)
    size = min(max(1, round(calibration_fraction * num_examples)), num_examples - 1)
    return np.sort(order[:size]), np.sort(order[size:])


# ------------------------------------------------------------------------------ split conformal
@dataclass(frozen=True, slots=True)
class ConformalResult:
    """Split-conformal sets evaluated on the test split.

    `threshold` is q_hat (nonconformity scale; a candidate is in the set when 1 - s <= q_hat, i.e.
    s >= `confidence_threshold`); `pool_coverage` is the share of test cases whose pool hits gold at
    all (the ceiling of any set); `attainable` is False when q_hat = +inf.
    """

    alpha: float
    seed: int
    num_calibration: int
    num_test: int
    threshold: float
    coverage: float
    coverage_interval: tuple[float, float]
    mean_set_size: float
    empty_share: float
    pool_coverage: float
    mean_pool_size: float
    set_size_counts: dict[int, int] = field(default_factory=dict)

    @property
    def confidence_threshold(self) -> float:
        return 1.0 - self.threshold

    @property
    def attainable(self) -> bool:
        return math.isfinite(self.threshold)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary (an infinite threshold written as None)."""
        finite = self.attainable
        return {
            "alpha": self.alpha,
            "seed": self.seed,
            "num_calibration": self.num_calibration,
            "num_test": self.num_test,
            "threshold": self.threshold if finite else None,
            "confidence_threshold": self.confidence_threshold if finite else None,
            "attainable": finite,
            "coverage": self.coverage,
            "coverage_interval": list(self.coverage_interval),
            "mean_set_size": self.mean_set_size,
            "empty_share": self.empty_share,
            "pool_coverage": self.pool_coverage,
            "mean_pool_size": self.mean_pool_size,
            "set_size_counts": {str(k): v for k, v in sorted(self.set_size_counts.items())},
        }


def split_conformal(
    pools: Sequence[CandidatePool], alpha: float, calibration_fraction: float = 0.5, seed: int = 0
) -> ConformalResult:
    """Calibrate q_hat on a seeded calibration split; evaluate the sets C_q_hat on the test split.

    >>> pools = [CandidatePool((0.8, 0.15), (0, None)) for _ in range(30)]
    >>> pools += [CandidatePool((0.8, 0.15), (None, 0)) for _ in range(10)]
    >>> r = split_conformal(pools, alpha=0.1, seed=0)
    >>> round(r.confidence_threshold, 6), r.coverage, r.mean_set_size
    (0.15, 1.0, 2.0)
    """
    calibration, test = calibration_split(len(pools), calibration_fraction, seed)
    threshold = conformal_quantile([nonconformity(pools[i]) for i in calibration], alpha)
    return evaluate_threshold(
        pools, test, threshold, alpha=alpha, seed=seed, num_calibration=len(calibration)
    )


def evaluate_threshold(
    pools: Sequence[CandidatePool],
    test: Sequence[int] | np.ndarray,
    threshold: float,
    *,
    alpha: float,
    seed: int,
    num_calibration: int,
) -> ConformalResult:
    """Coverage, set sizes and empty share of C_threshold over the test examples."""
    covered = [is_covered(pools[i], threshold) for i in test]
    sizes = [len(prediction_set(pools[i], threshold)) for i in test]
    counts: dict[int, int] = {}
    for size in sizes:
        counts[size] = counts.get(size, 0) + 1
    m = len(sizes)
    return ConformalResult(
        alpha=alpha,
        seed=seed,
        num_calibration=num_calibration,
        num_test=m,
        threshold=threshold,
        coverage=sum(covered) / m,
        coverage_interval=wilson_interval(sum(covered), m),
        mean_set_size=float(np.mean(sizes)),
        empty_share=counts.get(0, 0) / m,
        pool_coverage=float(np.mean([math.isfinite(nonconformity(pools[i])) for i in test])),
        mean_pool_size=float(np.mean([len(pools[i].scores) for i in test])),
        set_size_counts=counts,
    )


# ------------------------------------------------------------------------ conformal risk control
def recall_loss(pool: CandidatePool, threshold: float) -> float:
    """L(x, t) = 1 - (distinct gold elements in C_t) / |Y*|, in [0, 1] and non-increasing in t.

    >>> recall_loss(CandidatePool((0.7, 0.2, 0.1), ("a", "b", None), num_gold=4), 0.85)
    0.5
    """
    if pool.num_gold is None or pool.num_gold < 1:
        raise ValueError(f"recall needs num_gold >= 1 for every example, got {pool.num_gold}")
    hit = {pool.gold[i] for i in prediction_set(pool, threshold) if pool.gold[i] is not None}
    return 1.0 - min(len(hit), pool.num_gold) / pool.num_gold


@dataclass(frozen=True, slots=True)
class RiskControlResult:
    """Conformal risk control for recall: lambda_hat and the test split's recall and set sizes."""

    alpha: float
    seed: int
    num_calibration: int
    num_test: int
    threshold: float
    mean_recall: float
    recall_interval: tuple[float, float]
    mean_set_size: float
    empty_share: float
    pool_recall: float

    @property
    def attainable(self) -> bool:
        return math.isfinite(self.threshold)

    def as_dict(self) -> dict[str, object]:
        finite = self.attainable
        return {
            "alpha": self.alpha,
            "target_recall": 1 - self.alpha,
            "seed": self.seed,
            "num_calibration": self.num_calibration,
            "num_test": self.num_test,
            "threshold": self.threshold if finite else None,
            "confidence_threshold": 1 - self.threshold if finite else None,
            "attainable": finite,
            "mean_recall": self.mean_recall,
            "recall_interval": list(self.recall_interval),
            "mean_set_size": self.mean_set_size,
            "empty_share": self.empty_share,
            "pool_recall": self.pool_recall,
        }


def risk_control_threshold(pools: Sequence[CandidatePool], alpha: float, bound: float = 1.0) -> float:
    """lambda_hat = inf{t : n/(n+1) R_hat(t) + B/(n+1) <= alpha} over the thresholds where L can change.

    >>> pools = [CandidatePool((0.9, 0.4), ("a", "b"), num_gold=2) for _ in range(19)]
    >>> risk_control_threshold(pools, alpha=0.1)  # both answers needed: t = 1 - 0.4
    0.6
    """
    _check_alpha(alpha)
    n = len(pools)
    if n == 0:
        return math.inf
    # R_hat(t) = 1 - (1/n) sum of 1/|Y*_i| over the gold-hitting candidates with 1 - s <= t: a step
    # function that only drops at those candidates' values, so the infimum is one of them.
    gold_values, weights = [], []
    for pool in pools:
        if pool.num_gold is None or pool.num_gold < 1:
            raise ValueError(f"recall needs num_gold >= 1 for every example, got {pool.num_gold}")
        seen: set[Hashable] = set()
        for score, gold in sorted(zip(pool.scores, pool.gold, strict=True), key=lambda pair: -pair[0]):
            if gold is not None and gold not in seen and len(seen) < pool.num_gold:
                seen.add(gold)
                gold_values.append(1.0 - score)
                weights.append(1.0 / pool.num_gold)
    if n / (n + 1) + bound / (n + 1) <= alpha:  # R_hat(-inf) = 1 already passes
        return -math.inf
    values = np.asarray(gold_values)
    order = np.argsort(values, kind="stable")
    values = values[order]
    risk = 1.0 - np.cumsum(np.asarray(weights)[order]) / n
    last_of_tie = np.append(values[1:] != values[:-1], True)
    passing = np.flatnonzero(last_of_tie & (n / (n + 1) * risk + bound / (n + 1) <= alpha + 1e-12))
    return float(values[passing[0]]) if passing.size else math.inf


def conformal_risk_control(
    pools: Sequence[CandidatePool], alpha: float, calibration_fraction: float = 0.5, seed: int = 0
) -> RiskControlResult:
    """Sets whose expected recall of the gold set is >= 1 - alpha (CRC on a seeded split).

    The interval on the test recall is a normal-approximation 95% interval (recall is not binary).

    >>> pools = [CandidatePool((0.9, 0.4, 0.1), ("a", "b", None), num_gold=2) for _ in range(40)]
    >>> r = conformal_risk_control(pools, alpha=0.1, seed=0)
    >>> r.mean_recall, r.mean_set_size
    (1.0, 2.0)
    """
    calibration, test = calibration_split(len(pools), calibration_fraction, seed)
    threshold = risk_control_threshold([pools[i] for i in calibration], alpha)
    recalls = np.array([1 - recall_loss(pools[i], threshold) for i in test])
    full = np.array([1 - recall_loss(pools[i], math.inf) for i in test])
    sizes = np.array([len(prediction_set(pools[i], threshold)) for i in test])
    spread = (
        WILSON_Z_95 * float(np.std(recalls, ddof=1)) / math.sqrt(len(recalls)) if len(recalls) > 1 else 1.0
    )
    mean = float(recalls.mean())
    return RiskControlResult(
        alpha=alpha,
        seed=seed,
        num_calibration=len(calibration),
        num_test=len(test),
        threshold=threshold,
        mean_recall=mean,
        recall_interval=(max(0.0, mean - spread), min(1.0, mean + spread)),
        mean_set_size=float(sizes.mean()),
        empty_share=float(np.mean(sizes == 0)),
        pool_recall=float(full.mean()),
    )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
