"""What RL added: each run's evaluation against its warm start's, metric by metric, paired over cases.

One row per run and metric (`demo_summary.json` key `rl_gain`):

    {"run": "multi_rlcr-k3-s0", "task": "ddx_sim", "metric": "expected_recall@3", "warm_start": 0.52,
     "after_rl": 0.61, "delta": 0.09, "ci_low": 0.07, "ci_high": 0.11, "oracle": 0.79}

`delta` = after RL - warm start on the same held-out cases, with a paired bootstrap 95% interval
(`beyondmode.evaluate.paired`); `oracle` is the Bayes-optimal set's value where it is a ceiling (null for
diversity and cost).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from beyondmode.demo.profiles import DemoProfile, DemoRun
from beyondmode.evaluate.paired import load_method_generations, paired_from_generations

ORACLE = "oracle"
NO_CEILING = ("distinct@", "tokens_per_example")


def run_metrics(run: DemoRun, profile: DemoProfile) -> list[str]:
    """The metrics compared for `run`: noise-free coverage in 3 answers first (the headline), then the
    label metrics, diversity across generations, and, with confidences, resolution and calibration."""
    metrics = ["expected_recall@3", "coverage@3", "recall@3", f"distinct@{profile.max_answers}", "top1"]
    if run.with_confidence:
        metrics += ["auroc", "ece"]
    return [*metrics, "tokens_per_example"]


def headline_method(run: DemoRun) -> str:
    """One K-candidate generation for the multi methods; best-of-k samples for the single-answer ones."""
    return "multi_answer" if run.is_multi else "best_of_k"


def rl_gain_rows(
    profile: DemoProfile, run: DemoRun, warm_dir: Path, rl_dir: Path, *, seed: int = 0
) -> list[dict[str, Any]]:
    """The `rl_gain` rows of one run (see the module docstring)."""
    method = headline_method(run)
    before = load_method_generations(warm_dir, method)
    after = load_method_generations(rl_dir, method)
    summary = json.loads((rl_dir / "summary.json").read_text())
    oracle = summary["methods"].get(ORACLE, {}).get("metrics", {})
    rows = []
    for metric in run_metrics(run, profile):
        gain = paired_from_generations(before, after, metric, seed=seed)  # null where not measurable
        ceiling = None if metric.startswith(NO_CEILING) else (oracle.get(metric) or {}).get("mean")
        rows.append(
            {
                "run": run.name,
                "task": summary.get("task", "ddx_sim"),
                "metric": metric,
                "warm_start": _number(gain.before),
                "after_rl": _number(gain.after),
                "delta": _number(gain.delta),
                "ci_low": _number(gain.ci_low),
                "ci_high": _number(gain.ci_high),
                "oracle": ceiling,
                "num_examples": gain.num_examples,
            }
        )
    return rows


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


VERSUS_METRICS = ("recall@3", "expected_recall@3")


def versus_best_of_k_rows(
    run: DemoRun, rl_dir: Path, best_of_k_dir: Path, *, seed: int = 0
) -> list[dict[str, Any]]:
    """One K-candidate generation of a multi run against RLVR's best-of-k samples on the same held-out
    cases (`demo_summary.json` key `versus_best_of_k`): `delta` = multi - best-of-k, paired 95% interval.

    With one truth per case (code_sim, ddx_sim's default gold) recall@3 is coverage@3: some of the 3
    answers is correct.
    """
    best_of_k = load_method_generations(best_of_k_dir, "best_of_k")
    multi = load_method_generations(rl_dir, "multi_answer")
    rows = []
    for metric in VERSUS_METRICS:
        gain = paired_from_generations(best_of_k, multi, metric, seed=seed)
        rows.append(
            {
                "run": run.name,
                "metric": metric,
                "best_of_k": _number(gain.before),
                "multi_answer": _number(gain.after),
                "delta": _number(gain.delta),
                "ci_low": _number(gain.ci_low),
                "ci_high": _number(gain.ci_high),
                "num_examples": gain.num_examples,
            }
        )
    return rows
