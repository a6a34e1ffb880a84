"""Training data: a task's examples as an HF `Dataset` whose columns reach TRL's reward kwargs.

Columns: `prompt` (chat messages, or one plain string for a tokenizer without a chat template, see
`beyondmode.models.tiny.plain_prompt`), `id`, `gold` (one list of aliases per gold element) and
`posterior` (`beyondmode.posterior.encode_posterior`: a JSON string of {answer, probability, aliases}
records, empty when the task has no exact posterior: Arrow cannot hold a mapping whose keys change from
row to row).

>>> from beyondmode.tasks.base import build_prompt
>>> from beyondmode.types import Example
>>> from beyondmode.posterior import decode_posterior
>>> row = example_row(Example("e1", build_prompt("sys", "fever"), (("flu",),), posterior={"flu": 1.0}))
>>> row["gold"], decode_posterior(row["posterior"])
([['flu']], Posterior({'flu': 1.0}, aliases={}))
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from typing import Any

from beyondmode.config import TaskConfig
from beyondmode.formats import AnswerFormat
from beyondmode.posterior import encode_posterior
from beyondmode.tasks import registry
from beyondmode.tasks.base import Task
from beyondmode.types import Example

logger = logging.getLogger(__name__)


def resolve_task(config: TaskConfig) -> Task:
    """The task named in the config: a registry name or `package.module:factory` (a task of your own)."""
    return registry.resolve_task(config.name, config.options)


def take_examples(task: Task, answer_format: AnswerFormat, max_examples: int | None) -> list[Example]:
    """The first `max_examples` examples of `task` (all of them when None)."""
    examples = list(itertools.islice(task.examples(answer_format), max_examples))
    if not examples:
        raise ValueError(f"task {task.name!r} produced no examples")
    return examples


def example_row(example: Example, tokenizer: Any | None = None) -> dict[str, Any]:
    """One dataset row; `tokenizer` without a chat template turns the prompt into a plain string."""
    prompt: Any = [dict(message) for message in example.prompt]
    if tokenizer is not None and not getattr(tokenizer, "chat_template", None):
        from beyondmode.models.tiny import plain_prompt

        prompt = plain_prompt(example.prompt, tokenizer)
    return {
        "prompt": prompt,
        "id": example.id,
        "gold": [list(aliases) for aliases in example.gold],
        "posterior": encode_posterior(example.posterior),
    }


def build_dataset(examples: Iterable[Example], tokenizer: Any | None = None) -> Any:
    """An HF `datasets.Dataset` of `example_row`s."""
    from datasets import Dataset

    return Dataset.from_list([example_row(example, tokenizer) for example in examples])
