"""A resumed evaluation draws exactly the samples of an uninterrupted one (seeds per example and sample)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from beyondmode.evaluate.backends.base import Generation, prompt_seeds
from beyondmode.evaluate.cache import GenerationCache
from beyondmode.evaluate.methods import build_methods
from beyondmode.evaluate.results import GENERATIONS_FILE
from beyondmode.evaluate.runner import method_examples, run_evaluation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.tasks.ddx_kb import embedded_kb
from beyondmode.tasks.ddx_sim_task import DdxSimTask

NAMES = embedded_kb().pathology_names
SETTINGS = EvalSettings(
    methods=("multi_answer", "best_of_k"),
    num_candidates=2,
    max_answers=4,
    recall_ks=(1, 4),
    bootstrap_resamples=20,
    batch_size=3,
)


class SeededBackend:
    """A sampler whose sample j of prompt i is a pure function of seeds[i] + j, as the protocol says."""

    name = "seeded"

    def __init__(self, fail_after_calls: int | None = None) -> None:
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    def generate(self, prompts, n, temperature, max_new_tokens, seed):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        result = []
        for prompt_seed in prompt_seeds(seed, len(prompts)):
            samples = []
            for j in range(n):
                rng = random.Random(prompt_seed + j)
                a, b = rng.sample(NAMES, 2)
                text = f"<think> t </think> <answer1> {a} </answer1> <confidence1> {rng.randint(1, 9) / 10} </confidence1> <answer2> {b} </answer2> <confidence2> 0.1 </confidence2>"
                samples.append(Generation(text, len(text.split()), 0.0))
            result.append(samples)
        return result


def cached(run_dir: Path, task: DdxSimTask) -> dict:
    cache = GenerationCache(run_dir / GENERATIONS_FILE)
    methods = build_methods(SETTINGS)
    examples = method_examples(task, methods, SETTINGS.num_examples)
    return {
        (e.id, m.name, s): cache.get(e.id, m.name, s).text
        for m in methods
        for e in examples[m.name]
        for s in range(m.num_generations)
    }


def test_a_resumed_evaluation_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    task = DdxSimTask(num_examples=8, seed=5)
    straight = run_evaluation(task, SeededBackend(), SETTINGS, tmp_path / "straight", model="m")
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(task, SeededBackend(fail_after_calls=1), SETTINGS, tmp_path / "resumed", model="m")
    resumed = run_evaluation(task, SeededBackend(), SETTINGS, tmp_path / "resumed", model="m")
    assert cached(tmp_path / "resumed", task) == cached(tmp_path / "straight", task)
    for method in ("multi_answer", "best_of_k", "oracle"):
        assert resumed["methods"][method]["metrics"] == straight["methods"][method]["metrics"], method


def test_other_methods_and_examples_get_other_seeds() -> None:
    from beyondmode.evaluate.runner import sample_seed

    seeds = {sample_seed(0, m, e, 0) for m in ("a", "b") for e in ("x", "y")}
    assert len(seeds) == 4 and all(0 <= s < 2**31 - 2**20 for s in seeds)
    assert sample_seed(1, "a", "x", 0) != sample_seed(0, "a", "x", 0)
