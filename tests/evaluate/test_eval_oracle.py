"""Candidate true probabilities and the oracle row: aliases count, and a multi-gold set uses membership."""

from __future__ import annotations

import json

import pytest

from beyondmode.evaluate.backends.base import Generation
from beyondmode.evaluate.backends.scripted import ScriptedBackend
from beyondmode.evaluate.methods import build_methods
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.scored import score_generation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.formats import AnswerFormat
from beyondmode.scoring import Scorer
from beyondmode.tasks.ddx_sim_task import DdxSimTask
from beyondmode.types import Candidate, Example


def test_alias_of_the_gold_answer_gets_its_true_probability() -> None:
    method = build_methods(EvalSettings(methods=("multi_answer",), num_candidates=2, require_think=False))[0]
    example = Example(
        "e1",
        ({"role": "user", "content": "?"},),
        (("influenza", "flu"),),
        posterior={"influenza": 0.7, "cold": 0.3},
    )
    text = "<answer1> flu </answer1> <confidence1> 0.6 </confidence1> <answer2> cold </answer2> <confidence2> 0.3 </confidence2>"
    scored = score_generation(method, example, 0, Generation(text, 10, 0.1))
    assert scored.hits == (1.0, 0.0)
    assert scored.true_probabilities == (0.7, 0.3)


def test_differential_expected_rewards_equal_label_rewards() -> None:
    fmt = AnswerFormat(num_candidates=3)
    examples = list(DdxSimTask(num_examples=40, seed=1, gold="differential").examples(fmt))
    assert any(len(e.gold) > 1 for e in examples)
    label = Scorer.for_method("multi_rlcr", 3, multi_gold=True)
    expected = Scorer.for_method("multi_rlcr", 3, multi_gold=True, mode="expected")
    for example in examples:
        names = [*example.gold_names, *(n for n in example.posterior if n not in example.gold_names)][:3]
        completion = fmt.render([Candidate(name, 0.5) for name in names], think="x")
        assert expected.score(completion, example.gold, example.posterior).breakdown.terms == (
            label.score(completion, example.gold, example.posterior).breakdown.terms
        ), example.id


def test_oracle_row_is_a_ceiling_on_a_differential(tmp_path) -> None:
    task = DdxSimTask(num_examples=40, seed=1, gold="differential")
    settings = EvalSettings(
        methods=("multi_answer",), num_candidates=3, max_answers=3, recall_ks=(1, 3), bootstrap_resamples=20
    )
    fmt = build_methods(settings)[0].answer_format
    by_prompt = {json.dumps([dict(m) for m in e.prompt], sort_keys=True): e for e in task.examples(fmt)}

    def knows_the_differential(prompt, index: int) -> str:
        """States 1 for the differential's first members and 0 for filler answers: the best possible set."""
        example = by_prompt[json.dumps([dict(m) for m in prompt], sort_keys=True)]
        members = list(example.gold_names)[:3]
        others = [n for n in example.metadata["truth_posterior"] if n not in members]
        answers = [Candidate(n, 1.0) for n in members] + [
            Candidate(n, 0.0) for n in others[: 3 - len(members)]
        ]
        return fmt.render(answers, think="x")

    summary = run_evaluation(task, ScriptedBackend(knows_the_differential), settings, tmp_path, model="m")
    model = summary["methods"]["multi_answer"]["metrics"]
    oracle = summary["methods"]["oracle"]["metrics"]
    assert model["set_brier"]["mean"] == pytest.approx(0.0)
    assert oracle["set_brier"]["mean"] <= model["set_brier"]["mean"] + 1e-12
    for key in ("recall@1", "recall@3", "coverage@3", "top1"):
        assert oracle[key]["mean"] >= model[key]["mean"] - 1e-12, key
    assert model["oracle_gap"]["mean"] == pytest.approx(0.0)
