"""Reading data-set rows with errors that name the file, row and field, and counted skips.

A loader never drops a row silently: a bad row raises `RowError`, or, when the caller asked to skip bad
rows, is counted and logged (one warning per file with the count and the first error).

>>> str(RowError("data.jsonl", 3, "answers", "must be a list"))
'data.jsonl: row 3, field answers: must be a list'
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class RowError(ValueError):
    """A malformed input row: `path`, 1-based `row` (line number for text files), `field`, reason."""

    def __init__(self, path: str | Path, row: int, field: str, reason: str) -> None:
        super().__init__(f"{path}: row {row}, field {field}: {reason}")
        self.path = str(path)
        self.row = row
        self.field = field


class SkipCounter:
    """Raise bad rows, or (with `enabled`) count them and log one warning at the end."""

    def __init__(self, path: str | Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled
        self.count = 0
        self.first: RowError | None = None

    def skip(self, error: RowError) -> None:
        if not self.enabled:
            raise error
        self.count += 1
        self.first = self.first or error
        logger.debug("skipped: %s", error)

    def report(self) -> None:
        if self.count:
            logger.warning(
                "%s: skipped %d bad row(s) (skip_bad_rows=True); first: %s", self.path, self.count, self.first
            )


def read_table(
    path: Path, required: Sequence[str], *, skip_bad_rows: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) for a .jsonl, .json (a list of objects), .parquet or .csv file; every row must
    have the `required` columns."""
    if not path.exists():
        raise FileNotFoundError(f"data file not found: {path}")
    skipped = SkipCounter(path, skip_bad_rows)
    for number, row in _raw_rows(path):
        if not isinstance(row, dict):
            skipped.skip(RowError(path, number, "*", f"expected an object, got {type(row).__name__}"))
            continue
        missing = [c for c in required if c not in row]
        if missing:
            skipped.skip(RowError(path, number, missing[0], f"missing (row has {sorted(row)})"))
            continue
        yield number, row
    skipped.report()


def _raw_rows(path: Path) -> Iterator[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield number, json.loads(line)
                    except json.JSONDecodeError as error:
                        raise RowError(path, number, "*", f"invalid JSON ({error.msg})") from None
    elif suffix == ".json":
        yield from enumerate(load_json_list(path), start=1)
    elif suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as handle:
            yield from enumerate(csv.DictReader(handle), start=2)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from enumerate(pq.read_table(path).to_pylist(), start=1)
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, .csv or .parquet)")


def load_json_list(path: Path) -> list[Any]:
    """A JSON file whose top level is a list."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"data file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno}: {error.msg})") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list at the top level, got {type(data).__name__}")
    return data
