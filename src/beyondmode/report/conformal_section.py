"""The report's conformal section: coverage vs mean set size of conformal answer sets, per method.

For each run with candidate rows, each scorable method (the multi-answer methods scored by their stated
confidence, best-of-k scored by sample frequency at equal generated tokens, the oracle's posterior) is
calibrated at every alpha of `ALPHAS` on `NUM_SPLITS` seeded calibration/test splits; a point is the mean
test coverage and mean set size over the splits. The claim the plot tests: the same guarantee with
smaller sets and fewer tokens. A table gives the figures at alpha = `TABLE_ALPHA`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beyondmode.conformal import split_conformal
from beyondmode.evaluate.conformal_sets import (
    MethodPools,
    baseline_method_pools,
    default_method,
    load_rows,
    run_method_pools,
    tokens_per_example,
)
from beyondmode.evaluate.results import ROWS_FILE
from beyondmode.evaluate.scored import ORACLE
from beyondmode.report.collect import RunData
from beyondmode.report.plots import _pyplot, _save
from beyondmode.report.tables import Table

logger = logging.getLogger(__name__)

ALPHAS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
TABLE_ALPHA = 0.1
NUM_SPLITS = 5
MIN_EXAMPLES = 20
"""Fewer examples leave under 10 calibration cases: q_hat is infinite for alpha < 1/11 and the section
would only show whole pools."""
CALIBRATION_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """Mean over the seeded splits at one alpha; `attainable` is the share of splits with finite q_hat."""

    alpha: float
    coverage: float
    mean_set_size: float
    empty_share: float
    attainable: float


@dataclass(frozen=True, slots=True)
class MethodSweep:
    label: str
    method: str
    scoring: str
    points: tuple[SweepPoint, ...]
    tokens_per_example: float | None
    num_examples: int


def sweep(
    pools: MethodPools, alphas: Sequence[float] = ALPHAS, num_splits: int = NUM_SPLITS
) -> list[SweepPoint]:
    """Coverage and set size at each alpha, averaged over seeds 0..num_splits-1."""
    points = []
    for alpha in alphas:
        results = [
            split_conformal(pools.pools, alpha, CALIBRATION_FRACTION, seed) for seed in range(num_splits)
        ]
        points.append(
            SweepPoint(
                alpha,
                float(np.mean([r.coverage for r in results])),
                float(np.mean([r.mean_set_size for r in results])),
                float(np.mean([r.empty_share for r in results])),
                float(np.mean([r.attainable for r in results])),
            )
        )
    return points


def run_sweeps(runs: Sequence[RunData]) -> list[MethodSweep]:
    """The sweeps of every run with rows: its multi-answer methods with confidences, best-of-k at equal
    tokens and the oracle (once); a run of a single-answer model contributes its best-of-k at the tokens
    of the first multi-answer run, when it holds the same examples."""
    sweeps: list[MethodSweep] = []
    oracle_done = False
    reference: tuple[list[dict], str] | None = None
    for run in runs:
        if not (run.path / ROWS_FILE).is_file():
            continue
        if (run.summary.get("num_examples") or 0) < MIN_EXAMPLES:
            logger.info("%s: fewer than %d examples, no conformal section", run.label, MIN_EXAMPLES)
            continue
        rows = load_rows(run.path)
        try:
            reported = default_method(run.summary)
        except ValueError:
            sweeps += _baseline_sweeps(run, rows, reference)
            continue
        reference = reference or (rows, reported)
        tokens = _tokens_per_example(rows)
        for name, entry in run_method_pools(run.summary, rows, reported).items():
            keep = entry.skipped is None and (
                entry.scoring == "confidence" or name.endswith("@equal_tokens") or name == ORACLE
            )
            if not keep or (name == ORACLE and oracle_done):
                continue
            oracle_done = oracle_done or name == ORACLE
            label = name if len(runs) == 1 or name == ORACLE else f"{run.label} / {name}"
            used = None if name == ORACLE else _tokens_used(entry, tokens.get(name.split("@")[0]))
            sweeps.append(
                MethodSweep(label, name, entry.scoring, tuple(sweep(entry)), used, len(entry.pools))
            )
    return sweeps


def _baseline_sweeps(
    run: RunData, rows: list[dict], reference: tuple[list[dict], str] | None
) -> list[MethodSweep]:
    """Best-of-k of a single-answer run at the reference run's tokens (needs the same examples)."""
    if reference is None:
        logger.info("%s: no multi-answer run before it to match tokens with, no conformal curve", run.label)
        return []
    reference_rows, reported = reference
    try:
        entries = baseline_method_pools(reference_rows, reported, run.summary, rows, run.label)
    except ValueError as error:  # other examples, or no best-of-k: the run is simply not comparable
        logger.info("%s: no conformal curve (%s)", run.label, error)
        return []
    return [
        MethodSweep(
            name, name, entry.scoring, tuple(sweep(entry)), _tokens_used(entry, None), len(entry.pools)
        )
        for name, entry in entries.items()
        if name.endswith("@equal_tokens")
    ]


def _tokens_used(entry: MethodPools, default: float | None) -> float | None:
    if entry.equal_tokens is None:
        return default
    return entry.equal_tokens.samples * entry.equal_tokens.tokens_per_sample


def _tokens_per_example(rows: Sequence[dict]) -> dict[str, float]:
    methods = {str(r["method"]) for r in rows}
    return {m: float(np.mean([sum(t) for t in tokens_per_example(rows, m).values()])) for m in methods}


def conformal_plot(sweeps: Sequence[MethodSweep], path: Path) -> Path | None:
    """Coverage (y) against mean set size (x), one curve per method, alphas annotated at the ends."""
    if not sweeps:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for item in sweeps:
        sizes = [p.mean_set_size for p in item.points]
        coverages = [p.coverage for p in item.points]
        style = (
            {"color": "black", "linestyle": "--"}
            if item.method == ORACLE
            else {"marker": "o", "markersize": 3}
        )
        tokens = "" if not item.tokens_per_example else f", {item.tokens_per_example:.0f} tok/ex"
        line = ax.plot(sizes, coverages, label=f"{item.label} ({item.scoring}{tokens})", **style)[0]
        short = [p for p in item.points if p.attainable < 1]  # q_hat infinite on some split: hollow
        ax.scatter(
            [p.mean_set_size for p in short],
            [p.coverage for p in short],
            facecolors="white",
            edgecolors=line.get_color(),
            zorder=3,
        )
    for alpha in ALPHAS:
        ax.axhline(1 - alpha, color="#ddd", linewidth=0.6, zorder=0)
    ax.set_xlabel("mean set size (test split)")
    ax.set_ylabel("coverage: gold answer in the set")
    ax.set_title(
        f"Conformal answer sets, alpha {ALPHAS[0]}..{ALPHAS[-1]} (grey: 1 - alpha; hollow: not attainable)"
    )
    ax.legend(fontsize=7)
    return _save(fig, path)


def conformal_table(sweeps: Sequence[MethodSweep]) -> Table | None:
    """Coverage, set size, empty share and tokens per example at alpha = TABLE_ALPHA."""
    if not sweeps:
        return None
    rows = []
    for item in sweeps:
        point = next(p for p in item.points if p.alpha == TABLE_ALPHA)
        rows.append(
            (
                item.label,
                item.scoring,
                f"{point.coverage:.3f}",
                f"{point.mean_set_size:.2f}",
                f"{point.empty_share:.1%}",
                f"{point.attainable:.0%}",
                "–" if item.tokens_per_example is None else f"{item.tokens_per_example:.0f}",
                str(item.num_examples),
            )
        )
    return Table(
        f"Conformal answer sets at alpha = {TABLE_ALPHA}",
        (
            "method",
            "score",
            "coverage",
            "mean set size",
            "empty",
            "attainable",
            "tokens / example",
            "examples",
        ),
        tuple(rows),
        note=(
            f"Split conformal (finite-sample quantile) on {NUM_SPLITS} seeded {CALIBRATION_FRACTION:.0%} "
            "calibration splits, means over the splits; target coverage >= 1 - alpha. Best-of-k is scored "
            "by sample frequency with the samples whose tokens match the multi-answer method's. "
            "'attainable': share of splits where the pool held gold often enough (else the set is the "
            "whole pool). See docs/conformal.md and `beyondmode conformal`."
        ),
    )


def extend(
    runs: Sequence[RunData], folder: Path, figures: list[tuple[str, Path]], tables: Sequence[Table]
) -> tuple[list[tuple[str, Path]], list[Table]]:
    """The report's figures and tables with this section's plot and table added (when any run has rows)."""
    sweeps = run_sweeps(runs)
    plot = conformal_plot(sweeps, folder / "conformal.png")
    table = conformal_table(sweeps)
    figures = [*figures, *([("Conformal sets: coverage vs mean set size", plot)] if plot else [])]
    return figures, [*tables, *([table] if table else [])]
