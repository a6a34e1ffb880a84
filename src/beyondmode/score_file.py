"""Score a JSONL file of completions (saved vLLM generations, API outputs, ...) with a `Scorer`.

Input rows: `{"completion": str, "gold": [answer | [aliases...]], "posterior": {answer: p}?, "id": ...?}`.
A malformed row (not JSON, no `completion`, `gold` not a list) becomes a `SkippedRow` with its line
number; the other rows are still scored.

>>> from beyondmode.scoring import Scorer
>>> rows = ['{"completion": "<think> t </think> <answer> Paris </answer>", "gold": ["paris"]}', "oops"]
>>> results = list(score_lines(rows, Scorer.for_method("rlvr")))
>>> results[0]["total"], results[1].message
(1.0, 'line 2: not valid JSON (Expecting value)')
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from beyondmode.formats import FORMAT_VERSION
from beyondmode.grading.code import prefetch_code_runs
from beyondmode.rewards import REWARD_VERSION, TERM_NAMES
from beyondmode.scoring import RewardMode, ScoredCompletion, Scorer
from beyondmode.types import as_gold


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A row that could not be scored, with its 1-based line number."""

    line: int
    message: str


@dataclass(slots=True)
class ScoreSummary:
    """Running means of every term, the parse-failure rate and the violation counts."""

    scored: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    term_sums: Counter[str] = field(default_factory=Counter)
    total_sum: float = 0.0
    parse_failures: int = 0
    violations: Counter[str] = field(default_factory=Counter)

    def add(self, row: dict[str, Any]) -> None:
        self.scored += 1
        self.total_sum += row["total"]
        for name, value in row["terms"].items():
            self.term_sums[name] += value
        if not row["format_ok"]:
            self.parse_failures += 1
        self.violations.update(row["violations"])

    def as_dict(self) -> dict[str, Any]:
        n = self.scored
        return {
            "rows_scored": n,
            "rows_skipped": len(self.skipped),
            "total/mean": self.total_sum / n if n else math.nan,
            **{f"rewards/{name}/mean": self.term_sums[name] / n if n else math.nan for name in TERM_NAMES},
            "format/parse_failure_rate": self.parse_failures / n if n else math.nan,
            **{f"format/violation/{code}": count for code, count in sorted(self.violations.items())},
            "reward_version": REWARD_VERSION,
            "format_version": FORMAT_VERSION,
        }


def scored_row(row_id: Any, scored: ScoredCompletion) -> dict[str, Any]:
    """The output row of one scored completion."""
    breakdown = scored.breakdown
    return {
        "id": row_id,
        "format_ok": scored.parsed.format_ok,
        "violations": [v.value for v in scored.parsed.violations],
        "candidates": [{"text": c.text, "confidence": c.confidence} for c in scored.parsed.candidates],
        "hits": list(scored.grades.hits),
        "matched": list(scored.grades.matched),
        "terms": dict(breakdown.terms),
        "gates": dict(breakdown.gates),
        "total": breakdown.total,
        "reward_version": REWARD_VERSION,
    }


SCORE_BATCH_ROWS = 64
"""Rows read ahead and graded together: their code candidates run in one parallel sandbox batch."""


def score_lines(
    lines: Iterable[str], scorer: Scorer, batch_rows: int = SCORE_BATCH_ROWS
) -> Iterator[dict[str, Any] | SkippedRow]:
    """Score each JSONL line; yields an output row, or a `SkippedRow` for a malformed one. Rows are
    read `batch_rows` at a time so that code programs of many rows run in parallel
    (`grading.code.prefetch_code_runs`); the output is the same as scoring them one by one."""
    batch: list[tuple[int, dict[str, Any] | SkippedRow]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        batch.append((number, _read_row(number, line, scorer.mode)))
        if len(batch) >= batch_rows:
            yield from _score_batch(batch, scorer)
            batch = []
    yield from _score_batch(batch, scorer)


def _score_batch(
    batch: list[tuple[int, dict[str, Any] | SkippedRow]], scorer: Scorer
) -> Iterator[dict[str, Any] | SkippedRow]:
    rows = [row for _, row in batch if not isinstance(row, SkippedRow)]
    prefetch_code_runs(scorer, [(row["completion"], row["gold"]) for row in rows])
    for number, row in batch:
        if isinstance(row, SkippedRow):
            yield row
            continue
        scored = scorer.score(row["completion"], row["gold"], row.get("posterior"))
        yield scored_row(row.get("id", number), scored)


def _read_row(number: int, line: str, mode: RewardMode) -> dict[str, Any] | SkippedRow:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return SkippedRow(number, f"line {number}: not valid JSON ({error.msg})")
    if not isinstance(row, dict):
        return SkippedRow(number, f"line {number}: expected a JSON object, got {type(row).__name__}")
    if not isinstance(row.get("completion"), str):
        return SkippedRow(number, f"line {number}: field 'completion' missing or not a string")
    try:
        row["gold"] = as_gold(row.get("gold"))  # type: ignore[arg-type]
    except TypeError as error:
        return SkippedRow(number, f"line {number}: field 'gold' must be a list of answers ({error})")
    posterior = row.get("posterior")
    if mode is RewardMode.EXPECTED and not _is_posterior(posterior):
        return SkippedRow(
            number, f"line {number}: reward mode 'expected' needs 'posterior' {{answer: probability}}"
        )
    return row


def _is_posterior(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and isinstance(p, int | float) and 0 <= p <= 1 for k, p in value.items())
    )
