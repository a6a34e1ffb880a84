"""`beyondmode data TASK --out DIR`: write a task's examples as jsonl + parquet with a manifest."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Any

import yaml

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="write a task's examples to disk (jsonl, parquet, manifest.json)",
        description="Write a task's examples (prompt messages, gold, posterior, metadata) to DIR/data.jsonl "
        "and DIR/data.parquet, with DIR/manifest.json. Example: beyondmode data ddx_sim --out data/ddx "
        "--num-examples 2000 --set num_findings=1-3 --set gold=differential",
    )
    parser.add_argument("task", help="registered task name (ddx_sim, ddxplus, ambigqa, hotpotqa, ...)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--set",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a task option (repeatable); values are read as YAML scalars",
    )
    parser.add_argument("--seed", type=int, help="shortcut for --set seed=N")
    parser.add_argument("--num-examples", type=int, help="shortcut for --set num_examples=N")
    parser.add_argument("--method", default="multi_rlcr", help="method whose answer format the prompts use")
    parser.add_argument("-K", "--num-candidates", type=int, default=3, help="K, answers per generation")
    parser.set_defaults(handler=run)


def parse_options(items: list[str]) -> dict[str, Any]:
    """`["num_findings=1-3", "seed=2"]` -> {"num_findings": "1-3", "seed": 2}."""
    options: dict[str, Any] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        options[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return options


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    from beyondmode.methods import method_format
    from beyondmode.tasks.export import write_dataset
    from beyondmode.tasks.registry import get_task

    options = parse_options(args.options)
    for key, value in (("seed", args.seed), ("num_examples", args.num_examples)):
        if value is not None:
            options[key] = value
    task = get_task(args.task, **options)
    answer_format = method_format(args.method, args.num_candidates)
    resolved = dataclasses.asdict(task) if dataclasses.is_dataclass(task) else options
    examples = track(
        task.examples(answer_format), description=f"{args.task} examples", total=resolved.get("num_examples")
    )
    manifest = write_dataset(
        examples,
        args.out,
        task=args.task,
        options=resolved,
        answer_format={"method": args.method, **dataclasses.asdict(answer_format)},
    )
    table = Table(title=f"beyondmode data {args.task} -> {args.out}")
    table.add_column("key")
    table.add_column("value", justify="right")
    for key, value in manifest["counts"].items():
        table.add_row(key, str(value))
    table.add_row("multi_gold", str(task.multi_gold))
    table.add_row("grader", task.grader)
    table.add_row("files", ", ".join([*manifest["files"], "manifest.json"]))
    Console().print(table)
    return 0
