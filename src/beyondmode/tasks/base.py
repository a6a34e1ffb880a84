"""The task protocol shared by every data set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from beyondmode.formats import AnswerFormat
from beyondmode.types import Example


@runtime_checkable
class Task(Protocol):
    """A source of examples.

    `name` is the task's registry name, `grader` the name of its grader (`beyondmode.grading`),
    `task_sentence` the domain sentence placed before the format instructions ("Propose distinct
    diagnoses."), `multi_gold` whether examples usually have several gold answers (this turns off the
    sum <= 1 gate by default). `examples` is deterministic for the task's seed.

    A task whose prompt lists its possible answers (DDXPlus's pathologies) may also have
    `answer_options`, that list (`task_answer_options`).
    """

    name: str
    grader: str
    task_sentence: str
    multi_gold: bool

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]: ...


def build_prompt(system: str, user: str) -> tuple[dict[str, str], ...]:
    """Chat messages in the shape TRL and chat templates expect."""
    return ({"role": "system", "content": system}, {"role": "user", "content": user})


def task_answer_options(task: Task) -> tuple[str, ...] | None:
    """The answers the task's prompt lists (its `answer_options`), or None when it lists none."""
    options = getattr(task, "answer_options", None)
    return tuple(options) if options else None
