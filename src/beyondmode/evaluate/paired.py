"""Paired comparisons of two evaluation runs over the same examples (e.g. a warm start and its RL run).

Each run directory's `rows.jsonl` is read back into per-example graded generations; a metric is computed
per example for both runs on the examples they share, and the difference (after - before) gets a paired
bootstrap interval: the same resampled examples for both runs, so case difficulty cancels out.

    gain = paired_difference(warm_dir, "multi_answer", rl_dir, "multi_answer", "expected_recall@3")
    gain.before, gain.after, gain.delta, gain.ci_low, gain.ci_high

Metrics: `recall@k`, `coverage@k`, `expected_recall@k` (noise-free: the exact posterior mass of the
distinct answers among the first k, on tasks with a posterior), `top1`, `distinct@n`, `auroc`, `ece`,
`tokens_per_example`. Mean metrics average per-example values; `auroc` and `ece` pool the (confidence,
hit) pairs of the resampled examples, as the run summary does.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from beyondmode import metrics as m
from beyondmode.evaluate.pooled import PooledConfidence
from beyondmode.evaluate.results import ROWS_FILE, load_summary
from beyondmode.evaluate.scored import ScoredGeneration
from beyondmode.evaluate.summary import answer_keys, answer_matches, expected_recall_per_example
from beyondmode.grading import get_grader

PerExample = dict[str, list[ScoredGeneration]]
Record = Any
Statistic = Callable[[Sequence[Record]], float]


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """`after - before` of one metric over `num_examples` shared examples, with a paired 95% interval."""

    metric: str
    before: float
    after: float
    delta: float
    ci_low: float
    ci_high: float
    num_examples: int


def load_method_generations(run_dir: Path, method: str) -> PerExample:
    """The graded generations of `method` per example id, rebuilt from the run's `rows.jsonl`."""
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)
    if method not in summary["methods"]:
        raise ValueError(f"{run_dir}: no method {method!r}; it has {sorted(summary['methods'])}")
    num_candidates = int(summary["methods"][method]["num_candidates"])
    grader = get_grader(summary.get("grader", "exact_match"))
    path = run_dir / ROWS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} an evaluation run directory?")
    by_generation: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    order: dict[str, None] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["method"] != method:
                continue
            order.setdefault(row["example_id"], None)
            by_generation[(row["example_id"], row["sample"])].append(row)
    generations: PerExample = {example_id: [] for example_id in order}
    for (example_id, sample), rows in sorted(by_generation.items(), key=lambda item: item[0][1]):
        generations[example_id].append(_generation(sample, rows, num_candidates, grader))
    return generations


def _generation(sample: int, rows: list[dict[str, Any]], k: int, grader: Any) -> ScoredGeneration:
    real = sorted((r for r in rows if r["rank"] is not None), key=lambda r: r["rank"])
    matched = tuple(r["matched_gold"] for r in real)  # the gold element's name: one id per example
    truths = [r["true_probability"] for r in real]
    first = rows[0]
    return ScoredGeneration(
        sample=sample,
        texts=tuple(r["text"] for r in real),
        confidences=tuple(r["confidence"] for r in real),
        hits=tuple(float(r["hit"]) for r in real),
        matched=matched,
        keys=tuple(grader.canonical(r["text"]) for r in real),
        slots=tuple(r["slot"] for r in real),
        true_probabilities=None if any(t is None for t in truths) else tuple(truths),
        format_ok=bool(first["format_ok"]),
        violations=tuple(first["violations"]),
        num_tokens=int(first["generation_tokens"]),
        seconds=float(first["generation_seconds"]),
        num_candidates=k,
    )


def metric_records(per_example: Sequence[Sequence[ScoredGeneration]], metric: str) -> list[Record]:
    """One record per example for `metric` (a float, or the example's (confidence, hit) pairs)."""
    strict = [answer_matches(gens, strict=True) for gens in per_example]
    k = _k(metric)
    if metric.startswith("recall@"):
        return list(m.recall_at_k_per_example(strict, k))
    if metric.startswith("coverage@"):
        return list(m.coverage_at_k_per_example(strict, k))
    if metric.startswith("expected_recall@"):
        return list(expected_recall_per_example(per_example, k))
    if metric.startswith("distinct@"):
        keys = [answer_keys(gens, k, strict=True) for gens in per_example]
        return list(m.distinct_at_n_per_example(keys, n=k))
    if metric == "top1":
        return list(m.top1_per_example(strict))
    if metric == "tokens_per_example":
        return [float(sum(g.num_tokens for g in gens)) for gens in per_example]
    if metric in ("auroc", "ece"):
        return [_confidence_pairs(gens) for gens in per_example]
    raise ValueError(f"unknown paired metric {metric!r}")


def metric_statistic(metric: str) -> Statistic:
    """How a list of records becomes the metric's value (also over a whole matrix of bootstrap
    resamples at once: `MeanOfRecords.resampled`, `PooledConfidence.resampled`)."""
    if metric in ("auroc", "ece"):
        return PooledConfidence(metric)
    return MeanOfRecords()


class MeanOfRecords:
    """The mean of per-example values, ignoring NaN (NaN when there is none)."""

    def __call__(self, records: Sequence[Record]) -> float:
        return float(np.nanmean(records)) if len(records) else math.nan

    def resampled(self, records: Sequence[Record], indices: np.ndarray) -> np.ndarray:
        """The statistic of each row of `indices` (one bootstrap resample of record positions per row)."""
        values = np.asarray(records, dtype=float)[indices]
        with warnings.catch_warnings():  # a resample of NaNs only is NaN, as one at a time
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, axis=1)


def paired_bootstrap(
    before: Sequence[Record],
    after: Sequence[Record],
    statistic: Statistic,
    *,
    num_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """(delta, low, high): statistic(after) - statistic(before) and its percentile interval, resampling
    the same example indices for both runs. A statistic with a `resampled(records, indices)` method
    (those of `metric_statistic`) computes all resamples at once; any other is called per resample.

    >>> delta, low, high = paired_bootstrap([0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], np.mean, seed=0)
    >>> delta, low > 0
    (0.75, True)
    """
    if len(before) != len(after):
        raise ValueError(f"paired runs need the same examples: {len(before)} vs {len(after)} records")
    if not before:
        return math.nan, math.nan, math.nan
    delta = float(statistic(after) - statistic(before))
    rng = np.random.default_rng(seed)
    n = len(before)
    indices = rng.integers(0, n, size=(num_resamples, n))
    resampled = getattr(statistic, "resampled", None)
    if resampled is not None:
        values = resampled(after, indices) - resampled(before, indices)
    else:
        values = np.array(
            [statistic([after[i] for i in row]) - statistic([before[i] for i in row]) for row in indices],
            dtype=float,
        )
    deltas = values[~np.isnan(values)]
    if not deltas.size:
        return delta, math.nan, math.nan
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(deltas, [tail, 100 - tail])
    return delta, float(low), float(high)


def paired_difference(
    before_dir: Path,
    before_method: str,
    after_dir: Path,
    after_method: str,
    metric: str,
    *,
    num_resamples: int = 1000,
    seed: int = 0,
) -> PairedDifference:
    """`metric` of `after_method` in `after_dir` minus that of `before_method` in `before_dir`, over the
    examples both runs evaluated, with a paired bootstrap 95% interval."""
    return paired_from_generations(
        load_method_generations(before_dir, before_method),
        load_method_generations(after_dir, after_method),
        metric,
        num_resamples=num_resamples,
        seed=seed,
    )


def paired_from_generations(
    before: PerExample, after: PerExample, metric: str, *, num_resamples: int = 1000, seed: int = 0
) -> PairedDifference:
    """`paired_difference` over generations already loaded (see `load_method_generations`)."""
    shared = [example_id for example_id in before if example_id in after]
    if not shared:
        raise ValueError("the two runs share no example: were they evaluated on the same cases?")
    records_before = metric_records([before[i] for i in shared], metric)
    records_after = metric_records([after[i] for i in shared], metric)
    statistic = metric_statistic(metric)
    delta, low, high = paired_bootstrap(
        records_before, records_after, statistic, num_resamples=num_resamples, seed=seed
    )
    return PairedDifference(
        metric=metric,
        before=float(statistic(records_before)),
        after=float(statistic(records_after)),
        delta=delta,
        ci_low=low,
        ci_high=high,
        num_examples=len(shared),
    )


def _confidence_pairs(generations: Sequence[ScoredGeneration]) -> list[tuple[float, float]]:
    return [
        (float(q), float(y))
        for g in generations
        if g.format_ok and g.confidences and all(q is not None for q in g.confidences)
        for q, y in zip(g.confidences, g.hits, strict=True)
    ]


def _k(metric: str) -> int:
    found = re.search(r"@(\d+)$", metric)
    return int(found.group(1)) if found else 0
