"""`beyondmode export verl TASK --out DIR`: a task's examples as verl parquet files (docs/verl.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import track

from beyondmode.methods import Method, method_format
from beyondmode.scoring import RewardMode

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a task's examples for another training engine")
    engines = parser.add_subparsers(dest="engine", metavar="ENGINE", required=True)
    verl = engines.add_parser(
        "verl",
        help="parquet files (train.parquet, test.parquet) in verl's schema",
        description=(
            "Renders TASK's prompts in METHOD's answer format and writes verl's RLHFDataset columns: "
            "data_source, prompt (chat messages), ability, reward_model {style: rule, ground_truth: gold "
            "alias lists}, extra_info {index, split, beyondmode: the scorer's settings, posterior, task "
            "options}. Train with custom_reward_function pointing at beyondmode.integrations.verl."
        ),
    )
    verl.add_argument("task", help="task registry name (ddx_sim, ddxplus, ambigqa, ...)")
    verl.add_argument("--out", type=Path, required=True, help="output folder")
    verl.add_argument("--method", choices=[m.value for m in Method], default="multi_rlcr")
    verl.add_argument("--k", type=int, default=3, help="number of candidates K for the multi methods")
    verl.add_argument("--reward-mode", choices=[m.value for m in RewardMode], default="label")
    verl.add_argument(
        "--multi-gold",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="gold sets have several answers (default: what the task says)",
    )
    verl.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="task option")
    verl.add_argument(
        "--test-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task option for the test rows (e.g. split=validation); without any, test rows are a stable "
        "hash-based --test-fraction of the task's examples",
    )
    verl.add_argument("--test-fraction", type=float, default=0.1)
    verl.add_argument(
        "--reward-override", action="append", default=[], metavar="FIELD=VALUE", help="RewardSpec field"
    )
    verl.add_argument(
        "--format-option", action="append", default=[], metavar="FIELD=VALUE", help="AnswerFormat field"
    )
    verl.add_argument(
        "--limit", type=int, help="read at most this many examples from the task (and from the test task)"
    )
    verl.add_argument("--data-source", help="verl data_source (default beyondmode/TASK)")
    verl.add_argument("--ability", default="multi_answer", help="verl ability column")
    verl.set_defaults(handler=run_verl)


def run_verl(args: argparse.Namespace) -> int:
    from beyondmode.integrations.verl import export_verl

    options = parse_assignments(args.option, "--option")
    format_options = parse_assignments(args.format_option, "--format-option")
    answer_format = method_format(args.method, args.k, **format_options)
    task = build_task(args.task, options)
    test_examples = None
    if args.test_option:
        test_task = build_task(args.task, {**options, **parse_assignments(args.test_option, "--test-option")})
        test_examples = _limited(test_task.examples(answer_format), args.limit, "test examples")
    export = export_verl(
        _limited(task.examples(answer_format), args.limit, "examples"),
        args.method,
        args.k,
        out_dir=args.out,
        multi_gold=task.multi_gold if args.multi_gold is None else args.multi_gold,
        reward_mode=args.reward_mode,
        reward_overrides=parse_assignments(args.reward_override, "--reward-override"),
        format_options=format_options,
        test_examples=test_examples,
        test_fraction=args.test_fraction,
        task=args.task,
        task_options=options,
        data_source=args.data_source,
        ability=args.ability,
    )
    console = Console()
    console.print(f"{export.train_path}: {export.train_rows} rows", soft_wrap=True)
    console.print(f"{export.test_path}: {export.test_rows} rows", soft_wrap=True)
    return 0


def build_task(name: str, options: dict[str, Any]) -> Any:
    """The registry's task `name` built with `options`; a clear exit when the registry or task is missing."""
    try:
        from beyondmode.tasks import get_task
    except ImportError:
        try:
            from beyondmode.tasks.registry import get_task
        except ImportError:
            raise SystemExit(
                "export verl: this beyondmode has no task registry (beyondmode.tasks.get_task); build "
                "Examples yourself and call beyondmode.integrations.verl.export_verl"
            ) from None
    try:
        return get_task(name, **options)
    except (KeyError, ValueError) as error:  # unknown task or bad options: the registry names them
        raise SystemExit(f"export verl: {error.args[0] if error.args else error}") from None


def parse_assignments(items: list[str], flag: str) -> dict[str, Any]:
    """`KEY=VALUE` strings as a dict; values are read as YAML scalars (`3`, `0.5`, `true`, `text`).

    >>> parse_assignments(["k=3", "name=ddx", "strict=false"], "--option")
    {'k': 3, 'name': 'ddx', 'strict': False}
    """
    result: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"{flag} expects KEY=VALUE, got {item!r}")
        result[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return result


def _limited(examples: Any, limit: int | None, description: str) -> Any:
    iterator = iter(examples)
    if limit is not None:
        iterator = (example for _, example in zip(range(limit), iterator, strict=False))
    return track(iterator, description=f"exporting {description}", total=limit, transient=True)
