"""PNG plots of a report (matplotlib, Agg backend): recall@k, distinct answers, reliability, cost, training.

Each function writes one PNG and returns its path, or None when there is nothing to plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from beyondmode.report.collect import RunData

ORACLE = "oracle"
WARM_START_PREFIX = "warmstart-"
"""Evaluation folders of warm starts (the runs' starting points) are named `warmstart-<format>`."""
DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    _pyplot().close(fig)
    return path


def _series(runs: Sequence[RunData]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, method, block) of every method of every run; the oracle once (from the first run with one)."""
    rows, oracle = [], None
    for run in runs:
        for method, block in run.methods.items():
            if method == ORACLE:
                oracle = oracle or (ORACLE, method, block)
            else:
                rows.append((f"{run.label} / {method}" if len(runs) > 1 else method, method, block))
    return rows + ([oracle] if oracle else [])


def recall_curve(runs: Sequence[RunData], path: Path) -> Path | None:
    """Recall@k over k: multi-answer methods over ceil(k/K) generations vs best-of-k samples."""
    series = [s for s in _series(runs) if s[2].get("curves")]
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, method, block in series:
        curves = block["curves"]
        if method == ORACLE:
            style: dict[str, Any] = {"color": "black", "linestyle": ":", "linewidth": 2}
        elif label.startswith(WARM_START_PREFIX):
            style = {"linestyle": "--", "linewidth": 1.2, "alpha": 0.8}
        else:
            style = {"marker": "o", "markersize": 3}
        ax.plot(curves["k"], curves["recall"], label=label, **style)
    ax.set_xlabel("k (answers: ceil(k/K) generations for multi-answer, k samples for best-of-k)")
    ax.set_ylabel("recall@k (distinct gold answers found)")
    ax.set_title("Recall@k (dashed: warm start, solid: after RL, dotted: oracle)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def distinct_histogram(runs: Sequence[RunData], path: Path) -> Path | None:
    """Histogram over examples of the number of distinct answers among n."""
    series = [s for s in _series(runs) if s[2].get("distinct_per_example") and s[1] != ORACLE]
    if not series:
        return None
    n = int(runs[0].summary.get("settings", {}).get("max_answers", 30))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    largest = max(max(block["distinct_per_example"]) for _, _, block in series)
    edges = [x - 0.5 for x in range(int(min(n, largest)) + 2)]
    for label, _, block in series:
        ax.hist(block["distinct_per_example"], bins=edges, histtype="step", linewidth=1.8, label=label)
    ax.set_xlabel(f"distinct answers among {n}")
    ax.set_ylabel("examples")
    ax.set_title(f"Diversity: distinct@{n}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def reliability_diagrams(runs: Sequence[RunData], path: Path) -> Path | None:
    """One reliability diagram per method with confidences: hit rate per confidence bin, ECE in the title."""
    series = [s for s in _series(runs) if s[2].get("reliability")]
    if not series:
        return None
    plt = _pyplot()
    columns = min(3, len(series))
    rows = math.ceil(len(series) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns, 3.4 * rows), squeeze=False)
    for ax, (label, _, block) in zip(axes.flat, series, strict=False):
        bins = block["reliability"]
        filled = [b for b in bins if b["count"]]  # empty bins are left blank, not drawn as a 0 hit rate
        centers = [(b["lower"] + b["upper"]) / 2 for b in filled]
        accuracy = [b["accuracy"] for b in filled]
        ax.bar(centers, accuracy, width=1 / len(bins), edgecolor="black", alpha=0.7, label="hit rate")
        ax.plot([0, 1], [0, 1], "k--", linewidth=1)
        ece = (block["metrics"].get("ece") or {}).get("mean")
        auroc = (block["metrics"].get("auroc") or {}).get("mean")
        ax.set_title(f"{label}\nECE {_fmt(ece)}  AUROC {_fmt(auroc)}", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("stated confidence")
        ax.set_ylabel("hit rate")
    for ax in list(axes.flat)[len(series) :]:
        ax.axis("off")
    return _save(fig, path)


def cost_bars(runs: Sequence[RunData], path: Path) -> Path | None:
    """Tokens and seconds per distinct correct answer, with bootstrap 95% intervals."""
    series = [s for s in _series(runs) if s[1] != ORACLE]
    if not series:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, key, unit in zip(axes, ("tokens", "seconds"), ("tokens", "seconds"), strict=True):
        labels = [label for label, _, _ in series]
        values = [block["metrics"].get(f"{key}_per_distinct_correct") for _, _, block in series]
        means, errors = _means_and_errors(values)
        ax.bar(range(len(labels)), means, yerr=errors, capsize=3, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"{unit} per distinct correct answer")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Cost per distinct correct answer (lower is better)")
    return _save(fig, path)


def training_plot(run: RunData, path: Path) -> Path | None:
    """Reward and each reward term over training steps (TRL log history)."""
    curves = {k: v for k, v in run.curves.items() if k not in ("loss", "kl", "completions/mean_length")}
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, points in sorted(curves.items()):
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, label=name, linewidth=2.2 if name == "reward" else 1.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("mean reward (term)")
    ax.set_title(f"Training: {run.label}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    return _save(fig, path)


def _means_and_errors(values: Sequence[dict[str, Any] | None]) -> tuple[list[float], list[list[float]]]:
    """Bar heights and asymmetric error bars from {mean, ci_low, ci_high} (missing values: 0)."""
    means, low, high = [], [], []
    for value in values:
        mean = (value or {}).get("mean")
        means.append(mean or 0.0)
        ok = mean is not None and value.get("ci_low") is not None and value.get("ci_high") is not None
        low.append(max(0.0, mean - value["ci_low"]) if ok else 0.0)
        high.append(max(0.0, value["ci_high"] - mean) if ok else 0.0)
    return means, [low, high]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
