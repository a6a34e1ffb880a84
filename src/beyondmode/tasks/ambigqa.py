"""`ambigqa`: AmbigNQ light JSON (a list of questions, each with one annotation per annotator).

One raw row of dev_light.json:

    {"annotations": [{"type": "singleAnswer", "answer": ["Tony Goldwyn", "Goldwyn"]}],
     "id": "-807825952267713091", "question": "Who plays the doctor in dexter season 1?"}

and an ambiguous one: {"type": "multipleQAs", "qaPairs": [{"question": "What physical issue caused ...?",
"answer": ["old stadium"]}, ...]}.

`gold="all"` (default): one gold element per interpretation (`qaPairs` item) and per `singleAnswer`
annotation, its answer list being the element's aliases; elements that share a normalised alias are
merged. `gold="single"`: ONE gold element whose aliases are the answers of the `singleAnswer`
annotations (any of
them is correct, as in NQ); a question that no annotator saw as having a single answer falls back to the
answers of all its interpretations (`metadata["gold_source"]` says which). The interpretations
are kept in `metadata["interpretations"]`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from beyondmode.formats import AnswerFormat
from beyondmode.grading.exact import normalize_answer
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.rows import RowError, SkipCounter, load_json_list
from beyondmode.types import Example

logger = logging.getLogger(__name__)

ANNOTATION_TYPES = ("singleAnswer", "multipleQAs")


@dataclass(frozen=True)
class AmbigQATask:
    """AmbigNQ questions; options `path`, `gold` ("all" or "single"), `limit`, `skip_bad_rows`."""

    path: str
    gold: str = "all"
    limit: int | None = None
    skip_bad_rows: bool = False

    name: ClassVar[str] = "ambigqa"
    grader: ClassVar[str] = "exact_match"
    task_sentence: ClassVar[str] = (
        "Answer the question. It may be ambiguous: give distinct short answers that cover its plausible "
        "interpretations."
    )

    def __post_init__(self) -> None:
        if self.gold not in ("all", "single"):
            raise ValueError(f"ambigqa option gold must be 'all' or 'single', got {self.gold!r}")

    @property
    def multi_gold(self) -> bool:
        return self.gold == "all"

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        path = Path(self.path)
        system = answer_format.instructions(self.task_sentence)
        skipped = SkipCounter(path, self.skip_bad_rows)
        produced = 0
        for number, row in enumerate(load_json_list(path), start=1):
            if self.limit is not None and produced >= self.limit:
                break
            try:
                example = self._example(path, number, row, system)
            except RowError as error:
                skipped.skip(error)
                continue
            produced += 1
            yield example
        skipped.report()

    def _example(self, path: Path, number: int, row: Any, system: str) -> Example:
        if not isinstance(row, dict):
            raise RowError(path, number, "*", f"expected an object, got {type(row).__name__}")
        for field in ("id", "question", "annotations"):
            if field not in row:
                raise RowError(path, number, field, "missing")
        single, interpretations = _annotations(path, number, row["annotations"])
        elements = single + [tuple(i["answers"]) for i in interpretations]
        source = "singleAnswer" if not interpretations else ("multipleQAs" if not single else "both")
        gold = merge_aliases(elements)
        if self.gold == "single":
            chosen = single or elements
            source = "singleAnswer" if single else "multipleQAs"
            gold = merge_aliases([tuple(a for element in chosen for a in element)])
        return Example(
            id=f"ambigqa-{row['id']}",
            prompt=build_prompt(system, f"Question: {row['question']}"),
            gold=gold,
            grader=self.grader,
            metadata={
                "question": row["question"],
                "interpretations": interpretations,
                "gold_source": source,
                "annotation_types": [a["type"] for a in row["annotations"]],
                "source_id": row["id"],
            },
        )


def _annotations(
    path: Path, number: int, annotations: Any
) -> tuple[list[tuple[str, ...]], list[dict[str, Any]]]:
    if not isinstance(annotations, list) or not annotations:
        raise RowError(path, number, "annotations", "must be a non-empty list")
    single: list[tuple[str, ...]] = []
    interpretations: list[dict[str, Any]] = []
    for position, annotation in enumerate(annotations):
        field = f"annotations[{position}]"
        kind = annotation.get("type") if isinstance(annotation, dict) else None
        if kind == "singleAnswer":
            single.append(_answers(path, number, f"{field}.answer", annotation.get("answer")))
        elif kind == "multipleQAs":
            pairs = annotation.get("qaPairs")
            if not isinstance(pairs, list) or not pairs:
                raise RowError(path, number, f"{field}.qaPairs", "must be a non-empty list")
            for index, pair in enumerate(pairs):
                where = f"{field}.qaPairs[{index}]"
                if not isinstance(pair, dict) or "question" not in pair:
                    raise RowError(path, number, where, "must be an object with 'question' and 'answer'")
                answers = _answers(path, number, f"{where}.answer", pair.get("answer"))
                interpretations.append({"question": pair["question"], "answers": list(answers)})
        else:
            raise RowError(path, number, f"{field}.type", f"must be one of {ANNOTATION_TYPES}, got {kind!r}")
    return single, interpretations


def _answers(path: Path, number: int, field: str, answers: Any) -> tuple[str, ...]:
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        raise RowError(path, number, field, f"must be a non-empty list of strings, got {answers!r}")
    kept = tuple(a for a in answers if normalize_answer(a))
    if not kept:
        raise RowError(path, number, field, f"every answer is empty after normalisation: {answers!r}")
    return kept


def merge_aliases(elements: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Merge alias lists that share a normalised alias (first-seen order kept).

    >>> merge_aliases([("Goldwyn", "Tony Goldwyn"), ("tony goldwyn",), ("Paris",)])
    (('Goldwyn', 'Tony Goldwyn'), ('Paris',))
    """
    merged: list[list[str]] = []
    keys: list[set[str]] = []
    for element in elements:
        element_keys = {normalize_answer(a) for a in element}
        hits = [i for i, k in enumerate(keys) if k & element_keys]
        if not hits:
            merged.append([])
            keys.append(set())
            hits = [len(merged) - 1]
        target = hits[0]
        for other in reversed(hits[1:]):
            merged[target].extend(merged.pop(other))
            keys[target] |= keys.pop(other)
        for alias in element:
            key = normalize_answer(alias)
            if key not in {normalize_answer(a) for a in merged[target]}:
                merged[target].append(alias)
        keys[target] |= element_keys
    return tuple(tuple(m) for m in merged)
