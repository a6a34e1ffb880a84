"""The report's tables as plain data (header + rows of strings), shared by the Markdown and HTML writers.

A cell shows the mean and its bootstrap 95% interval as `mean [low, high]` (intervals of ECE, AUROC
and recall are not symmetric); "–" where a metric does not apply (pass@k of a non-i.i.d. method,
calibration without confidences).

>>> format_metric({"mean": 0.5, "ci_low": 0.4, "ci_high": 0.62})
'0.500 [0.400, 0.620]'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from beyondmode.report.collect import RunData

ORACLE = "oracle"
MISSING = "–"


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def format_metric(value: dict[str, Any] | None, digits: int = 3) -> str:
    """`mean [low, high]` of the 95% interval, or "–"."""
    if not value or value.get("mean") is None:
        return MISSING
    mean = value["mean"]
    low, high = value.get("ci_low"), value.get("ci_high")
    if low is None or high is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def rl_gain_table(rows: Sequence[dict[str, Any]]) -> Table:
    """What RL added: each run's metric at its warm start and after RL, the paired difference with its
    95% interval, and the oracle's value where it is a ceiling (`beyondmode.demo.rl_gain`)."""

    def number(value: float | None) -> str:
        return MISSING if value is None else f"{value:.3f}"

    body = tuple(
        (
            row["run"],
            row["metric"],
            number(row["warm_start"]),
            number(row["after_rl"]),
            MISSING
            if row["delta"] is None
            else f"{row['delta']:+.3f} [{number(row['ci_low'])}, {number(row['ci_high'])}]",
            number(row["oracle"]),
        )
        for row in rows
    )
    return Table(
        "What RL added: after RL vs its own warm start",
        ("run", "metric", "warm start", "after RL", "Δ [95% paired]", "oracle"),
        body,
        "Same held-out cases, same sampling settings; the interval is a paired bootstrap over cases. "
        "expected_recall@3 is the exact posterior mass of the distinct answers among the first 3 "
        "(noise-free coverage: no sampled label).",
    )


def _settings(runs: Sequence[RunData]) -> dict[str, Any]:
    return runs[0].summary.get("settings", {}) if runs else {}


def _rows(runs: Sequence[RunData]) -> list[tuple[str, dict[str, Any]]]:
    """(row label, method block) for every run's methods, then the oracle once."""
    rows, oracle = [], None
    for run in runs:
        for method, block in run.methods.items():
            if method == ORACLE:
                oracle = oracle or (f"{ORACLE} (Bayes-optimal set)", block)
            else:
                rows.append((f"{run.label} / {method}", block))
    return rows + ([oracle] if oracle else [])


def metric_table(
    runs: Sequence[RunData], title: str, keys: Sequence[tuple[str, str]], note: str = ""
) -> Table:
    """One row per run and method, one column per (metric key, column title)."""
    body = tuple(
        (label, *(format_metric(block["metrics"].get(key)) for key, _ in keys))
        for label, block in _rows(runs)
    )
    return Table(title, ("method", *(name for _, name in keys)), body, note)


def report_tables(runs: Sequence[RunData]) -> list[Table]:
    """Recall and diversity; coverage and pass@k; calibration; cost; strict vs lenient parsing."""
    settings = _settings(runs)
    ks = settings.get("recall_ks", [1, 3, 5, 10, 30])
    n = settings.get("max_answers", 30)
    recall = (
        [("expected_recall@3", "expected recall@3")]
        + [(f"recall@{k}", f"recall@{k}") for k in ks]
        + [
            ("top1", "top1"),
            (f"distinct@{n}", f"distinct@{n}"),
        ]
    )
    coverage = [(f"coverage@{k}", f"coverage@{k}") for k in ks] + [(f"pass@{k}", f"pass@{k}") for k in ks]
    calibration = [
        ("set_brier", "set Brier ↓"),
        ("ece", "ECE ↓"),
        ("auroc", "AUROC ↑"),
        ("oracle_gap", "oracle gap ↓"),
        ("format_rate", "format rate"),
    ]
    cost = [
        ("tokens_per_example", "tokens / example"),
        ("seconds_per_example", "seconds / example"),
        ("tokens_per_distinct_correct", "tokens / distinct correct"),
        ("seconds_per_distinct_correct", "seconds / distinct correct"),
    ]
    return [
        metric_table(
            runs,
            "Recall@k, top-1 and diversity",
            recall,
            "recall@k counts distinct gold answers among the first k answers (multi-answer: ceil(k/K) "
            "generations; best-of-k: k samples); distinct@n counts distinct answers among n.",
        ),
        metric_table(
            runs,
            "Coverage@k and pass@k",
            coverage,
            "coverage@k: some answer among the first k hits; pass@k (unbiased estimator) only for i.i.d. "
            "samples (best-of-k), never for the K candidates of one generation.",
        ),
        metric_table(
            runs,
            "Calibration",
            calibration,
            "Answer-level ECE (10 equal-width bins) and AUROC over all (confidence, hit) pairs; "
            "ECE alone is misleading: read it beside AUROC and Brier.",
        ),
        metric_table(runs, "Cost", cost, "Generated tokenizer tokens and wall seconds."),
        parsing_table(runs),
    ]


def parsing_table(runs: Sequence[RunData]) -> Table:
    """Coverage and recall under strict format and under lenient parsing, side by side."""
    settings = _settings(runs)
    ks = settings.get("recall_ks", [1])
    k_cover = settings.get("num_candidates", ks[0])
    k_cover = k_cover if k_cover in ks else ks[0]
    k_max = max(ks)
    header = (
        "method",
        f"coverage@{k_cover} strict",
        f"coverage@{k_cover} lenient",
        f"recall@{k_max} strict",
        f"recall@{k_max} lenient",
    )
    body = []
    for label, block in _rows(runs):
        parsing = block.get("parsing", {})
        strict, lenient = parsing.get("strict", {}), parsing.get("lenient", {})
        cells = [
            strict.get(f"coverage@{k_cover}"),
            lenient.get(f"coverage@{k_cover}"),
            strict.get(f"recall@{k_max}"),
            lenient.get(f"recall@{k_max}"),
        ]
        body.append((label, *(MISSING if c is None else f"{c:.3f}" for c in cells)))
    return Table(
        "Strict vs lenient parsing",
        header,
        tuple(body),
        "Strict: a malformed generation contributes no answers; lenient: whatever the parser recovered.",
    )
