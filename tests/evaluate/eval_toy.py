"""A toy task (three questions with known gold and, for some, an exact posterior) and a fake backend."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from beyondmode.evaluate.backends.base import Generation, Messages, check_request
from beyondmode.evaluate.backends.scripted import whitespace_tokens
from beyondmode.formats import AnswerFormat
from beyondmode.tasks.base import build_prompt
from beyondmode.types import Example, as_gold


@dataclass(frozen=True)
class ToyItem:
    id: str
    question: str
    gold: tuple
    posterior: Mapping[str, float] | None = None


TOY_ITEMS = (
    ToyItem("e1", "Which pet meows?", ("cat",), {"cat": 0.6, "dog": 0.3, "cow": 0.1}),
    ToyItem("e2", "Name a canid.", (["dog", "puppy"], "fox")),
)


class ToyTask:
    """Examples whose prompt ends with the question (the fake backend keys on it)."""

    name = "toy"
    grader = "exact_match"
    task_sentence = "Name the animal."
    multi_gold = True

    def __init__(self, items: Sequence[ToyItem] = TOY_ITEMS) -> None:
        self.items = items

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        system = answer_format.instructions(self.task_sentence)
        for item in self.items:
            yield Example(
                item.id,
                build_prompt(system, item.question),
                as_gold(list(item.gold)),
                posterior=item.posterior,
            )


def toy_task() -> ToyTask:
    """Factory used by `beyondmode eval` configs in tests (`task: eval_toy:toy_task`)."""
    return ToyTask()


class FakeBackend:
    """Scripted completions keyed by (question, kind), kind in multi / sampled / greedy; sample j of a
    question is `script[question, kind][j]`, counted across calls (so resumed runs continue the script).
    Tokens are whitespace tokens; seconds are 0.001 per token."""

    name = "fake"

    def __init__(
        self, script: Mapping[tuple[str, str], Sequence[str]], fail_after: int | None = None
    ) -> None:
        self.script = script
        self.fail_after = fail_after
        self.calls = 0
        self.drawn: dict[tuple[str, str], int] = {}

    def generate(
        self, prompts: Sequence[Messages], n: int, temperature: float, max_new_tokens: int, seed: int
    ) -> list[list[Generation]]:
        check_request(prompts, n, temperature, max_new_tokens)
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("simulated crash")
        self.calls += 1
        results = []
        for prompt in prompts:
            question = prompt[-1]["content"].splitlines()[0]
            multi = "<answer1>" in prompt[0]["content"]
            kind = "multi" if multi else ("sampled" if temperature > 0 else "greedy")
            start = self.drawn.get((question, kind), 0)
            texts = self.script[question, kind][start : start + n]
            self.drawn[question, kind] = start + n
            results.append([Generation(t, whitespace_tokens(t), 0.001 * whitespace_tokens(t)) for t in texts])
        return results


def multi(*pairs: tuple[str, float]) -> str:
    return " ".join(
        f"<answer{i}> {text} </answer{i}> <confidence{i}> {q} </confidence{i}>"
        for i, (text, q) in enumerate(pairs, 1)
    )


def single(text: str, q: float) -> str:
    return f"<answer> {text} </answer> <confidence> {q} </confidence>"


SCRIPT = {
    ("Which pet meows?", "multi"): [multi(("dog", 0.5), ("cat", 0.4)), multi(("cat", 0.9), ("cow", 0.2))],
    ("Name a canid.", "multi"): [multi(("puppy", 0.7), ("wolf", 0.2)), multi(("fox", 0.6))],
    ("Which pet meows?", "sampled"): [single("cat", 0.8), single("dog", 0.3), single("cat", 0.7), "cat"],
    ("Name a canid.", "sampled"): [
        single("fox", 0.5),
        single("fox", 0.5),
        single("dog", 0.6),
        single("hen", 0.1),
    ],
    ("Which pet meows?", "greedy"): [single("cat", 0.6)],
    ("Name a canid.", "greedy"): [single("hen", 0.4)],
}
