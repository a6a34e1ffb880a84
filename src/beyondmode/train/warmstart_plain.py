"""Self-consistency for a pretrained model: ask the plain question, keep the model's own short answers.

A pretrained model does not write the multi-answer format yet (SmolLM2 writes prose), so it is sampled
with a plain prompt: `PLAIN_INSTRUCTION` as the system message, three general-knowledge question/answer
turns (`SHORT_ANSWER_SHOTS`, unrelated to any task, only to show what "a short answer" looks like; a
135M model answered with whole sentences without them), then the task's own user message (the
question, the findings) unchanged. Each sample is reduced to a short answer (`short_answer`), the answers
are grouped by the task's grader (`answer_counts` of `warmstart`), and the K most frequent become the SFT
target, sorted by frequency, the frequencies as confidences. Nothing from the answer key enters a target.

Fewer than K distinct answers among the samples (`warmstart.fill`):
- `drop` (default): the example is left out of the SFT data (its count is logged and recorded).
- `pad`: the missing slots are filled with answers the model gave to OTHER training prompts, at
  confidence 0 (the model never said them for this question, so 0 is the honest frequency).

>>> short_answer("The answer is **Paris**, the capital of France.")
'Paris'
>>> short_answer("I think it was George Washington.\\nHe was the first president.")
'George Washington'
>>> short_answer("") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from beyondmode.types import Example

PLAIN_INSTRUCTION = "Reply with the answer only, in a few words."
"""The system message of the sampling prompt (replaces the format instructions)."""
SHORT_ANSWER_SHOTS: tuple[dict[str, str], ...] = (
    {"role": "user", "content": "Question: What is the capital of France?"},
    {"role": "assistant", "content": "Paris"},
    {"role": "user", "content": "Question: Who wrote the novel 1984?"},
    {"role": "assistant", "content": "George Orwell"},
    {"role": "user", "content": "Question: When did World War II end?"},
    {"role": "assistant", "content": "1945"},
)
"""Demonstrations of the answer's shape (general knowledge, never a task's data)."""
PLAIN_THINK = "List the most likely answers."
"""The think text of a pretrained model's targets (`think_for`)."""
FILL_RULES = ("drop", "pad")

_PREFIXES = re.compile(
    r"^(?:(?:the\s+)?(?:short\s+|final\s+)?answer\s*(?:is|:)\s*|a:\s*|i\s+think\s+(?:it\s+(?:is|was)\s+)?|"
    r"it\s+(?:is|was)\s+|they\s+(?:are|were)\s+)",
    re.IGNORECASE,
)
_MARKUP = re.compile(r"[*_`\"“”]+")


def plain_messages(example: Example, task_sentence: str | None = None) -> tuple[dict[str, str], ...]:
    """The sampling prompt: `PLAIN_INSTRUCTION` (after `task_sentence` when given: a task that lists its
    possible answers keeps its list), the shots, then the example's own non-system messages.

    >>> from beyondmode.tasks.base import build_prompt
    >>> example = Example("e", build_prompt("FORMAT RULES", "Question: who?"), (("x",),))
    >>> plain_messages(example)[-1]
    {'role': 'user', 'content': 'Question: who?'}
    >>> plain_messages(example, "Possible answers: a, b.")[0]["content"]
    'Possible answers: a, b. Reply with the answer only, in a few words.'
    """
    kept = tuple(dict(m) for m in example.prompt if m.get("role") != "system")
    system = f"{task_sentence} {PLAIN_INSTRUCTION}" if task_sentence else PLAIN_INSTRUCTION
    return ({"role": "system", "content": system}, *SHORT_ANSWER_SHOTS, *kept)


def short_answer(text: str, max_words: int = 8) -> str | None:
    """The short answer in a free-text reply: its first line and first clause, without a leading
    "The answer is", markup, quotes or final punctuation; None when empty or longer than `max_words`."""
    line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
    line = _MARKUP.sub("", line)
    for _ in range(2):
        line = _PREFIXES.sub("", line.strip())
    line = re.split(r"(?<=\w)[.,;!?](?:\s|$)|\s[-–—(]\s?", line, maxsplit=1)[0]
    line = line.strip(" .,:;!?'()[]")
    if not line or len(line.split()) > max_words:
        return None
    return line


def model_answer_pool(counts_per_example: Sequence[Mapping[str, int]]) -> list[str]:
    """Every answer the model gave to any prompt, most frequent first (the `pad` fillers)."""
    totals: dict[str, int] = {}
    for counts in counts_per_example:
        for answer, count in counts.items():
            totals[answer] = totals.get(answer, 0) + count
    return [answer for answer, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]


def fill_check(fill: str) -> None:
    if fill not in FILL_RULES:
        raise ValueError(f"warmstart.fill is {fill!r}; choose one of {list(FILL_RULES)}")


def think_for(example: Example) -> str:
    """The think text of a pretrained model's target: `PLAIN_THINK`. It does not restate the findings:
    they are in the prompt already, and DDXPlus's are release codes (`douleurxx_carac=sensible`) that
    took SmolLM2 60-100 of its 96 new tokens to copy, so the answers were cut off."""
    return PLAIN_THINK
