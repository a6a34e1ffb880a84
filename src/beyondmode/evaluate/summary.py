"""Every metric of DESIGN section 5 for one method over a run, with bootstrap 95% intervals.

Input: for each example, its graded generations in sample order. Answers are laid out K per generation
(`answers[g*K + i]` is candidate i of generation g, in confidence order), padded with misses where a
generation has fewer than K candidates, so that "the first k answers" always means ceil(k/K)
generations. Strict parsing keeps only well-formed generations (a malformed one contributes K misses);
lenient parsing keeps whatever the parser recovered. Metrics are strict unless their key says
`lenient/`. Formulas live in `beyondmode.metrics`; this module only arranges the inputs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from beyondmode import metrics as m
from beyondmode.evaluate.pooled import PooledConfidence
from beyondmode.evaluate.scored import ScoredGeneration

PerExample = Sequence[Sequence[ScoredGeneration]]


def answer_matches(generations: Sequence[ScoredGeneration], strict: bool) -> list[Hashable | None]:
    """The matched gold element of each answer position (None: a miss or padding)."""
    answers: list[Hashable | None] = []
    for generation in generations:
        k = generation.num_candidates
        kept = list(generation.matched[:k]) if generation.format_ok or not strict else []
        answers.extend(kept + [None] * (k - len(kept)))
    return answers


def answer_keys(generations: Sequence[ScoredGeneration], n: int, strict: bool) -> list[str]:
    """Canonical keys of the real answers among the first n answer positions."""
    keys: list[str] = []
    position = 0
    for generation in generations:
        k = generation.num_candidates
        for i in range(k):
            if position >= n:
                return keys
            if i < len(generation.keys) and (generation.format_ok or not strict) and generation.keys[i]:
                keys.append(generation.keys[i])
            position += 1
    return keys


def expected_recall_per_example(per_example: Sequence[Sequence[ScoredGeneration]], k: int) -> np.ndarray:
    """Posterior mass of the distinct answers among the first k answers of each example (strict: a
    malformed generation's answers count as misses); NaN for an example without true probabilities.

    For one gold answer this is the probability that the truth is among them: coverage@k without the
    noise of one sampled label.

    >>> g = ScoredGeneration(0, ("flu", "cold", "flu"), (0.5, 0.3, 0.1), (1.0, 0.0, 0.0), (0, None, None),
    ...     ("flu", "cold", "flu"), (1, 2, 3), (0.6, 0.3, 0.6), True, (), 10, 0.1, 3)
    >>> float(expected_recall_per_example([[g]], 3)[0])
    0.9
    """
    values = []
    for generations in per_example:
        mass: dict[str, float] = {}
        position = 0
        missing = False
        for g in generations:
            for i in range(g.num_candidates):
                if position >= k:
                    break
                position += 1
                if not g.format_ok or i >= len(g.keys) or not g.keys[i]:
                    continue
                if g.true_probabilities is None:
                    missing = True
                    continue
                mass.setdefault(g.keys[i], g.true_probabilities[i])
        values.append(math.nan if missing else min(1.0, sum(mass.values())))
    return np.array(values, dtype=float)


def _stat(values: np.ndarray, resamples: int, seed: int) -> dict[str, float] | None:
    if values.size == 0:
        return None
    return m.summarize(values, num_resamples=resamples, seed=seed)


def _records_stat(records: list[Any], statistic: Any, resamples: int, seed: int) -> dict[str, float] | None:
    value = statistic(records)
    if records == [] or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    low, high = m.bootstrap_ci(records, statistic, num_resamples=resamples, seed=seed)
    return {"mean": float(value), "ci_low": low, "ci_high": high}


def summarize_method(
    per_example: PerExample,
    *,
    recall_ks: Sequence[int],
    max_answers: int,
    iid: bool,
    reliability_bins: int = 10,
    resamples: int = 1000,
    seed: int = 0,
    set_only: bool = False,
) -> dict[str, Any]:
    """The summary block of one method: `metrics` (mean and CI each), `parsing`, curves, bins, counts.

    Calibration reads every well-formed generation, or only the first one with `set_only` (the oracle,
    whose later pseudo-generations are not sets it would state).
    """
    calibrated = [gens[:1] if set_only else gens for gens in per_example]
    strict = [answer_matches(gens, strict=True) for gens in per_example]
    lenient = [answer_matches(gens, strict=False) for gens in per_example]
    stat: dict[str, dict[str, float] | None] = {}
    for k in recall_ks:
        stat[f"recall@{k}"] = _stat(m.recall_at_k_per_example(strict, k), resamples, seed)
        stat[f"coverage@{k}"] = _stat(m.coverage_at_k_per_example(strict, k), resamples, seed)
        expected = expected_recall_per_example(per_example, k)
        if expected.size and not np.isnan(expected).any():
            stat[f"expected_recall@{k}"] = _stat(expected, resamples, seed)
        if iid:
            stat[f"pass@{k}"] = _stat(_pass_at_k(per_example, k), resamples, seed)
    stat["top1"] = _stat(m.top1_per_example(strict), resamples, seed)
    distinct = m.distinct_at_n_per_example(
        [answer_keys(gens, max_answers, strict=True) for gens in per_example], n=max_answers
    )
    stat[f"distinct@{max_answers}"] = _stat(distinct, resamples, seed)
    stat.update(_calibration(calibrated, reliability_bins, resamples, seed))
    stat.update(_cost(per_example, strict, max_answers, resamples, seed))
    stat["format_rate"] = _stat(
        np.array([np.mean([g.format_ok for g in gens]) for gens in per_example if gens]), resamples, seed
    )
    return {
        "metrics": stat,
        "parsing": _parsing_table(strict, lenient, recall_ks),
        "curves": _curves(strict, lenient, max_answers),
        "reliability": _reliability(calibrated, reliability_bins),
        "distinct_per_example": distinct.tolist(),
        "distinct_confidences": m.distinct_confidence_values(
            [p[0] for gens in calibrated for p in _pairs(gens)]
        ),
        "violations": dict(Counter(v for gens in per_example for g in gens for v in g.violations)),
        "reward_terms": _reward_terms(per_example),
        "num_examples": len(per_example),
        "num_generations": sum(len(gens) for gens in per_example),
    }


def _pass_at_k(per_example: PerExample, k: int) -> np.ndarray:
    """Unbiased pass@k per example from its n i.i.d. samples (strict: a malformed sample is wrong)."""
    values = []
    for gens in per_example:
        n = len(gens)
        if k > n:
            return np.array([])
        correct = sum(1 for g in gens if g.format_ok and any(h > 0 for h in g.hits))
        values.append(m.pass_at_k(n, correct, k))
    return np.array(values, dtype=float)


def _pairs(gens: Sequence[ScoredGeneration]) -> list[tuple[float, float, float | None]]:
    """(confidence, hit, true probability) of every candidate of the well-formed generations."""
    pairs = []
    for g in gens:
        if not g.format_ok or any(q is None for q in g.confidences):
            continue
        truths = g.true_probabilities or (None,) * len(g.hits)
        pairs.extend(zip(g.confidences, g.hits, truths, strict=True))  # type: ignore[arg-type]
    return pairs


def _calibration(per_example: PerExample, bins: int, resamples: int, seed: int) -> dict[str, Any]:
    per = [_pairs(gens) for gens in per_example]
    if not any(per):
        return {"set_brier": None, "ece": None, "auroc": None, "oracle_gap": None}
    briers = [
        float(m.set_brier_per_example([g.confidences for g in gs], [g.hits for g in gs]).mean())  # type: ignore[misc]
        for gs in (_formed(gens) for gens in per_example)
        if gs
    ]

    kept = [r for r in per if r]
    return {
        "set_brier": _stat(np.array(briers), resamples, seed),
        "ece": _records_stat(kept, PooledConfidence("ece", bins), resamples, seed),
        "auroc": _records_stat(kept, PooledConfidence("auroc"), resamples, seed),
        "oracle_gap": _records_stat(kept, PooledConfidence("oracle_gap"), resamples, seed),
    }


def _formed(gens: Sequence[ScoredGeneration]) -> list[ScoredGeneration]:
    return [g for g in gens if g.format_ok and g.confidences and all(q is not None for q in g.confidences)]


def _reliability(per_example: PerExample, bins: int) -> list[dict[str, float]] | None:
    flat = [p for gens in per_example for p in _pairs(gens)]
    if not flat:
        return None
    return [asdict(b) for b in m.reliability_bins([p[0] for p in flat], [p[1] for p in flat], bins)]


def _cost(
    per_example: PerExample, strict: list[list[Any]], max_answers: int, resamples: int, seed: int
) -> dict[str, Any]:
    tokens = np.array([sum(g.num_tokens for g in gens) for gens in per_example], dtype=float)
    seconds = np.array([sum(g.seconds for g in gens) for gens in per_example], dtype=float)
    found = m.recall_at_k_per_example(strict, max_answers) if strict else np.array([])
    records = list(zip(tokens, seconds, found, strict=True))

    def per_correct(column: int) -> Any:
        def ratio(rows: list[tuple[float, float, float]]) -> float:
            total = sum(r[2] for r in rows)
            return sum(r[column] for r in rows) / total if total else math.nan

        return ratio

    return {
        "tokens_per_example": _stat(tokens, resamples, seed),
        "seconds_per_example": _stat(seconds, resamples, seed),
        "tokens_per_distinct_correct": _records_stat(records, per_correct(0), resamples, seed),
        "seconds_per_distinct_correct": _records_stat(records, per_correct(1), resamples, seed),
    }


def _parsing_table(strict: list[list[Any]], lenient: list[list[Any]], ks: Sequence[int]) -> dict[str, Any]:
    table: dict[str, Any] = {"strict": {}, "lenient": {}}
    for name, answers in (("strict", strict), ("lenient", lenient)):
        for k in ks:
            table[name][f"coverage@{k}"] = m.coverage_at_k(answers, k)
            table[name][f"recall@{k}"] = m.recall_at_k(answers, k)
    return table


def _curves(strict: list[list[Any]], lenient: list[list[Any]], max_answers: int) -> dict[str, list[float]]:
    ks = list(range(1, max_answers + 1))
    return {
        "k": [float(k) for k in ks],
        "recall": [m.recall_at_k(strict, k) for k in ks],
        "coverage": [m.coverage_at_k(strict, k) for k in ks],
        "recall_lenient": [m.recall_at_k(lenient, k) for k in ks],
    }


def _reward_terms(per_example: PerExample) -> dict[str, float]:
    terms: dict[str, list[float]] = {}
    for gens in per_example:
        for g in gens:
            for name, value in g.terms.items():
                terms.setdefault(name, []).append(value)
    return {name: float(np.mean(values)) for name, values in terms.items()}
