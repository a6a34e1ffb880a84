"""Evaluation runs on ddx_sim with a scripted, calibrated model: the fixture of the conformal tests.

The multi-answer model draws K distinct diagnoses from the exact posterior (without replacement) and
states their posterior probabilities; the single-answer model samples one diagnosis from the posterior
per generation. Both are deterministic in (prompt, sample index).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from beyondmode.evaluate.backends.scripted import ScriptedBackend
from beyondmode.evaluate.methods import build_methods
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.tasks.registry import get_task
from beyondmode.types import Candidate


def calibrated_ddx_run(
    run_dir: Path,
    num_examples: int = 200,
    num_candidates: int = 3,
    num_generations: int = 4,
    methods: tuple[str, ...] = ("multi_answer", "best_of_k"),
) -> Path:
    task = get_task("ddx_sim", num_examples=num_examples, seed=5)
    settings = EvalSettings(
        methods=methods,
        num_candidates=num_candidates,
        max_answers=num_generations * num_candidates,
        recall_ks=(1, num_candidates),
        bootstrap_resamples=20,
        require_think=False,
    )
    both = EvalSettings(
        methods=("multi_answer", "best_of_k"), num_candidates=num_candidates, require_think=False
    )
    multi, single = (m.answer_format for m in build_methods(both))
    posteriors = {}
    for fmt in (multi, single):
        for example in task.examples(fmt):
            posteriors[_prompt_key(example.prompt)] = example.posterior

    def script(prompt, index: int) -> str:
        key = _prompt_key(prompt)
        names = sorted(posteriors[key])
        probabilities = np.array([posteriors[key][n] for n in names])
        rng = np.random.default_rng(int(hashlib.sha256(f"{key}{index}".encode()).hexdigest()[:8], 16))
        is_multi = "<answer1>" in prompt[0]["content"]
        size = num_candidates if is_multi else 1
        drawn = rng.choice(len(names), size=size, replace=False, p=probabilities / probabilities.sum())
        candidates = [Candidate(names[i], round(float(probabilities[i]), 2)) for i in drawn]
        return (multi if is_multi else single).render(candidates)

    run_evaluation(task, ScriptedBackend(script), settings, run_dir, model="calibrated")
    return run_dir


def _prompt_key(prompt) -> str:
    return hashlib.sha256(json.dumps([dict(m) for m in prompt], sort_keys=True).encode()).hexdigest()
