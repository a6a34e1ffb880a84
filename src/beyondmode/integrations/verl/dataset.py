"""Export examples as verl parquet files (`train.parquet`, `test.parquet`) in verl's `RLHFDataset` shape.

One row (the parquet schema is `verl_schema()`; pyarrow is imported only when writing):

    {"data_source": "beyondmode/ddxplus",
     "prompt": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}],
     "ability": "multi_answer",
     "reward_model": {"style": "rule", "ground_truth": [["influenza", "flu"], ["measles"]]},
     "extra_info": {"index": 0, "split": "train",
                    "beyondmode": {"method": "multi_rlcr", "num_candidates": 3, "multi_gold": false,
                                   "grader": "exact_match", "reward_mode": "label",
                                   "reward_overrides": "{}", "format_options": "{}",
                                   "posterior": [{"answer": "influenza", "probability": 0.7, "aliases": ["flu"]}, ...],
                                   "task": "ddxplus", "task_options": "{}", "example_id": "...",
                                   "reward_version": 1, "format_version": 1}}}

`reward_overrides`, `format_options` and `task_options` are JSON objects in string columns, because
their keys vary; the posterior is a list of records for the same reason (a struct would get one column
per answer). `beyondmode.integrations.verl.compute_score` reads these rows back.

>>> from beyondmode.types import Example
>>> example = Example("e1", ({"role": "user", "content": "Q?"},), (("flu", "influenza"),))
>>> row = verl_row(example, VerlSettings("rlvr"), split="train", index=0, data_source="beyondmode/demo")
>>> row["reward_model"], row["extra_info"]["beyondmode"]["num_candidates"]
({'style': 'rule', 'ground_truth': [['flu', 'influenza']]}, 1)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beyondmode.atomic_write import atomic_open, write_json_atomic
from beyondmode.formats import FORMAT_VERSION
from beyondmode.integrations.verl.reward import EXTRA_INFO_KEY, VerlSettings
from beyondmode.posterior import posterior_records
from beyondmode.rewards import REWARD_VERSION
from beyondmode.types import Example

if TYPE_CHECKING:
    import pyarrow

logger = logging.getLogger(__name__)

TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
MANIFEST_FILE = "export.json"


@dataclass(frozen=True, slots=True)
class VerlExport:
    """What `export_verl` wrote."""

    train_path: Path
    test_path: Path
    train_rows: int
    test_rows: int


def export_verl(
    examples: Iterable[Example],
    method: str,
    num_candidates: int = 3,
    *,
    out_dir: str | Path,
    multi_gold: bool = False,
    reward_mode: str = "label",
    reward_overrides: Mapping[str, Any] | None = None,
    format_options: Mapping[str, Any] | None = None,
    test_examples: Iterable[Example] | None = None,
    test_fraction: float = 0.1,
    task: str = "",
    task_options: Mapping[str, Any] | None = None,
    data_source: str | None = None,
    ability: str = "multi_answer",
) -> VerlExport:
    """Write `out_dir/train.parquet`, `out_dir/test.parquet` and `out_dir/export.json` (atomically).

    The examples' prompts must already hold the instructions of `method`'s format (a task renders them
    with `method_format(method, num_candidates, **format_options)`). Test rows are `test_examples` when
    given, else the examples whose id hashes below `test_fraction` (stable across runs and machines).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    base = dict(
        method=method,
        num_candidates=num_candidates,
        multi_gold=multi_gold,
        reward_mode=reward_mode,
        reward_overrides=tuple((reward_overrides or {}).items()),
        format_options=tuple((format_options or {}).items()),
    )
    source = data_source or f"beyondmode/{task or 'custom'}"
    options_json = json.dumps(dict(task_options or {}), sort_keys=True, default=str)
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    seen: set[str] = set()
    for example, fixed_split in _with_splits(examples, test_examples):
        if example.id in seen:
            raise ValueError(f"duplicate example id {example.id!r}: verl rows need unique ids")
        seen.add(example.id)
        split = fixed_split or ("test" if stable_fraction(example.id) < test_fraction else "train")
        settings = VerlSettings(grader=example.grader, **base)  # type: ignore[arg-type]
        row = verl_row(
            example, settings, split=split, index=len(rows[split]), data_source=source, ability=ability
        )
        row["extra_info"][EXTRA_INFO_KEY].update(task=task, task_options=options_json)
        rows[split].append(row)
    if not rows["train"]:
        raise ValueError("no training rows: the task gave no examples (or every one went to the test split)")
    out = Path(out_dir)
    export = VerlExport(
        write_verl_parquet(rows["train"], out / TRAIN_FILE),
        write_verl_parquet(rows["test"], out / TEST_FILE),
        len(rows["train"]),
        len(rows["test"]),
    )
    write_json_atomic(out / MANIFEST_FILE, _manifest(export, base, source, task, task_options))
    logger.info("wrote %d train and %d test rows to %s", export.train_rows, export.test_rows, out)
    if not export.test_rows:
        logger.warning(
            "%s has no rows: give verl another val_files, or set trainer.test_freq=-1 and "
            "trainer.val_before_train=false",
            export.test_path,
        )
    return export


def verl_row(
    example: Example,
    settings: VerlSettings,
    *,
    split: str,
    index: int,
    data_source: str,
    ability: str = "multi_answer",
) -> dict[str, Any]:
    """One verl row for `example` (see the module docstring for the layout)."""
    if not example.gold:
        raise ValueError(f"example {example.id!r} has no gold answers: verl cannot score it")
    prompt = []
    for position, message in enumerate(example.prompt):
        if "role" not in message or "content" not in message:
            raise ValueError(f"example {example.id!r}: prompt[{position}] needs 'role' and 'content'")
        prompt.append({"role": str(message["role"]), "content": str(message["content"])})
    posterior = posterior_records(example.posterior or {})
    record = {
        **settings.to_record(),
        "posterior": posterior,
        "task": "",
        "task_options": "{}",
        "example_id": example.id,
        "reward_version": REWARD_VERSION,
        "format_version": FORMAT_VERSION,
    }
    return {
        "data_source": data_source,
        "prompt": prompt,
        "ability": ability,
        "reward_model": {"style": "rule", "ground_truth": [list(aliases) for aliases in example.gold]},
        "extra_info": {"index": index, "split": split, EXTRA_INFO_KEY: record},
    }


def verl_schema() -> pyarrow.Schema:
    """The parquet schema of exported rows: every column typed, none inferred."""
    import pyarrow as pa

    record = pa.struct(
        [
            ("method", pa.string()),
            ("num_candidates", pa.int64()),
            ("multi_gold", pa.bool_()),
            ("grader", pa.string()),
            ("reward_mode", pa.string()),
            ("reward_overrides", pa.string()),
            ("format_options", pa.string()),
            (
                "posterior",
                pa.list_(
                    pa.struct(
                        [
                            ("answer", pa.string()),
                            ("probability", pa.float64()),
                            ("aliases", pa.list_(pa.string())),
                        ]
                    )
                ),
            ),
            ("task", pa.string()),
            ("task_options", pa.string()),
            ("example_id", pa.string()),
            ("reward_version", pa.int64()),
            ("format_version", pa.int64()),
        ]
    )
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("ability", pa.string()),
            (
                "reward_model",
                pa.struct([("style", pa.string()), ("ground_truth", pa.list_(pa.list_(pa.string())))]),
            ),
            (
                "extra_info",
                pa.struct([("index", pa.int64()), ("split", pa.string()), (EXTRA_INFO_KEY, record)]),
            ),
        ]
    )


def write_verl_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    """Write rows with `verl_schema()` to `path`, atomically (temp file in the same folder, then replace)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=verl_schema())
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle)
    return path


def stable_fraction(example_id: str) -> float:
    """A number in [0, 1) fixed by the id (SHA-256), for splits that do not depend on order or seed.

    >>> 0.0 <= stable_fraction("ddx-17") < 1.0, stable_fraction("a") == stable_fraction("a")
    (True, True)
    """
    digest = hashlib.sha256(example_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _with_splits(
    examples: Iterable[Example], test_examples: Iterable[Example] | None
) -> Iterable[tuple[Example, str | None]]:
    if test_examples is None:
        yield from ((example, None) for example in examples)
        return
    yield from ((example, "train") for example in examples)
    yield from ((example, "test") for example in test_examples)


def _manifest(
    export: VerlExport,
    base: Mapping[str, Any],
    source: str,
    task: str,
    task_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "data_source": source,
        "task": task,
        "task_options": dict(task_options or {}),
        "method": base["method"],
        "num_candidates": base["num_candidates"],
        "multi_gold": base["multi_gold"],
        "reward_mode": base["reward_mode"],
        "reward_overrides": dict(base["reward_overrides"]),
        "format_options": dict(base["format_options"]),
        "files": {"train": export.train_path.name, "test": export.test_path.name},
        "rows": {"train": export.train_rows, "test": export.test_rows},
        "reward_version": REWARD_VERSION,
        "format_version": FORMAT_VERSION,
    }
