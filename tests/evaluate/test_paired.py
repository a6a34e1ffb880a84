"""Paired comparisons of evaluation runs: rows read back give the summary's numbers; the paired bootstrap
is centred on the difference and tight when the per-example differences agree."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from eval_toy import SCRIPT, FakeBackend, ToyTask
from test_eval_runner import SETTINGS

from beyondmode.evaluate.paired import (
    load_method_generations,
    metric_records,
    metric_statistic,
    paired_bootstrap,
    paired_difference,
)
from beyondmode.evaluate.pooled import PooledConfidence
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.scored import ScoredGeneration
from beyondmode.evaluate.summary import expected_recall_per_example


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("paired")
    return run_dir, run_evaluation(ToyTask(), FakeBackend(SCRIPT), SETTINGS, run_dir, model="fake")


@pytest.mark.parametrize("method", ["multi_answer", "best_of_k", "greedy"])
@pytest.mark.parametrize(
    "metric", ["recall@1", "recall@2", "recall@4", "coverage@4", "top1", "distinct@4", "auroc"]
)
def test_rows_read_back_give_the_summary_values(run: tuple[Path, dict], method: str, metric: str) -> None:
    run_dir, summary = run
    generations = load_method_generations(run_dir, method)
    value = metric_statistic(metric)(metric_records(list(generations.values()), metric))
    expected = summary["methods"][method]["metrics"].get(metric)
    if expected is None:
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected["mean"])


def test_a_run_against_itself_changes_nothing(run: tuple[Path, dict]) -> None:
    run_dir, _ = run
    gain = paired_difference(run_dir, "multi_answer", run_dir, "multi_answer", "recall@2")
    assert (gain.delta, gain.ci_low, gain.ci_high) == (0.0, 0.0, 0.0) and gain.num_examples == 2


def test_unknown_method_and_metric_are_named(run: tuple[Path, dict]) -> None:
    run_dir, _ = run
    with pytest.raises(ValueError, match="no method 'beam'"):
        load_method_generations(run_dir, "beam")
    with pytest.raises(ValueError, match="unknown paired metric 'recall'"):
        metric_records([], "recall")


def test_paired_interval_is_tight_for_a_constant_shift() -> None:
    rng = np.random.default_rng(0)
    before = list(rng.uniform(0, 1, 300))
    after = [b + 0.05 for b in before]  # every example gains exactly 0.05, whatever its difficulty
    delta, low, high = paired_bootstrap(before, after, np.mean, seed=1)
    assert delta == pytest.approx(0.05) and low == pytest.approx(0.05) and high == pytest.approx(0.05)
    shuffled = list(rng.permutation(after))  # unpaired: the interval is as wide as the spread
    _, low_unpaired, high_unpaired = paired_bootstrap(before, shuffled, np.mean, seed=1)
    assert high_unpaired - low_unpaired > 0.05


def test_paired_interval_covers_zero_without_a_change() -> None:
    rng = np.random.default_rng(3)
    before = list(rng.integers(0, 2, 400).astype(float))
    after = list(rng.integers(0, 2, 400).astype(float))
    delta, low, high = paired_bootstrap(before, after, np.mean, seed=0)
    assert low < delta < high and low < 0.0 < high


def test_paired_bootstrap_refuses_unpaired_lengths() -> None:
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap([1.0], [1.0, 0.0], np.mean)


def _generation(keys: tuple[str, ...], truths: tuple[float, ...], format_ok: bool = True) -> ScoredGeneration:
    k = len(keys)
    return ScoredGeneration(
        0,
        keys,
        (0.5,) * k,
        (0.0,) * k,
        (None,) * k,
        keys,
        tuple(range(1, k + 1)),
        truths,
        format_ok,
        (),
        9,
        0.1,
        k,
    )


def test_expected_recall_counts_each_answer_once_and_skips_malformed_generations() -> None:
    duplicate = _generation(("flu", "flu", "cold"), (0.5, 0.5, 0.2))
    broken = _generation(("flu", "cold", "covid"), (0.5, 0.2, 0.1), format_ok=False)
    values = expected_recall_per_example([[duplicate], [broken, duplicate]], 3)
    assert values[0] == pytest.approx(0.7) and values[1] == 0.0
    assert expected_recall_per_example([[broken, duplicate]], 6)[0] == pytest.approx(0.7)


def _records(rng: np.random.Generator, n: int) -> list[list[tuple[float, float, float | None]]]:
    """Per-example (confidence, hit, true probability or None) with ties, empty examples, 0 and 1."""
    grid = np.round(np.linspace(0, 1, 11), 2)  # 0.0 .. 1.0: many ties, both ends of the bins

    def one() -> tuple[float, float, float | None]:
        truth = None if rng.random() < 0.2 else float(rng.random())
        return (float(rng.choice(grid)), float(rng.random() < 0.4), truth)

    return [[one() for _ in range(int(rng.integers(0, 4)))] for _ in range(n)]


STATISTICS = {
    "auroc": lambda: metric_statistic("auroc"),
    "ece": lambda: metric_statistic("ece"),
    "ece, 5 bins": lambda: PooledConfidence("ece", 5),
    "oracle_gap": lambda: PooledConfidence("oracle_gap"),
    "recall@3": lambda: metric_statistic("recall@3"),
}


@pytest.mark.parametrize("name", sorted(STATISTICS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_resamples_at_once_equal_one_resample_at_a_time(name: str, seed: int) -> None:
    """The vectorized bootstrap (draw counts x per-example tables) gives what pooling each resample's
    tuples and calling `metrics.auroc` / `expected_calibration_error` / `oracle_gap` gives."""
    rng = np.random.default_rng(seed)
    n = 40
    if name == "recall@3":
        before = [float(v) if v < 0.9 else math.nan for v in rng.random(n)]
        after = list(rng.random(n))
    else:
        before, after = _records(rng, n), _records(rng, n)
    statistic = STATISTICS[name]()
    indices = rng.integers(0, n, size=(300, n))
    fast = statistic.resampled(after, indices) - statistic.resampled(before, indices)
    slow = np.array(
        [statistic([after[i] for i in row]) - statistic([before[i] for i in row]) for row in indices]
    )
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_allclose(fast[~np.isnan(fast)], slow[~np.isnan(slow)], rtol=0, atol=1e-12)
    looped = paired_bootstrap(before, after, lambda records: statistic(records), seed=seed)
    assert paired_bootstrap(before, after, statistic, seed=seed) == pytest.approx(looped, abs=1e-12)
    if name != "recall@3":  # the run summary's interval (metrics.bootstrap_ci) takes the same path
        from beyondmode.metrics import bootstrap_ci

        kept = [r for r in after if r]
        fast_ci = bootstrap_ci(kept, statistic, num_resamples=200, seed=seed)
        slow_ci = bootstrap_ci(kept, lambda records: statistic(records), num_resamples=200, seed=seed)
        assert fast_ci == pytest.approx(slow_ci, abs=1e-12)


def test_pooled_auroc_is_nan_without_both_classes() -> None:
    statistic = metric_statistic("auroc")
    only_hits = [[(0.2, 1.0)], [(0.7, 1.0)], []]
    assert math.isnan(statistic(only_hits))
    assert np.isnan(statistic.resampled(only_hits, np.array([[0, 1, 2]]))).all()
    with pytest.raises(ValueError, match="pooled confidence metrics"):
        PooledConfidence("brier")


def test_doctests() -> None:
    import doctest

    from beyondmode.evaluate import paired, pooled

    assert doctest.testmod(pooled).failed == 0 and doctest.testmod(paired).failed == 0
