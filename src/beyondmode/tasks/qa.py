"""`qa`: any question-answer file of your own: JSONL, JSON, parquet, CSV or an HF `datasets` folder.

One raw row (JSONL; the answer a string, a list of answers, or a list of alias lists):

    {"id": "q7", "question": "Which rivers flow through Paris?", "answer": [["Seine", "La Seine"], ["Bievre"]]}

Files: `.jsonl` (one object a line), `.json` (a list of objects, or `{"data": [...]}`), `.parquet`,
`.csv` (header row; an answer cell holding a JSON list such as `["Seine", "Bievre"]` is read as a list,
or split on `answer_delimiter`), or a folder written by `datasets.Dataset.save_to_disk` (read with
`load_from_disk`; a `DatasetDict` needs `dataset_split` unless it has one split).

Gold: each answer of a row, with its aliases (an inner list, or the `aliases_column`), is one gold
element when `multi_gold` is true (the model should cover them all: coverage counts them); with
`multi_gold` false (default) the row has ONE gold element whose aliases are all its answers (any of them
is correct, as in NQ/TriviaQA). Elements sharing a normalised alias are merged.

Split: `split: train|test` keeps the rows whose seeded hash of the normalised question falls outside /
inside `test_fraction`; the two splits are disjoint, deterministic for `seed`, independent of row order
and file format, and a question repeated in the file always lands on the same side.

>>> split_of("Who wrote Hamlet?", seed=0, test_fraction=0.2) in ("train", "test")
True
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from beyondmode.formats import AnswerFormat
from beyondmode.grading.exact import normalize_answer
from beyondmode.tasks.ambigqa import merge_aliases
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.rows import RowError, SkipCounter, read_table
from beyondmode.types import Example

logger = logging.getLogger(__name__)

SPLITS = ("all", "train", "test")
DEFAULT_SENTENCE = "Answer the question with a short answer (a name, a date, a number, yes or no)."


class UnmatchableRow(RowError):
    """A row whose every answer normalises to the empty string ("The The"): no candidate can ever hit it,
    so it is left out of the examples (counted, and logged in one warning) whatever `skip_bad_rows` says."""


@dataclass(frozen=True)
class QATask:
    """Options: `path`, `question_column` ("question"), `answer_column` ("answer"), `aliases_column`
    (None), `id_column` (None: the row number), `task_sentence` (the domain sentence before the format
    instructions), `multi_gold` (False), `answer_delimiter` (None; splits string answers), `split`
    ("all" | "train" | "test"), `test_fraction` (0.1), `seed` (0), `dataset_split` (for a saved
    `DatasetDict`), `limit`, `skip_bad_rows`."""

    path: str
    question_column: str = "question"
    answer_column: str = "answer"
    aliases_column: str | None = None
    id_column: str | None = None
    task_sentence: str = DEFAULT_SENTENCE
    multi_gold: bool = False
    answer_delimiter: str | None = None
    split: str = "all"
    test_fraction: float = 0.1
    seed: int = 0
    dataset_split: str | None = None
    limit: int | None = None
    skip_bad_rows: bool = False

    name: ClassVar[str] = "qa"
    grader: ClassVar[str] = "exact_match"

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"qa option split must be one of {list(SPLITS)}, got {self.split!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"qa option test_fraction must be in (0, 1), got {self.test_fraction!r}")
        if not isinstance(self.task_sentence, str) or not self.task_sentence.strip():
            raise ValueError("qa option task_sentence must be a non-empty sentence")
        if self.answer_delimiter == "":
            raise ValueError("qa option answer_delimiter must be a non-empty string or null")

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        path = Path(self.path)
        system = answer_format.instructions(self.task_sentence)
        skipped = SkipCounter(path, self.skip_bad_rows)
        unmatchable: list[UnmatchableRow] = []
        produced = 0
        for number, row in read_rows(path, self.dataset_split, skip_bad_rows=self.skip_bad_rows):
            if self.limit is not None and produced >= self.limit:
                break
            try:
                question, gold, source_id = self._parse(path, number, row)
            except UnmatchableRow as error:
                unmatchable.append(error)
                continue
            except RowError as error:
                skipped.skip(error)
                continue
            side = split_of(question, self.seed, self.test_fraction)
            if self.split != "all" and side != self.split:
                continue
            produced += 1
            yield Example(
                id=f"qa-{source_id}",
                prompt=build_prompt(system, f"Question: {question}"),
                gold=gold,
                grader=self.grader,
                metadata={"question": question, "row": number, "split": side, "source_id": source_id},
            )
        skipped.report()
        if unmatchable:
            logger.warning(
                "left out %d row(s) whose answers exact match can never hit; first: %s",
                len(unmatchable),
                unmatchable[0],
            )
        if produced == 0:
            logger.warning("%s: no examples (split=%s, limit=%s)", path, self.split, self.limit)

    def _parse(self, path: Path, number: int, row: Any) -> tuple[str, tuple[tuple[str, ...], ...], str]:
        if not isinstance(row, dict):
            raise RowError(path, number, "*", f"expected an object, got {type(row).__name__}")
        for column in (self.question_column, self.answer_column, self.aliases_column, self.id_column):
            if column is not None and column not in row:
                raise RowError(path, number, column, f"missing column (row has {sorted(row)})")
        question = row[self.question_column]
        if not isinstance(question, str) or not question.strip():
            raise RowError(
                path, number, self.question_column, f"must be a non-empty string, got {question!r}"
            )
        elements = self._elements(path, number, row)
        if self.multi_gold:
            gold = merge_aliases(elements)
        else:
            gold = merge_aliases([tuple(alias for element in elements for alias in element)])
        source_id = str(row[self.id_column]) if self.id_column is not None else str(number)
        return question.strip(), gold, source_id

    def _elements(self, path: Path, number: int, row: dict[str, Any]) -> list[tuple[str, ...]]:
        """One alias tuple per answer of the row, aliases column included."""
        column = self.answer_column
        answers = self._cell(path, number, column, row[column])
        if not isinstance(answers, list):
            answers = [answers]
        if not answers:
            raise RowError(path, number, column, "no answers (empty list)")
        elements = [_aliases(path, number, f"{column}[{i}]", a) for i, a in enumerate(answers)]
        if self.aliases_column is not None:
            extra = self._cell(path, number, self.aliases_column, row[self.aliases_column])
            elements = _with_aliases(path, number, self.aliases_column, elements, extra)
        if not any(alias for element in elements for alias in element):
            raise RowError(path, number, column, f"every answer is empty: {answers!r}")
        kept = [tuple(a for a in element if normalize_answer(a)) for element in elements]
        kept = [element for element in kept if element]
        if not kept:
            raise UnmatchableRow(
                path, number, column, f"every answer normalises to nothing (articles only?): {answers!r}"
            )
        return kept

    def _cell(self, path: Path, number: int, column: str, value: Any) -> Any:
        """A cell as Python data: JSON-list strings (CSV) decoded, delimited strings split."""
        if hasattr(value, "tolist"):  # numpy arrays from parquet readers
            value = value.tolist()
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("[") and path.suffix.lower() == ".csv":
                try:
                    return json.loads(text)
                except json.JSONDecodeError as error:
                    raise RowError(
                        path, number, column, f"looks like a JSON list but is not ({error.msg})"
                    ) from None
            if self.answer_delimiter is not None:
                return [part.strip() for part in text.split(self.answer_delimiter)]
        return value


def _aliases(path: Path, number: int, field: str, answer: Any) -> tuple[str, ...]:
    """An answer (a string, a number, or a list of alias strings) as an alias tuple."""
    if isinstance(answer, list):
        if not answer:
            raise RowError(path, number, field, "an empty alias list")
        return tuple(_text(path, number, f"{field}[{i}]", a) for i, a in enumerate(answer))
    return (_text(path, number, field, answer),)


def _text(path: Path, number: int, field: str, value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RowError(path, number, field, f"must be a string or a number, got {value!r}")


def _with_aliases(
    path: Path, number: int, column: str, elements: list[tuple[str, ...]], extra: Any
) -> list[tuple[str, ...]]:
    """Add the aliases column: a list of strings (aliases of a one-answer row) or one entry per answer."""
    if extra is None:
        return elements
    if not isinstance(extra, list):
        extra = [extra]
    if len(elements) == 1 and all(not isinstance(a, list) for a in extra):
        return [elements[0] + tuple(_text(path, number, f"{column}[{i}]", a) for i, a in enumerate(extra))]
    if len(extra) != len(elements):
        raise RowError(
            path,
            number,
            column,
            f"has {len(extra)} entries for {len(elements)} answers (give one alias list per answer)",
        )
    return [
        element + (_aliases(path, number, f"{column}[{i}]", aliases) if aliases else ())
        for i, (element, aliases) in enumerate(zip(elements, extra, strict=True))
    ]


def split_of(question: str, seed: int, test_fraction: float) -> str:
    """`"test"` when the seeded hash of the normalised question, as a number in [0, 1), is below
    `test_fraction`, else `"train"`.

    >>> split_of("Who wrote Hamlet?", 0, 0.5) == split_of("who wrote  hamlet", 0, 0.5)
    True
    """
    key = f"{seed}\0{normalize_answer(question)}".encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
    return "test" if value < test_fraction else "train"


def read_rows(
    path: Path, dataset_split: str | None = None, *, skip_bad_rows: bool = False
) -> Iterator[tuple[int, Any]]:
    """(1-based row number, row) of a QA file or saved `datasets` folder (line numbers for jsonl/csv)."""
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.is_dir():
        yield from enumerate(_load_dataset_folder(path, dataset_split), start=1)
    elif path.suffix.lower() == ".json":
        yield from enumerate(_json_records(path), start=1)
    else:
        yield from read_table(path, (), skip_bad_rows=skip_bad_rows)


def _json_records(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno}: {error.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return data["data"]
    if not isinstance(data, list):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected a JSON list or an object with a 'data' list, got {keys}")
    return data


def _load_dataset_folder(path: Path, dataset_split: str | None) -> Any:
    try:
        import datasets
    except ImportError:
        raise ValueError(
            f"{path} is a folder: reading a saved dataset needs `datasets` (pip install datasets)"
        ) from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{path}: not a folder written by datasets' save_to_disk ({error})") from None
    if isinstance(loaded, datasets.DatasetDict):
        names = sorted(loaded)
        if dataset_split is None and len(names) == 1:
            dataset_split = names[0]
        if dataset_split not in loaded:
            raise ValueError(
                f"{path}: a DatasetDict with splits {names}: set qa option dataset_split to one of them"
            )
        loaded = loaded[dataset_split]
    elif dataset_split is not None:
        raise ValueError(
            f"{path}: qa option dataset_split={dataset_split!r} given, but the folder holds one Dataset"
        )
    return loaded
