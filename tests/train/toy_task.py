"""A toy diagnosis task with an exact posterior, for the training tests (no dependency on `ddx_sim`).

Six diagnoses, six findings; each example reveals the yes/no status of `num_revealed` randomly chosen
findings (chosen independently of the diagnosis), so the posterior
P(d | revealed) ~ prior(d) * prod_f P(f = v | d) is exact.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from beyondmode.formats import AnswerFormat
from beyondmode.models.tiny import TinyModelSpec
from beyondmode.tasks.base import build_prompt
from beyondmode.types import Example

K = 2
"""Candidates of the multi-answer methods in the smoke tests (short completions, fast steps)."""
METHODS = ("rlvr", "rlcr", "multi_rlvr", "multi_rlcr")
SPEC = TinyModelSpec(
    hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, max_position_embeddings=128
)

DIAGNOSES = ("flu", "cold", "covid", "allergy", "asthma", "pneumonia")
PRIOR = (0.25, 0.25, 0.15, 0.15, 0.1, 0.1)
FINDINGS = ("fever", "cough", "sneeze", "wheeze", "fatigue", "rash")
LIKELIHOOD = {  # P(finding present | diagnosis), rows follow DIAGNOSES
    "fever": (0.9, 0.3, 0.8, 0.05, 0.1, 0.9),
    "cough": (0.7, 0.6, 0.8, 0.3, 0.7, 0.9),
    "sneeze": (0.3, 0.8, 0.2, 0.9, 0.1, 0.1),
    "wheeze": (0.1, 0.1, 0.2, 0.3, 0.9, 0.5),
    "fatigue": (0.8, 0.3, 0.7, 0.2, 0.3, 0.7),
    "rash": (0.05, 0.05, 0.1, 0.4, 0.05, 0.05),
}


@dataclass(frozen=True)
class ToyTask:
    num_examples: int = 64
    num_revealed: int = 2
    seed: int = 0
    name: str = "toy"
    grader: str = "exact_match"
    task_sentence: str = "Propose distinct diagnoses."
    multi_gold: bool = False
    short_prompt: bool = True

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        rng = random.Random(self.seed)
        system = answer_format.instructions(self.task_sentence)
        if self.short_prompt:  # a few tokens that name the format, so tiny models train fast
            k = answer_format.num_candidates
            system = f"k{k} {'confidence' if answer_format.with_confidence else 'plain'}"
        for index in range(self.num_examples):
            truth = rng.choices(range(len(DIAGNOSES)), weights=PRIOR)[0]
            shown = rng.sample(FINDINGS, self.num_revealed)
            present = {f: rng.random() < LIKELIHOOD[f][truth] for f in shown}
            findings = [f if present[f] else f"no_{f}" for f in shown]
            yield Example(
                id=f"toy-{index}",
                prompt=build_prompt(system, "Findings: " + " ".join(findings)),
                gold=((DIAGNOSES[truth],),),
                metadata={"findings": findings},
                posterior=posterior(present),
            )


def posterior(present: dict[str, bool]) -> dict[str, float]:
    weights = []
    for d, prior in enumerate(PRIOR):
        weight = prior
        for finding, value in present.items():
            p = LIKELIHOOD[finding][d]
            weight *= p if value else 1.0 - p
        weights.append(weight)
    total = sum(weights)
    return {name: w / total for name, w in zip(DIAGNOSES, weights, strict=True)}
