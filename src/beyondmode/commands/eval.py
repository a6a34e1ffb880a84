"""`beyondmode eval CONFIG.yaml`: evaluate a model with every configured method, write rows and summary."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import yaml

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model: multi-answer vs best-of-k vs baselines vs the oracle",
        description="Run the evaluation described by CONFIG.yaml (model, task, output_dir, eval: ...).",
    )
    parser.add_argument("config", metavar="CONFIG.yaml")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. eval.max_answers=10"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from beyondmode.config import check_model_reference
    from beyondmode.evaluate.backends import build_backend
    from beyondmode.evaluate.backends.openai_backend import BackendUnreachableError
    from beyondmode.evaluate.job import load_job
    from beyondmode.evaluate.runner import run_evaluation
    from beyondmode.tasks.registry import resolve_task

    overrides = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"override {item!r} must look like key=value")
        overrides[key] = yaml.safe_load(value)
    try:
        job = load_job(args.config, overrides)
        task = resolve_task(job.task, job.task_options)
    except (ValueError, KeyError) as error:
        if args.verbose:
            raise
        logger.error("beyondmode eval: bad configuration: %s", error)
        return 2
    if job.settings.backend.value != "openai":
        check_model_reference(job.model, "model")
    try:
        backend = build_backend(job.settings, job.model)
    except OSError as error:  # transformers: not a model folder, or a hub id that cannot be fetched
        if args.verbose:
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        logger.error("beyondmode eval: cannot load model %r: %s", job.model, first_line)
        return 2
    try:
        summary = run_evaluation(
            task, backend, job.settings, job.output_dir, model=job.model, progress=not args.no_progress
        )
    except BackendUnreachableError as error:
        logger.error("beyondmode eval: %s", error)
        return 2
    for name, block in summary["methods"].items():
        metrics = block["metrics"]
        shown = {
            k: metrics[k]["mean"] for k in ("top1", f"recall@{max(job.settings.recall_ks)}") if metrics.get(k)
        }
        logger.info("%s: %s", name, ", ".join(f"{k} {v:.3f}" for k, v in shown.items()))
    logger.info("results in %s", job.output_dir)
    return 0
