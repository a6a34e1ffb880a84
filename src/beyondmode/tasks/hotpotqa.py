"""`hotpotqa`: HotpotQA questions, simplified (question/answer) or distractor format (with contexts).

One raw row of the simplified format (hotpot_dev_v1_simplified.json):

    {"question": "Were Scott Derrickson and Ed Wood of the same nationality?", "answer": "yes",
     "type": "comparison"}

and of the official distractor format:

    {"_id": "5a8b57f25542995d1e6f1371", "question": "...", "answer": "yes", "type": "comparison",
     "level": "hard",
     "supporting_facts": [["Scott Derrickson", 0], ["Ed Wood", 0]],
     "context": [["Scott Derrickson", ["Scott Derrickson (born July 16, 1966) is an American ...", ...]],
                 ["Ed Wood", [...]], ...]}

With contexts, the paragraphs go into the prompt. `modified=True` (HotpotQA-Modified) removes 0, 1 or 2 of
the supporting paragraphs per example (uniformly, seeded per example by `seed` and its position), so that
some questions lose the evidence they need and several answers become plausible; the removed titles are
in `metadata["removed_titles"]`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.rows import RowError, SkipCounter, load_json_list
from beyondmode.types import Example

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HotpotItem:
    id: str
    question: str
    answer: str
    kind: str | None
    level: str | None
    context: tuple[tuple[str, tuple[str, ...]], ...] | None
    supporting_facts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class HotpotQATask:
    """Options: `path`, `contexts` (put the paragraphs in the prompt when the file has them), `modified`
    (remove 0-`max_removed` supporting paragraphs), `max_removed`, `seed`, `limit`, `skip_bad_rows`."""

    path: str
    contexts: bool = True
    modified: bool = False
    max_removed: int = 2
    seed: int = 0
    limit: int | None = None
    skip_bad_rows: bool = False

    name: ClassVar[str] = "hotpotqa"
    grader: ClassVar[str] = "exact_match"
    multi_gold: ClassVar[bool] = False
    task_sentence: ClassVar[str] = (
        "Answer the question with a short answer (a name, a date, a number, yes or no)."
    )

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        path = Path(self.path)
        system = answer_format.instructions(self.task_sentence)
        skipped = SkipCounter(path, self.skip_bad_rows)
        produced = 0
        for number, raw in enumerate(load_json_list(path), start=1):
            if self.limit is not None and produced >= self.limit:
                break
            try:
                item = parse_item(path, number, raw)
            except RowError as error:
                skipped.skip(error)
                continue
            produced += 1
            yield self._example(path, number, item, system)
        skipped.report()

    def _example(self, path: Path, number: int, item: HotpotItem, system: str) -> Example:
        metadata: dict[str, Any] = {
            "type": item.kind,
            "level": item.level,
            "supporting_facts": [list(f) for f in item.supporting_facts],
        }
        context = item.context
        if self.modified:
            if context is None:
                raise RowError(
                    path, number, "context", "modified=True needs the distractor format with contexts"
                )
            context, removed = remove_supporting(
                context, item.supporting_facts, self._rng(number), self.max_removed
            )
            metadata.update(removed_titles=removed, num_removed=len(removed))
        user = f"Question: {item.question}"
        if self.contexts and context is not None:
            paragraphs = "\n\n".join(f"[{title}] {' '.join(sentences)}" for title, sentences in context)
            user = f"Context:\n{paragraphs}\n\n{user}"
        return Example(
            id=f"hotpotqa-{item.id}",
            prompt=build_prompt(system, user),
            gold=((item.answer,),),
            grader=self.grader,
            metadata=metadata,
        )

    def _rng(self, number: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, number])


def remove_supporting(
    context: tuple[tuple[str, tuple[str, ...]], ...],
    supporting_facts: tuple[tuple[str, int], ...],
    rng: np.random.Generator,
    max_removed: int = 2,
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], list[str]]:
    """Drop r ~ U{0..max_removed} (capped by how many there are) supporting paragraphs, chosen at random."""
    titles = list(dict.fromkeys(t for t, _ in supporting_facts if any(t == c for c, _ in context)))
    count = int(rng.integers(0, max_removed + 1))
    removed = [
        titles[i] for i in sorted(rng.choice(len(titles), size=min(count, len(titles)), replace=False))
    ]
    kept = tuple(p for p in context if p[0] not in removed)
    return kept, removed


def parse_item(path: Path, number: int, raw: Any) -> HotpotItem:
    """Validate one row of either format."""
    if not isinstance(raw, dict):
        raise RowError(path, number, "*", f"expected an object, got {type(raw).__name__}")
    for field in ("question", "answer"):
        if not isinstance(raw.get(field), str) or not raw[field].strip():
            raise RowError(path, number, field, f"must be a non-empty string, got {raw.get(field)!r}")
    context = None
    if "context" in raw:
        context = _context(path, number, raw["context"])
    facts = raw.get("supporting_facts", [])
    if not isinstance(facts, list) or not all(
        isinstance(f, list) and len(f) == 2 and isinstance(f[0], str) and isinstance(f[1], int) for f in facts
    ):
        raise RowError(path, number, "supporting_facts", "must be a list of [title, sentence index]")
    return HotpotItem(
        id=str(raw.get("_id", raw.get("id", number))),
        question=raw["question"],
        answer=raw["answer"],
        kind=raw.get("type"),
        level=raw.get("level"),
        context=context,
        supporting_facts=tuple((t, i) for t, i in facts),
    )


def _context(path: Path, number: int, context: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(context, list):
        raise RowError(path, number, "context", "must be a list of [title, sentences]")
    paragraphs = []
    for index, paragraph in enumerate(context):
        if (
            not isinstance(paragraph, list)
            or len(paragraph) != 2
            or not isinstance(paragraph[0], str)
            or not isinstance(paragraph[1], list)
            or not all(isinstance(s, str) for s in paragraph[1])
        ):
            raise RowError(path, number, f"context[{index}]", "must be [title, list of sentence strings]")
        paragraphs.append((paragraph[0], tuple(paragraph[1])))
    return tuple(paragraphs)
