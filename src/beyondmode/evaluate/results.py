"""Result files of a run: one JSONL row per example x generation x candidate, and a summary JSON.

Both are written atomically (a temp file in the same folder, then `os.replace`), so a reader never sees
a half-written file. `RUN_FILES` names them inside a run directory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_text_atomic
from beyondmode.evaluate.scored import ScoredGeneration
from beyondmode.types import Example

SUMMARY_FILE = "summary.json"
ROWS_FILE = "rows.jsonl"
GENERATIONS_FILE = "generations.jsonl"
RUN_FILES = (SUMMARY_FILE, ROWS_FILE, GENERATIONS_FILE)


def candidate_rows(
    method: str, example: Example, generations: Sequence[ScoredGeneration]
) -> Iterator[dict[str, Any]]:
    """One row per candidate (one empty row for a generation with no recoverable candidate)."""
    names = example.gold_names
    for g in generations:
        base = {
            "example_id": example.id,
            "method": method,
            "sample": g.sample,
            "format_ok": g.format_ok,
            "violations": list(g.violations),
            "generation_tokens": g.num_tokens,
            "generation_seconds": g.seconds,
            "num_gold": len(example.gold),
        }
        if not g.texts:
            yield {
                **base,
                "rank": None,
                "slot": None,
                "text": None,
                "confidence": None,
                "hit": None,
                "matched_gold": None,
                "true_probability": None,
            }
            continue
        for rank, text in enumerate(g.texts):
            matched = g.matched[rank]
            yield {
                **base,
                "rank": rank + 1,
                "slot": g.slots[rank],
                "text": text,
                "confidence": g.confidences[rank],
                "hit": g.hits[rank],
                "matched_gold": None if matched is None else names[matched],
                "true_probability": None if g.true_probabilities is None else g.true_probabilities[rank],
            }


def write_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows as JSONL atomically; returns the number of rows."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    write_text_atomic(path, "\n".join(lines) + ("\n" if lines else ""))
    return len(lines)


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """Write the summary JSON atomically (NaN written as null)."""
    write_text_atomic(path, json.dumps(_clean(summary), indent=2, ensure_ascii=False) + "\n")


def load_summary(run_dir: Path) -> dict[str, Any]:
    """The summary of a run directory; names the missing file."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} an evaluation run directory?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
