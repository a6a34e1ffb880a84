"""The demo's goals (issue 11), checked on the measured numbers: met, not met, or not measurable.

Each goal reads `demo_summary.json`'s `rl_gain` rows (paired against the run's own warm start) or its
headline rows; nothing here is a figure, only thresholds. `run_goals(summary)` gives, per run, each goal's
`value` (the number the threshold is applied to) and `met` (None where it cannot be measured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Goal = Callable[[dict[str, dict[str, Any]], dict[str, Any]], tuple[float | None, bool | None]]


def _ratio(row: dict[str, Any] | None) -> float | None:
    if not row or row["after_rl"] is None or not row["oracle"]:
        return None
    return row["after_rl"] / row["oracle"]


def _gain_above_zero(gains: dict[str, dict[str, Any]], _: dict[str, Any]) -> tuple[float | None, bool | None]:
    row = gains.get("expected_recall@3")
    low = None if not row else row["ci_low"]
    return low, None if low is None else low > 0


def _coverage_near_oracle(
    gains: dict[str, dict[str, Any]], _: dict[str, Any]
) -> tuple[float | None, bool | None]:
    ratio = _ratio(gains.get("expected_recall@3"))
    return ratio, None if ratio is None else ratio >= 0.9


def _auroc_near_oracle(
    gains: dict[str, dict[str, Any]], _: dict[str, Any]
) -> tuple[float | None, bool | None]:
    ratio = _ratio(gains.get("auroc"))
    return ratio, None if ratio is None else ratio >= 0.9


def _auroc_kept(gains: dict[str, dict[str, Any]], _: dict[str, Any]) -> tuple[float | None, bool | None]:
    row = gains.get("auroc")
    high = None if not row else row["ci_high"]
    return (None if not row else row["delta"]), None if high is None else high >= 0


def _diversity_collapses(
    gains: dict[str, dict[str, Any]], context: dict[str, Any]
) -> tuple[float | None, bool | None]:
    row = gains.get(f"distinct@{context['max_answers']}")
    high = None if not row else row["ci_high"]
    return (None if not row else row["delta"]), None if high is None else high < 0


def _beats_best_of_3(
    gains: dict[str, dict[str, Any]], context: dict[str, Any]
) -> tuple[float | None, bool | None]:
    """Paired over the same cases (`versus_best_of_k`): the interval of multi - best-of-3 above 0."""
    row, versus = context.get("row"), context.get("versus", {}).get("recall@3")
    if not row or not versus or versus["delta"] is None or versus["ci_low"] is None:
        return None, None
    return versus["delta"], versus["ci_low"] > 0 and (row.get("tokens_ratio") or 0.0) <= 1.0


def _cheap_tokens(
    gains: dict[str, dict[str, Any]], context: dict[str, Any]
) -> tuple[float | None, bool | None]:
    """Tokens for the same answers against best-of-k of the single-answer method that writes the same
    fields (`summary.same_fields_single_run`: RLCR where the run writes confidences, RLVR otherwise)."""
    row, reference = context.get("row"), context.get("same_fields_best_of_k")
    ratio = None if not row else row.get("tokens_ratio_same_fields")
    if ratio is None or not reference or row.get("recall@3") is None or reference.get("recall@3") is None:
        return ratio, None
    return ratio, ratio <= 0.6 and row["recall@3"] >= reference["recall@3"]


MULTI_GOALS: dict[str, Goal] = {
    "RL gain on expected coverage@3: paired 95% interval above 0": _gain_above_zero,
    "expected coverage@3 after RL >= 0.9x the oracle's": _coverage_near_oracle,
    "recall@3 above RLVR best-of-3 (paired 95% interval above 0) at no more tokens": _beats_best_of_3,
    "tokens per example <= 0.6x best-of-3 of the single-answer method writing the same fields "
    "(RLVR; RLCR with confidences) at >= its recall@3": _cheap_tokens,
}
CONFIDENCE_GOALS: dict[str, Goal] = {
    "AUROC after RL >= 0.9x the oracle's": _auroc_near_oracle,
    "AUROC not below the warm start's (interval reaches 0 or above)": _auroc_kept,
}
SINGLE_GOALS: dict[str, Goal] = {
    "RLVR collapses: distinct@n falls against its warm start (interval below 0)": _diversity_collapses,
}


def goals_for(run: str) -> dict[str, Goal]:
    """The goals that apply to a run, by its method (the run name's first part)."""
    method = run.split("-")[0]
    if method.startswith("multi_rlcr"):
        return MULTI_GOALS | CONFIDENCE_GOALS
    if method.startswith("multi"):
        return dict(MULTI_GOALS)
    return dict(SINGLE_GOALS) if method == "rlvr" else {}


def run_goals(summary: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per run: each goal's value and whether it is met (None: not measurable)."""
    by_run: dict[str, dict[str, dict[str, Any]]] = {}
    for row in summary.get("rl_gain", []):
        by_run.setdefault(row["run"], {})[row["metric"]] = row
    rows = summary.get("runs", {})
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for run, gains in by_run.items():
        method = "multi_answer" if run.startswith("multi") else "best_of_k"
        row = rows.get(f"{run}/{method}")
        context = {
            "max_answers": summary["max_answers"],
            "row": row,
            "same_fields_best_of_k": rows.get((row or {}).get("tokens_reference", "")),
            "versus": {r["metric"]: r for r in summary.get("versus_best_of_k", []) if r["run"] == run},
        }
        checks = {}
        for label, goal in goals_for(run).items():
            value, met = goal(gains, context)
            checks[label] = {"value": value, "met": met}
        if checks:
            results[run] = checks
    return results
