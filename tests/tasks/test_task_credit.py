"""Task-level check: each task's gold, rendered as the ideal response, gets full credit from the Scorer."""

from __future__ import annotations

from pathlib import Path

import pytest

from beyondmode.scoring import Scorer
from beyondmode.tasks.registry import get_task
from beyondmode.types import Candidate, Example

METHODS = ("rlvr", "rlcr", "multi_rlvr", "multi_rlcr")


def task_cases(fixtures: Path) -> list[tuple[str, dict]]:
    ddx = fixtures / "ddxplus"
    return [
        ("ddx_sim", {"num_examples": 20}),
        ("ddx_sim", {"num_examples": 20, "gold": "differential", "differential_threshold": 0.05}),
        ("ddxplus", {"path": str(ddx / "patients.fr.csv")}),
        ("ddxplus", {"path": str(ddx / "patients.en.csv"), "gold": "pathology"}),
        ("ddxplus", {"path": str(ddx / "hf_layout.jsonl")}),
        ("ambigqa", {"path": str(fixtures / "ambigqa" / "dev_light.json")}),
        ("ambigqa", {"path": str(fixtures / "ambigqa" / "dev_light.json"), "gold": "single"}),
        ("hotpotqa", {"path": str(fixtures / "hotpotqa" / "simplified.json")}),
        ("hotpotqa", {"path": str(fixtures / "hotpotqa" / "distractor.json"), "modified": True}),
    ]


def ideal_candidates(example: Example, k: int) -> list[Candidate]:
    """The first min(K, |gold|) gold elements with confidence 1, then distinct misses with confidence 0."""
    golds = [Candidate(name, 1.0) for name in example.gold_names[:k]]
    fillers = [Candidate(f"zzz unlikely answer {i}", 0.0) for i in range(k - len(golds))]
    return golds + fillers


@pytest.mark.parametrize("method", METHODS)
def test_gold_as_ideal_response_gets_full_credit(fixtures: Path, method: str) -> None:
    for name, options in task_cases(fixtures):
        task = get_task(name, **options)
        scorer = Scorer.for_method(method, 3, multi_gold=task.multi_gold, grader=task.grader)
        spec = scorer.spec
        best = spec.format_weight + spec.accuracy_weight + spec.brier_weight + spec.top1_weight
        for example in task.examples(scorer.answer_format):
            k = scorer.answer_format.num_candidates
            completion = scorer.answer_format.render(ideal_candidates(example, k), think="restating the case")
            scored = scorer.score(completion, example.gold, example.posterior)
            assert scored.breakdown.total == pytest.approx(best), (
                name,
                options,
                example.id,
                scored.breakdown,
            )
