"""Export K-program generations as evalplus samples: one `{"task_id", "solution"}` row per candidate.

Input rows (JSONL) name their task with `task_id` (or `id`) and carry either `completion` (a generation
in the K-answer format; parsed leniently, so every recoverable candidate is exported) or `candidates`
(a list of program texts or of `{"text": ...}` objects, as `beyondmode score` writes them). MBPP's
integer task ids become evalplus's `Mbpp/<id>`. The output feeds `evalplus.evaluate --samples`.

>>> from beyondmode.formats import AnswerFormat
>>> rows = [{"task_id": 2, "completion": "<answer1>def f(): return 1</answer1><answer2>x = 1</answer2>"}]
>>> list(evalplus_samples(rows, AnswerFormat(num_candidates=2, with_confidence=False, require_think=False)))
[{'task_id': 'Mbpp/2', 'solution': 'def f(): return 1'}, {'task_id': 'Mbpp/2', 'solution': 'x = 1'}]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_jsonl_atomic
from beyondmode.formats import AnswerFormat
from beyondmode.grading.code import extract_program


def evalplus_task_id(value: Any) -> str:
    """evalplus's task id: `Mbpp/<n>` for a bare MBPP number, otherwise the id as a string."""
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return f"Mbpp/{int(value)}"
    if not isinstance(value, str) or not value:
        raise ValueError(f"task id must be a non-empty string or an integer, got {value!r}")
    return value


def row_candidates(row: Mapping[str, Any], answer_format: AnswerFormat) -> list[str]:
    """The candidate program texts of one row (see the module docstring for the accepted fields)."""
    if "candidates" in row:
        items = row["candidates"]
        if not isinstance(items, list):
            raise ValueError(f"'candidates' must be a list, got {type(items).__name__}")
        return [item["text"] if isinstance(item, Mapping) else str(item) for item in items]
    if "completion" in row:
        return list(answer_format.parse(row["completion"]).texts)
    raise ValueError("row has neither 'completion' nor 'candidates'")


def evalplus_samples(
    rows: Iterable[Mapping[str, Any]], answer_format: AnswerFormat
) -> Iterator[dict[str, str]]:
    """One evalplus sample per candidate, in row and slot order; ValueError names the bad row."""
    for number, row in enumerate(rows, 1):
        try:
            task_id = evalplus_task_id(row.get("task_id", row.get("id")))
            texts = row_candidates(row, answer_format)
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"row {number}: {error}") from error
        for text in texts:
            yield {"task_id": task_id, "solution": extract_program(text)}


def export_evalplus(source: str | Path, destination: str | Path, answer_format: AnswerFormat) -> int:
    """Read JSONL rows from `source`, write evalplus samples to `destination` atomically; returns the
    number of samples written."""
    source = Path(source)
    rows = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{source}:{number}: not valid JSON: {error}") from error
    try:
        samples = list(evalplus_samples(rows, answer_format))
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from error
    write_jsonl_atomic(destination, samples)
    return len(samples)
