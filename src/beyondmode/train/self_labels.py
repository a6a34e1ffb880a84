"""Self-labelled prompts for GRPO (`method.self_labelled_prompts`).

The self-consistency warm start can learn from prompts nobody labelled (`warmstart.unlabelled`): its
base answers them. GRPO, though, learns from the labelled training prompts only, and on held-out
prompts unlike those it lowered the "up to K" model's coverage in every run measured
(docs/rewards.md). `method.self_labelled_prompts = N` adds the first N of the warm start's unlabelled
prompts to GRPO's training set, each with one pseudo-label: an answer drawn from the base's shares of
answers on that prompt, as recorded in the warm start's `samples.jsonl`. No gold answer and no posterior
enter; the label is what a user's own base model says, as in test-time RL's majority-vote labels, but
drawn rather than the mode, so that the expected reward of a list is the base's probability that it
holds the answer (the plug-in sets stay the optimum of the "up to K" reward under it).

The draw is seeded by the run's seed and the prompt's id, so it does not depend on N or on the order.

>>> draw_label({"flu": 0.75, "cold": 0.25}, seed=0, example_id="unlabelled-7") in ("flu", "cold")
True
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from beyondmode.config import RunConfig
from beyondmode.formats import AnswerFormat
from beyondmode.train.unlabelled_prompts import unlabelled_examples
from beyondmode.train.warmstart_data import SAMPLES_FILE
from beyondmode.types import Example

logger = logging.getLogger(__name__)


def draw_label(counts: Mapping[str, float], seed: int, example_id: str) -> str:
    """One answer drawn with probability proportional to its count (or share) in `counts`.

    >>> draw_label({"flu": 1.0}, seed=3, example_id="x")
    'flu'
    """
    answers = sorted(answer for answer, count in counts.items() if count > 0)
    if not answers:
        raise ValueError(f"example {example_id!r}: the base gave no answer to draw a label from")
    rng = random.Random(f"{seed}:{example_id}")
    return rng.choices(answers, weights=[counts[answer] for answer in answers])[0]


def samples_folder(config: RunConfig) -> Path:
    """Where the warm start's `samples.jsonl` lies: the warm start it reused the samples of, else its own
    folder."""
    warm = config.warmstart
    return Path(warm.samples_from or warm.output_dir)


def read_counts(path: Path) -> dict[str, dict[str, float]]:
    """The base's answer counts (or exact shares) per example id of a warm start's `samples.jsonl`
    (a header row, then one `{"id", "counts"}` row per prompt)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"method.self_labelled_prompts: {path} not found (the self-consistency warm start writes it "
            "beside its model; run the warm start first)"
        )
    lines = path.read_text(encoding="utf-8").splitlines()
    return {row["id"]: row["counts"] for row in map(json.loads, lines[1:])}


def self_labelled_examples(config: RunConfig, answer_format: AnswerFormat) -> list[Example]:
    """The first `method.self_labelled_prompts` unlabelled prompts of the warm start, each with a
    pseudo-label drawn from its base's answers (none when the setting is 0). Prompts the base gave no
    answer to are skipped (logged)."""
    wanted = config.method.self_labelled_prompts
    if wanted < 0:
        raise ValueError(f"method.self_labelled_prompts must be >= 0, got {wanted}")
    if wanted == 0:
        return []
    warm = config.warmstart
    if warm.unlabelled is None or warm.confidence != "self_consistency":
        raise ValueError(
            "method.self_labelled_prompts labels the self-consistency warm start's unlabelled prompts: "
            "set warmstart.unlabelled (and warmstart.confidence self_consistency), or set it to 0"
        )
    prompts = unlabelled_examples(warm.unlabelled, warm.unlabelled_skip, answer_format)
    if wanted > len(prompts):
        raise ValueError(
            f"method.self_labelled_prompts={wanted}, but warmstart.unlabelled gives {len(prompts)} prompts"
        )
    path = samples_folder(config) / SAMPLES_FILE
    counts = read_counts(path)
    labelled: list[Example] = []
    unanswered = 0
    for example in prompts[:wanted]:
        if example.id not in counts:
            raise ValueError(
                f"method.self_labelled_prompts: {path} has no answers for {example.id!r}; it was written "
                "for other unlabelled prompts (warmstart.unlabelled changed since the warm start ran)"
            )
        if not any(count > 0 for count in counts[example.id].values()):
            unanswered += 1
            continue
        label = draw_label(counts[example.id], config.seed, example.id)
        labelled.append(replace(example, gold=((label,),)))
    logger.info(
        "GRPO: %d self-labelled prompts (answers drawn from the base's, %s) join the labelled ones; %d "
        "the base did not answer are left out",
        len(labelled),
        path,
        unanswered,
    )
    return labelled
