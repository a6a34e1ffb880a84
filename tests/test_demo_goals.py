"""The demo's cost goal on a hand-built summary: tokens against the single-answer method with the same fields."""

from __future__ import annotations

from typing import Any

from beyondmode.demo.goals import MULTI_GOALS, run_goals
from beyondmode.demo.profiles import DemoRun
from beyondmode.demo.summary import same_fields_single_run

COST_GOAL = next(label for label in MULTI_GOALS if label.startswith("tokens per example"))


def _summary(multi_tokens: float, multi_recall: float, rlcr_recall: float) -> dict[str, Any]:
    runs = {
        "rlvr-s0/best_of_k": {"tokens_per_example": 560.0, "recall@3": 0.60},
        "rlcr-s0/best_of_k": {"tokens_per_example": 650.0, "recall@3": rlcr_recall},
        "multi_rlcr-k3-s0/multi_answer": {
            "tokens_per_example": multi_tokens,
            "recall@3": multi_recall,
            "tokens_reference": "rlcr-s0/best_of_k",
            "tokens_ratio_same_fields": multi_tokens / 650.0,
        },
    }
    gain = {
        "run": "multi_rlcr-k3-s0",
        "metric": "expected_recall@3",
        "warm_start": 0.68,
        "after_rl": 0.70,
        "delta": 0.02,
        "ci_low": 0.01,
        "ci_high": 0.03,
        "oracle": 0.88,
    }
    return {"max_answers": 30, "runs": runs, "rl_gain": [gain]}


def test_the_reference_writes_the_same_fields() -> None:
    assert same_fields_single_run(DemoRun("multi_rlcr", 2, confidence_credit="token")).name == "rlcr-s2"
    assert same_fields_single_run(DemoRun("multi_rlvr", 0)).name == "rlvr-s0"


def test_confidence_runs_are_costed_against_rlcr_best_of_k() -> None:
    # 352 tokens: 0.63x RLVR's 560 (over the goal), 0.54x RLCR's 650 (within it)
    goal = run_goals(_summary(352.0, 0.69, 0.59))["multi_rlcr-k3-s0"][COST_GOAL]
    assert goal == {"value": 352.0 / 650.0, "met": True}


def test_the_cost_goal_also_needs_recall_at_least_the_references() -> None:
    assert run_goals(_summary(352.0, 0.58, 0.59))["multi_rlcr-k3-s0"][COST_GOAL]["met"] is False
    assert run_goals(_summary(400.0, 0.69, 0.59))["multi_rlcr-k3-s0"][COST_GOAL]["met"] is False


def test_without_the_reference_run_the_goal_is_not_measurable() -> None:
    summary = _summary(352.0, 0.69, 0.59)
    del summary["runs"]["rlcr-s0/best_of_k"]  # code_sim trains no RLCR
    assert run_goals(summary)["multi_rlcr-k3-s0"][COST_GOAL]["met"] is None
