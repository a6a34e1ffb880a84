"""`beyondmode warmstart CONFIG.yaml [section.key=value ...]`: the SFT warm start before GRPO."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "warmstart",
        help="SFT warm start: teach the format (uniform, oracle or self-consistency confidences)",
        description="Build (tiny) or load the model, SFT it on the method's format, save it "
        "to warmstart.output_dir.",
    )
    parser.add_argument("config", help="YAML run config (see configs/)")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. warmstart.steps=100")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted warm start: reuse its sampled pairs and SFT checkpoint",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from beyondmode.config import check_model_reference, load_config
    from beyondmode.thread_count import apply_config_threads
    from beyondmode.train.warmstart import run_warmstart

    config = load_config(args.config, args.overrides)
    apply_config_threads(config.threads, args.threads)
    if config.warmstart.init != "tiny":
        check_model_reference(config.warmstart.init, "warmstart.init")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, step: int, total: int, loss: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            label = stage if stage in ("sampling", "options", "shares") else f"{stage} loss {loss:.3f}"
            bar.update(tasks[stage], completed=step + 1, description=label)

        output = run_warmstart(config, progress=progress, resume=args.resume)
    print(f"warm start: {output}")
    return 0
