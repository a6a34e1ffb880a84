"""MBPP: write a Python function from a one-sentence description; graded by its unit tests.

Reads the full release (`mbpp.jsonl`, CRLF line endings) and the sanitized one (`sanitized-mbpp.json`).
A raw row of the full release:

    {"text": "Write a function to find the shared elements from the given two lists.",
     "code": "def similar_elements(test_tup1, test_tup2):\\r\\n  res = tuple(set(test_tup1) & ...",
     "task_id": 2, "test_setup_code": "", "challenge_test_list": [],
     "test_list": ["assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)", ...]}

The prompt gives the description, the function signature and the first test, as the published MBPP
prompts do ("You are an expert Python programmer, and here is your task: ... Your code should pass this
test: ..."). Gold is one element whose text is the whole test program (setup code, imports, every
assert); see `beyondmode.grading.code`. Conventional splits by task_id: prompt 1-10, test 11-510,
validation 511-600, train 601-974.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from beyondmode.formats import AnswerFormat
from beyondmode.grading.code import parse_quietly
from beyondmode.sandbox import expose_line, shadows_builtin
from beyondmode.tasks.base import build_prompt
from beyondmode.types import Example

SPLITS: dict[str, range] = {
    "prompt": range(1, 11),
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 975),
    "all": range(1, 975),
}
CODE_TASK_SENTENCE = (
    "Write distinct Python programs that solve the problem. Each answer is a complete, self-contained "
    "program (imports included) that defines the requested function; a ```python code block inside the "
    "answer tags is fine."
)


@dataclass(frozen=True, slots=True)
class MbppProblem:
    """One MBPP row with line endings normalized. `tests` are the asserts; `setup` runs before them."""

    task_id: int
    text: str
    code: str
    tests: tuple[str, ...]
    setup: str = ""
    challenge_tests: tuple[str, ...] = ()

    @property
    def entry_point(self) -> str | None:
        """The function the first test calls (None when it cannot be found in the reference code)."""
        return _entry_point(self.code, self.tests[0]) if self.tests else None

    def test_program(self, include_challenge_tests: bool = False) -> str:
        tests = self.tests + (self.challenge_tests if include_challenge_tests else ())
        name = self.entry_point
        pragma = expose_line([name]) if name and shadows_builtin(name) else ""
        return "\n".join(part for part in (pragma, self.setup, *tests) if part.strip()) + "\n"


def load_mbpp(path: str | Path) -> list[MbppProblem]:
    """Load `mbpp.jsonl` (full) or `sanitized-mbpp.json`; raises ValueError naming the bad row."""
    path = Path(path)
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a JSON list of MBPP rows")
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        rows = [_json_row(path, number, line) for number, line in enumerate(lines, 1) if line.strip()]
    return [_problem(path, number, row) for number, row in enumerate(rows, 1)]


def _json_row(path: Path, number: int, line: str) -> dict:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{number}: not valid JSON: {error}") from error


def _problem(path: Path, number: int, row: dict) -> MbppProblem:
    try:
        text = row["text"] if "text" in row else row["prompt"]
        imports = tuple(row.get("test_imports", ()))
        setup = "\n".join((*imports, _lf(row.get("test_setup_code", ""))))
        return MbppProblem(
            task_id=int(row["task_id"]),
            text=_lf(text).strip(),
            code=_lf(row["code"]),
            tests=tuple(_lf(test).strip() for test in row["test_list"]),
            setup=setup.strip(),
            challenge_tests=tuple(_lf(test).strip() for test in row.get("challenge_test_list", ())),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: row {number}: missing or bad field: {error!r}") from error


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _entry_point(code: str, test: str) -> str | None:
    try:
        defined = {node.name for node in ast.walk(parse_quietly(code)) if isinstance(node, ast.FunctionDef)}
        calls = [node for node in ast.walk(parse_quietly(test)) if isinstance(node, ast.Call)]
    except SyntaxError:
        return None
    for call in calls:
        if isinstance(call.func, ast.Name) and call.func.id in defined:
            return call.func.id
    return None


def signature(code: str, name: str) -> str | None:
    """The `def` line of function `name` in `code`.

    >>> signature("def add(a, b=1):\\n    return a + b", "add")
    'def add(a, b=1):'
    """
    try:
        tree = parse_quietly(code)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return f"def {name}({ast.unparse(node.args)}):"
    return None


class MbppTask:
    """MBPP examples for the K-program format, graded by the "code" grader.

    `path`: mbpp.jsonl or sanitized-mbpp.json; `split`: a key of `SPLITS` (ignored when `task_ids` is
    given); `limit`: keep the first N examples.
    """

    name = "mbpp"
    grader = "code"
    task_sentence = CODE_TASK_SENTENCE
    multi_gold = True  # several programs can be correct at once: no sum <= 1 gate on confidences

    def __init__(
        self,
        path: str | Path,
        *,
        split: str = "test",
        task_ids: range | tuple[int, ...] | None = None,
        limit: int | None = None,
        include_challenge_tests: bool = False,
    ) -> None:
        if task_ids is None and split not in SPLITS:
            raise ValueError(f"MBPP split must be one of {sorted(SPLITS)}, got {split!r}")
        self.path = Path(path)
        self.task_ids = frozenset(task_ids if task_ids is not None else SPLITS[split])
        self.limit = limit
        self.include_challenge_tests = include_challenge_tests

    def problems(self) -> list[MbppProblem]:
        selected = [p for p in load_mbpp(self.path) if p.task_id in self.task_ids]
        return selected[: self.limit] if self.limit is not None else selected

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        system = answer_format.instructions(self.task_sentence)
        for problem in self.problems():
            tests = problem.test_program(self.include_challenge_tests)
            yield Example(
                id=f"Mbpp/{problem.task_id}",
                prompt=build_prompt(system, user_prompt(problem)),
                gold=((tests,),),
                grader=self.grader,
                metadata={
                    "task_id": problem.task_id,
                    "entry_point": problem.entry_point,
                    "canonical_solution": problem.code,
                    "source": "mbpp",
                },
            )


def user_prompt(problem: MbppProblem) -> str:
    """The published MBPP prompt with one example test, plus the function signature."""
    parts = [f"You are an expert Python programmer, and here is your task: {problem.text}"]
    name = problem.entry_point
    line = signature(problem.code, name) if name else None
    if line:
        parts.append(f"The function signature is: {line}")
    if problem.tests:
        parts.append(f"Your code should pass this test:\n\n{problem.tests[0]}")
    return "\n".join(parts)
