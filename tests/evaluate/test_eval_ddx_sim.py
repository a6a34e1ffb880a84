"""The evaluation on the embedded ddx_sim task: answering the Bayes-optimal set scores like the oracle row."""

from __future__ import annotations

import json

import pytest

from beyondmode.evaluate.backends.scripted import ScriptedBackend
from beyondmode.evaluate.methods import build_methods
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.metrics import oracle_answer_set
from beyondmode.tasks import registry
from beyondmode.types import Candidate


def test_bayes_optimal_answers_reach_the_oracle_row(tmp_path) -> None:
    task = registry.get_task("ddx_sim", num_examples=30, seed=3)
    settings = EvalSettings(
        methods=("multi_answer",), num_candidates=3, max_answers=3, recall_ks=(1, 3), bootstrap_resamples=50
    )
    fmt = build_methods(settings)[0].answer_format
    by_prompt = {json.dumps(list(e.prompt), sort_keys=True): e for e in task.examples(fmt)}

    def bayes_optimal(prompt, index: int) -> str:
        example = by_prompt[json.dumps([dict(m) for m in prompt], sort_keys=True)]
        ranked = oracle_answer_set(example.posterior, 3)
        return fmt.render([Candidate(name, q) for name, q in ranked], think="posterior")

    summary = run_evaluation(task, ScriptedBackend(bayes_optimal), settings, tmp_path, model="bayes")
    model, oracle = summary["methods"]["multi_answer"]["metrics"], summary["methods"]["oracle"]["metrics"]
    assert summary["methods"]["multi_answer"]["metrics"]["format_rate"]["mean"] == 1.0
    for key in ("recall@1", "recall@3", "coverage@3", "top1", "distinct@3"):
        assert model[key]["mean"] == pytest.approx(oracle[key]["mean"]), key
    for key in ("set_brier", "ece", "auroc"):  # confidences are rendered with two decimals
        assert model[key]["mean"] == pytest.approx(oracle[key]["mean"], abs=0.01), key
    assert model["oracle_gap"]["mean"] < 0.005
