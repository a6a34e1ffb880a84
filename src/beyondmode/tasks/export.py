"""Export examples as rows: HF `datasets.Dataset` (the shape TRL expects), jsonl and parquet.

A row has the `prompt` column of chat messages that TRL's GRPOTrainer reads, plus our columns: `id`,
`gold` (one alias list per gold element), `grader`, `posterior` (a JSON string: null, or
`beyondmode.posterior` records {answer, probability, aliases}) and
`metadata` (a JSON string). JSON strings keep the Arrow schema fixed whatever the keys.

>>> from beyondmode.types import Example
>>> row = example_to_row(Example("x", ({"role": "user", "content": "q"},), (("a", "b"),)))
>>> row["gold"], row["posterior"], row_to_example(row).gold
([['a', 'b']], 'null', (('a', 'b'),))
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import atomic_open
from beyondmode.posterior import decode_posterior, posterior_records
from beyondmode.types import Example

logger = logging.getLogger(__name__)

COLUMNS = ("id", "prompt", "gold", "grader", "posterior", "metadata")


def example_to_row(example: Example) -> dict[str, Any]:
    return {
        "id": example.id,
        "prompt": [dict(message) for message in example.prompt],
        "gold": [list(aliases) for aliases in example.gold],
        "grader": example.grader,
        "posterior": json.dumps(None if example.posterior is None else posterior_records(example.posterior)),
        "metadata": json.dumps(dict(example.metadata), ensure_ascii=False),
    }


def row_to_example(row: Mapping[str, Any]) -> Example:
    """Inverse of `example_to_row` (accepts decoded mappings for `posterior`/`metadata` too)."""
    missing = [c for c in COLUMNS if c not in row]
    if missing:
        raise KeyError(f"row {row.get('id', '?')!r} lacks columns {missing}")
    posterior = row["posterior"]
    metadata = row["metadata"]
    return Example(
        id=str(row["id"]),
        prompt=tuple({"role": m["role"], "content": m["content"]} for m in row["prompt"]),
        gold=tuple(tuple(aliases) for aliases in row["gold"]),
        grader=str(row["grader"]),
        metadata=json.loads(metadata) if isinstance(metadata, str) else dict(metadata),
        posterior=decode_posterior(posterior, f"row {row['id']!r}: posterior"),
    )


def to_dataset(examples: Iterable[Example]) -> Any:
    """A `datasets.Dataset` with the columns of `example_to_row` (needs the `train` extra)."""
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "to_dataset needs the `datasets` package: pip install 'beyondmode[train]'"
        ) from None
    rows = [example_to_row(e) for e in examples]
    return datasets.Dataset.from_list(rows) if rows else datasets.Dataset.from_dict({c: [] for c in COLUMNS})


def write_jsonl(rows: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """Write rows as JSON lines, atomically; returns the number of rows."""
    count = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: line {number} is not valid JSON ({error})") from None
    return rows


def write_parquet(rows: list[Mapping[str, Any]], path: str | Path) -> None:
    """Write rows as a parquet file, atomically (needs pyarrow, from the `train` extra)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("parquet export needs pyarrow: pip install 'beyondmode[train]'") from None
    table = pa.Table.from_pylist([dict(r) for r in rows]) if rows else pa.table({c: [] for c in COLUMNS})
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)


def write_json(data: Any, path: str | Path) -> None:
    with atomic_open(path) as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False, sort_keys=True)
        handle.write("\n")


def write_dataset(
    examples: Iterable[Example],
    out_dir: str | Path,
    *,
    task: str,
    options: Mapping[str, Any],
    answer_format: Mapping[str, Any],
) -> dict[str, Any]:
    """Write `data.jsonl`, `data.parquet` and `manifest.json` (task, options, seed, counts, FORMAT_VERSION)
    into `out_dir`; returns the manifest."""
    from beyondmode import __version__
    from beyondmode.formats import FORMAT_VERSION

    out = Path(out_dir)
    rows = [example_to_row(e) for e in examples]
    write_jsonl(rows, out / "data.jsonl")
    write_parquet(rows, out / "data.parquet")
    gold_counts = [len(r["gold"]) for r in rows]
    manifest = {
        "task": task,
        "options": dict(options),
        "seed": options.get("seed"),
        "counts": {
            "examples": len(rows),
            "gold_elements": sum(gold_counts),
            "multi_gold_examples": sum(1 for n in gold_counts if n > 1),
            "with_posterior": sum(1 for r in rows if r["posterior"] != "null"),
        },
        "answer_format": dict(answer_format),
        "format_version": FORMAT_VERSION,
        "beyondmode_version": __version__,
        "files": ["data.jsonl", "data.parquet"],
    }
    write_json(manifest, out / "manifest.json")
    return manifest
