"""Unlabelled prompts for the self-consistency warm start (`warmstart.unlabelled`).

The self-consistency warm start needs no label: its targets are the base model's own answers. So it can
learn from prompts that nobody labelled, such as the questions a user has but never annotated. Those
teach the K-candidate format the base's behaviour on prompts unlike the labelled ones, where the base
has to generalise (measured: the "up to K" warm start of `bench/bench_adaptive_k.py`, docs/rewards.md).

`warmstart.unlabelled` is a task config (`name`, `options`, `max_examples`) whose examples give only
their prompts: the gold answers, the posterior and every metadata field except the findings that the
warm start's think text restates (`KEPT_METADATA`) are dropped before the warm start sees them.
`warmstart.unlabelled_skip` skips the task's first n examples AND every later example with one of their
prompts: with the held-out task as `unlabelled` (a stream whose first `num_eval` examples are the
held-out set) the warm start then learns from the prompts that follow, none of them a held-out prompt.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from beyondmode.config import TaskConfig
from beyondmode.formats import AnswerFormat
from beyondmode.train.dataset import resolve_task
from beyondmode.types import Example

logger = logging.getLogger(__name__)

KEPT_METADATA = ("findings", "finding_texts")
"""What an unlabelled example keeps of its metadata: the prompt's own findings (the think text)."""

ID_PREFIX = "unlabelled-"

ITEM_SEPARATOR = re.compile(r" ; |\n")
"""What separates a prompt's items (findings, input/output examples) in the tasks' compact prompts."""


def prompt_key(example: Example) -> str:
    """The prompt as one string, up to the order of its items (parts separated by " ; " or a line
    break), to compare prompts across examples: two prompts that list the same findings or the same
    input/output examples in another order are one prompt, as code_sim's held-out rule has it.

    >>> a = Example("a", ({"role": "user", "content": "f ( 2 ) = 1 ; f ( 9 ) = 2"},), ())
    >>> b = Example("b", ({"role": "user", "content": "f ( 9 ) = 2 ; f ( 2 ) = 1"},), ())
    >>> prompt_key(a) == prompt_key(b)
    True
    """
    return json.dumps(
        [
            [message["role"], sorted(ITEM_SEPARATOR.split(str(message["content"])))]
            for message in example.prompt
        ]
    )


def without_labels(example: Example) -> Example:
    """`example` with nothing but its prompt and findings: no gold, posterior or other metadata.

    >>> e = Example("a", ({"role": "user", "content": "fever"},), (("flu",),), metadata={"pathology": "flu"})
    >>> bare = without_labels(e)
    >>> bare.id, bare.gold, bare.posterior, dict(bare.metadata)
    ('unlabelled-a', (), None, {})
    """
    metadata = {key: example.metadata[key] for key in KEPT_METADATA if key in example.metadata}
    return replace(example, id=ID_PREFIX + example.id, gold=(), posterior=None, metadata=metadata)


def unlabelled_examples(spec: TaskConfig | None, skip: int, answer_format: AnswerFormat) -> list[Example]:
    """The unlabelled examples of `spec` in `answer_format`: after the first `skip` examples, those whose
    prompt none of the skipped ones has, at most `spec.max_examples` of them, labels removed."""
    if spec is None:
        if skip:
            raise ValueError("warmstart.unlabelled_skip is set but warmstart.unlabelled names no task")
        return []
    if skip < 0:
        raise ValueError(f"warmstart.unlabelled_skip must be >= 0, got {skip}")
    task = resolve_task(spec)
    kept = list(_after_skipped(task.examples(answer_format), skip, spec.max_examples))
    if spec.max_examples is not None and len(kept) < spec.max_examples:
        logger.warning(
            "warmstart.unlabelled: task %r gave %d prompts after skipping %d, fewer than max_examples=%d "
            "(raise its num_examples option)",
            spec.name,
            len(kept),
            skip,
            spec.max_examples,
        )
    if not kept:
        raise ValueError(
            f"warmstart.unlabelled: task {spec.name!r} gave no prompt after skipping its first {skip} "
            "examples and their prompts (raise its num_examples option)"
        )
    return kept


def unlabelled_pair(
    spec: TaskConfig | None, skip: int, single: AnswerFormat, answer_format: AnswerFormat
) -> tuple[list[Example], list[Example]]:
    """The unlabelled examples in the single-answer format (what the base answers) and in the
    K-candidate one (what the SFT's targets are written for), the same cases in the same order."""
    singles = unlabelled_examples(spec, skip, single)
    multi = unlabelled_examples(spec, skip, answer_format)
    if [e.id for e in singles] != [e.id for e in multi]:
        raise ValueError(
            "warmstart.unlabelled: the task gave other examples in the single-answer format than in the "
            "K-candidate one; its examples must not depend on the format"
        )
    return singles, multi


def _after_skipped(examples: Iterator[Example], skip: int, limit: int | None) -> Iterator[Example]:
    skipped: set[str] = set()
    count = 0
    for index, example in enumerate(examples):
        key = prompt_key(example)
        if index < skip:
            skipped.add(key)
            continue
        if limit is not None and count == limit:
            return
        if key not in skipped:
            count += 1
            yield without_labels(example)


def describe(examples: list[Example]) -> dict[str, Any]:
    """The statistics a warm start records of its unlabelled prompts."""
    return {
        "unlabelled_examples": len(examples),
        "unlabelled_distinct_prompts": len({prompt_key(e) for e in examples}),
    }
