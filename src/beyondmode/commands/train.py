"""`beyondmode train CONFIG.yaml [section.key=value ...] [--resume] [--dry-run]`: GRPO through TRL."""

from __future__ import annotations

import argparse
import json
import logging

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="GRPO training through TRL (rlvr, rlcr, multi_rlvr, multi_rlcr)",
        description="Train with GRPO as configured; see docs/training.md.",
    )
    parser.add_argument("config", help="YAML run config (see configs/)")
    parser.add_argument(
        "overrides", nargs="*", help="dotted overrides, e.g. trl.max_steps=10 method.num_candidates=4"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the run directory's last checkpoint, with the config stored there "
        "(an override that contradicts it is refused)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="build the dataset, reward functions and GRPOConfig without loading weights, then exit",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from beyondmode.config import check_model_reference, load_config, resume_config
    from beyondmode.thread_count import apply_config_threads

    config = load_config(args.config, args.overrides)
    stored = Path(config.output.dir) / "config.yaml"
    if args.resume and stored.is_file():
        config = resume_config(config, args.overrides, stored)
    apply_config_threads(config.threads, args.threads)
    if args.dry_run:
        return dry_run(config)
    check_model_reference(config.model.name_or_path, "model.name_or_path")
    from beyondmode.train.grpo import train_grpo

    result = train_grpo(config, resume=args.resume)
    print(f"final model after step {result.global_step}: {result.final_dir}")
    return 0


def dry_run(config: object) -> int:
    from beyondmode.train.grpo import prepare_grpo, validate_grpo_arguments

    setup = prepare_grpo(config)  # type: ignore[arg-type]
    validate_grpo_arguments(setup.arguments)
    summary = {
        "task": setup.task.name,
        "examples": len(setup.dataset),
        "columns": setup.dataset.column_names,
        "reward_functions": [f.__name__ for f in setup.reward_functions],
        "reward_weights": setup.reward_weights,
        "token_credit": setup.token_credit,
        "grpo_config": {k: v for k, v in setup.arguments.items() if k != "reward_weights"},
    }
    print(json.dumps(summary, indent=2, default=str))
    return 0
