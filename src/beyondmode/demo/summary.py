"""The demo's headline numbers, its targets, and a plain-language summary of what the run shows.

Reads the `summary.json` of each evaluated run. Every number comes from those files: nothing here is
hard-coded; the goals (`beyondmode.demo.goals`) are reported as met or not met.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from beyondmode.demo.goals import run_goals
from beyondmode.demo.profiles import DemoProfile, DemoRun
from beyondmode.demo.rl_gain import rl_gain_rows, versus_best_of_k_rows

ORACLE = "oracle"
HEADLINE = (
    "expected_recall@3",
    "recall@1",
    "recall@3",
    "top1",
    "ece",
    "auroc",
    "set_brier",
    "oracle_gap",
    "format_rate",
)


def _mean(block: dict[str, Any] | None, key: str) -> float | None:
    if not block:
        return None
    value = block.get("metrics", {}).get(key)
    return None if value is None else value.get("mean")


def _load(eval_dir: Path) -> dict[str, Any]:
    return json.loads((eval_dir / "summary.json").read_text())


def demo_summary(
    profile: DemoProfile,
    eval_dirs: Sequence[Path],
    timings: dict[str, float],
    *,
    warm_evals: Mapping[str, Path] | None = None,
) -> dict[str, Any]:
    """Headline metrics per run and method (warm starts included, as `warmstart-<format>/<method>`), the
    oracle, seed spreads, cost ratio, targets, and `rl_gain`: each run against its warm start. Each seed
    has its own held-out cases: `oracle` is that of the first evaluation's (seed 0's in the profiles),
    and every `rl_gain` row carries its own run's."""
    rows: dict[str, dict[str, Any]] = {}
    oracle: dict[str, Any] | None = None
    warm_evals = dict(warm_evals or {})
    for eval_dir in [*eval_dirs, *dict.fromkeys(warm_evals.values())]:
        summary = _load(eval_dir)
        for method, block in summary["methods"].items():
            if method == ORACLE:
                oracle = oracle or block
                continue
            rows[f"{eval_dir.name}/{method}"] = _headline(block, profile)
    best_of_k = [r for name, r in rows.items() if name.startswith("rlvr-") and name.endswith("/best_of_k")]
    reference_tokens = best_of_k[0]["tokens_per_example"] if best_of_k else None
    for row in rows.values():
        tokens = row.get("tokens_per_example")
        row["tokens_ratio"] = tokens / reference_tokens if tokens and reference_tokens else None
    for run in profile.runs:
        if run.is_multi and f"{run.name}/multi_answer" in rows:
            row = rows[f"{run.name}/multi_answer"]
            row["tokens_reference"] = f"{same_fields_single_run(run).name}/best_of_k"
            reference = rows.get(row["tokens_reference"]) or {}
            tokens, single_tokens = row.get("tokens_per_example"), reference.get("tokens_per_example")
            row["tokens_ratio_same_fields"] = tokens / single_tokens if tokens and single_tokens else None
    oracle_row = _headline(oracle, profile) if oracle else None
    by_name = {run.name: run for run in profile.runs}
    gains = [
        row
        for eval_dir in eval_dirs
        if eval_dir.name in warm_evals
        for row in rl_gain_rows(profile, by_name[eval_dir.name], warm_evals[eval_dir.name], eval_dir)
    ]
    evaluated = [(by_name[d.name], d) for d in eval_dirs if d.name in by_name]
    rlvr_dirs = {run.seed: d for run, d in evaluated if run.method == "rlvr"}  # the same seed's RLVR
    versus = [
        row
        for run, eval_dir in evaluated
        if run.is_multi and run.seed in rlvr_dirs
        for row in versus_best_of_k_rows(run, eval_dir, rlvr_dirs[run.seed])
    ]
    summary = {
        "profile": profile.name,
        "task": profile.task,
        "num_eval": profile.num_eval,
        "max_answers": profile.max_answers,
        "runs": rows,
        "oracle": oracle_row,
        "rl_gain": gains,
        "versus_best_of_k": versus,
        "prompting_baseline": profile.prompting_baseline,
        "spread": _spread(rows),
    }
    summary["targets"] = run_goals(summary)
    return summary


def same_fields_single_run(run: DemoRun) -> DemoRun:
    """The single-answer run whose samples write what one of `run`'s answers writes: RLCR (an answer and
    its confidence) for a run with confidences, RLVR otherwise; same seed. Its best-of-k is the fair
    cost reference: both deliver the same fields for the same number of answers.

    >>> same_fields_single_run(DemoRun("multi_rlcr", 1)).name
    'rlcr-s1'
    """
    return DemoRun("rlcr" if run.with_confidence else "rlvr", run.seed)


def _headline(block: dict[str, Any], profile: DemoProfile) -> dict[str, Any]:
    keys = [*HEADLINE, f"recall@{profile.max_answers}", f"distinct@{profile.max_answers}"]
    keys += ["tokens_per_example", "seconds_per_example", "tokens_per_distinct_correct"]
    row = {key: _mean(block, key) for key in dict.fromkeys(keys)}
    row["distinct_confidences"] = block.get("distinct_confidences")
    metrics = block.get("metrics", {})
    row["ci"] = {key: metrics[key] for key in ("recall@3", "ece", "auroc") if metrics.get(key)}
    return row


def _spread(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per run family (the run name without its seed) and metric: the values of each seed."""
    families: dict[str, dict[str, list[float]]] = {}
    for name, row in rows.items():
        family = re.sub(r"-s\d+/", "/", name)
        for key in ("recall@3", "top1", "ece", "auroc", "oracle_gap"):
            value = row.get(key)
            if value is not None and not math.isnan(value):
                families.setdefault(family, {}).setdefault(key, []).append(value)
    return {family: values for family, values in families.items() if any(len(v) > 1 for v in values.values())}


def _fmt(value: float | None, digits: int = 2) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )


def plain_summary(summary: dict[str, Any]) -> list[str]:
    """A few sentences a reader can take away, built from the measured numbers."""
    runs, oracle = summary["runs"], summary.get("oracle") or {}
    n, top = summary["num_eval"], summary["max_answers"]
    if summary.get("task") == "code_sim":
        paragraphs = [
            f"{n} held-out program-synthesis cases (a few input/output examples shown, so several programs "
            f"fit them; every program is run against the hidden tests in the sandbox); the Bayes-optimal set "
            f"of 3 behaviourally distinct programs passes the hidden tests for {_fmt(oracle.get('recall@3'))} "
            f"of the cases, its first program for {_fmt(oracle.get('top1'))}."
        ]
    else:
        paragraphs = [
            f"{n} held-out simulated patients (1-3 findings each, so the diagnosis is genuinely uncertain); "
            f"the Bayes-optimal answer set (top 3 of the exact posterior) recovers "
            f"{_fmt(oracle.get('recall@3'))} correct diagnoses in 3 answers and ranks the truth first for "
            f"{_fmt(oracle.get('top1'))} of the cases."
        ]
    multi = _first(runs, "multi_rlcr-", "/multi_answer")
    token = _first(runs, "multi_rlcr_token-", "/multi_answer")
    rlvr_k = _first(runs, "rlvr-", "/best_of_k")
    if multi and rlvr_k:
        per_token = f", per-token credit {_fmt(token.get('recall@3'))}" if token else ""
        paragraphs.append(
            f"Recall in 3 answers: Multi-RLCR (one generation of K=3) {_fmt(multi['recall@3'])}{per_token}, "
            f"RLVR best-of-3 samples {_fmt(rlvr_k['recall@3'])}. "
            f"Within {top} answers: Multi-RLCR {_fmt(multi.get(f'recall@{top}'))} vs RLVR best-of-{top} "
            f"{_fmt(rlvr_k.get(f'recall@{top}'))}; RLVR's {top} samples hold "
            f"{_fmt(rlvr_k.get(f'distinct@{top}'), 1)} distinct answers on average (collapse onto the mode "
            f"shows as a small number)."
        )
    rlcr = _first(runs, "rlcr-", "/best_of_k")
    calibrated = [("RLCR", rlcr), ("Multi-RLCR", multi), ("Multi-RLCR per-token", token), ("oracle", oracle)]
    parts = [
        f"{label}: ECE {_fmt(row.get('ece'), 3)}, AUROC {_fmt(row.get('auroc'))}, "
        f"{row.get('distinct_confidences', 'n/a')} distinct confidence values"
        for label, row in calibrated
        if row
    ]
    if parts:
        paragraphs.append(
            "Calibration (answer level): "
            + "; ".join(parts)
            + ". A low ECE with one confidence value and AUROC 0.5 means calibrated on average but no "
            "resolution."
        )
    paragraphs += _versus_sentences(summary.get("versus_best_of_k", []))
    paragraphs += _gain_sentences(summary.get("rl_gain", []), top)
    if not summary.get("prompting_baseline", True):
        paragraphs.append(
            "No prompting baseline in this table: the paper's baseline is a model trained for single answers "
            "that can read multi-answer instructions, and the tiny RLVR model never saw the multi-answer "
            "format (asked for 3 answers it wrote none well formed: format rate 0.00 in an earlier run); "
            "profile field prompting_baseline=True evaluates it anyway."
        )
    if multi and multi.get("tokens_ratio") is not None:
        same_fields = multi.get("tokens_ratio_same_fields")
        against_rlcr = (
            f"{_fmt(same_fields)}x those of RLCR best-of-k (whose samples also write a confidence each) and "
            if same_fields is not None
            else ""
        )
        paragraphs.append(
            f"Cost: for the same number of answers, Multi-RLCR generates {against_rlcr}"
            f"{_fmt(multi['tokens_ratio'])}x those of RLVR best-of-k."
        )
    return paragraphs


def _gain_sentences(gains: Sequence[dict[str, Any]], top: int) -> list[str]:
    """What RL added to each run over its own warm start, with the paired interval and its cost."""
    by_run: dict[str, dict[str, dict[str, Any]]] = {}
    for row in gains:
        by_run.setdefault(row["run"], {})[row["metric"]] = row
    parts = []
    for run, rows in by_run.items():
        pieces = []
        for metric, label in (
            ("expected_recall@3", "expected coverage@3"),
            (f"distinct@{top}", f"distinct@{top}"),
        ):
            row = rows.get(metric)
            if row and row["delta"] is not None:
                verdict = _verdict(row)
                pieces.append(
                    f"{label} {_fmt(row['warm_start'])} -> {_fmt(row['after_rl'])} "
                    f"({row['delta']:+.3f} [{_fmt(row['ci_low'], 3)}, {_fmt(row['ci_high'], 3)}], {verdict})"
                )
        tokens = rows.get("tokens_per_example")
        if tokens and tokens["delta"] is not None:
            pieces.append(f"tokens per example {tokens['warm_start']:.0f} -> {tokens['after_rl']:.0f}")
        if pieces:
            parts.append(f"{run}: " + ", ".join(pieces))
    if not parts:
        return []
    return [
        "What RL added over each run's own warm start (same held-out cases, paired 95% intervals): "
        + "; ".join(parts)
        + "."
    ]


def _versus_sentences(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One K=3 generation against RLVR best-of-3 on recall@3, paired over the same cases."""
    parts = [
        f"{row['run']} {_fmt(row['multi_answer'])} vs {_fmt(row['best_of_k'])} "
        f"({row['delta']:+.3f} [{_fmt(row['ci_low'], 3)}, {_fmt(row['ci_high'], 3)}], {_verdict(row)})"
        for row in rows
        if row["metric"] == "recall@3" and row["delta"] is not None
    ]
    if not parts:
        return []
    return [
        "One K=3 generation against RLVR best-of-3 samples, recall@3 (paired 95% intervals): "
        + "; ".join(parts)
        + "."
    ]


def _verdict(row: dict[str, Any]) -> str:
    if row["ci_low"] is not None and row["ci_low"] > 0:
        return "up"
    if row["ci_high"] is not None and row["ci_high"] < 0:
        return "down"
    return "no clear change"


def _first(runs: dict[str, dict[str, Any]], prefix: str, suffix: str) -> dict[str, Any] | None:
    for name, row in runs.items():
        if name.startswith(prefix) and name.endswith(suffix):
            return row
    return None
