"""The ddx_sim task: determinism, gold modes, prompts and metadata."""

from __future__ import annotations

import numpy as np
import pytest

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.ddx_sim_task import DdxSimTask

FORMAT = AnswerFormat(num_candidates=3)


def test_same_seed_same_examples_other_seed_other_examples() -> None:
    first = list(DdxSimTask(num_examples=30, seed=4).examples(FORMAT))
    again = list(DdxSimTask(num_examples=30, seed=4).examples(FORMAT))
    other = list(DdxSimTask(num_examples=30, seed=5).examples(FORMAT))
    assert first == again
    assert [e.metadata["findings"] for e in first] != [e.metadata["findings"] for e in other]


def test_examples_are_prefix_stable() -> None:
    short = list(DdxSimTask(num_examples=30, seed=2).examples(FORMAT))
    long = list(DdxSimTask(num_examples=1100, seed=2).examples(FORMAT))
    assert long[:30] == short


def test_example_shape() -> None:
    example = next(iter(DdxSimTask(num_examples=1).examples(FORMAT)))
    system, user = example.prompt
    assert system == {"role": "system", "content": FORMAT.instructions(DdxSimTask().task_sentence)}
    assert user["role"] == "user" and user["content"].startswith("Findings:")
    for text in example.metadata["finding_texts"]:
        assert f"- {text}" in user["content"]
    assert example.gold[0][0] == example.metadata["pathology"]
    assert abs(sum(example.posterior.values()) - 1) < 1e-9
    assert list(example.posterior.values()) == sorted(example.posterior.values(), reverse=True)


def test_num_findings_range_is_respected() -> None:
    examples = list(DdxSimTask(num_examples=300, num_findings="2-3").examples(FORMAT))
    sizes = {e.metadata["num_findings"] for e in examples}
    assert sizes <= {0, 1, 2, 3} and {2, 3} <= sizes


def test_all_findings_gives_confident_posteriors() -> None:
    few = list(DdxSimTask(num_examples=300, num_findings="1").examples(FORMAT))
    every = list(DdxSimTask(num_examples=300, num_findings="all").examples(FORMAT))

    def top(examples: list) -> float:
        return float(np.mean([max(e.posterior.values()) for e in examples]))

    def hit(examples: list) -> float:
        return float(
            np.mean([max(e.posterior, key=e.posterior.get) == e.metadata["pathology"] for e in examples])
        )

    assert top(few) < 0.6 < 0.85 < top(every)
    assert hit(every) > 0.85


@pytest.mark.parametrize("threshold", [0.05, 0.2, 0.9])
def test_differential_gold_is_the_posterior_above_threshold(threshold: float) -> None:
    task = DdxSimTask(num_examples=50, gold="differential", differential_threshold=threshold)
    assert task.multi_gold
    for example in task.examples(FORMAT):
        names = [name for name, p in example.posterior.items() if p >= threshold] or [
            next(iter(example.posterior))
        ]
        assert list(example.gold_names) == names
        assert example.metadata["differential"] == names


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gold": "all"}, "gold"),
        ({"num_findings": "0"}, "num_findings"),
        ({"differential_threshold": 0}, "differential_threshold"),
    ],
)
def test_bad_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DdxSimTask(**options)


def test_ddxplus_release_as_knowledge_base(fixtures) -> None:
    task = DdxSimTask(
        num_examples=20, kb=str(fixtures / "ddxplus"), ddxplus_stats=str(fixtures / "ddxplus" / "stats.json")
    )
    examples = list(task.examples(FORMAT))
    assert {e.gold_names[0] for e in examples} <= {"Bronchitis", "Pneumonia", "GERD"}
    with pytest.raises(ValueError, match="ddxplus_stats"):
        list(DdxSimTask(num_examples=1, kb=str(fixtures / "ddxplus")).examples(FORMAT))


@pytest.mark.slow
def test_real_ddxplus_knowledge_base_as_simulator(shared_data) -> None:
    directory = shared_data / "ddxplus"
    task = DdxSimTask(
        num_examples=30, kb=str(directory), ddxplus_stats=str(directory / "ddxplus_bed_stats_4.json")
    )
    examples = list(task.examples(FORMAT))
    assert len(examples) == 30 and len(examples[0].posterior) == 49
    assert all(abs(sum(e.posterior.values()) - 1) < 1e-9 for e in examples)
    assert all(1 <= e.metadata["num_findings"] <= 3 for e in examples)
