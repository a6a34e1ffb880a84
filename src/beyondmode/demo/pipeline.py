"""The demo pipeline: simulator -> tiny model -> warm start -> GRPO per method -> evaluation -> report.

    result = run_demo(get_profile("quick"), Path("runs"))
    result.run_dir / "report.html", result.summary

Every stage writes into `runs/demo-<timestamp>/`:

    warmstart/<format>/     SFT warm start of each format (K, confidences) and seed
    train/<run>/            GRPO run (checkpoints, final/ model, run_info.json)
    eval/<run>/             evaluation of the run's model on the held-out cases (summary.json, rows.jsonl)
    report.md, report.html, plots/, demo_summary.json
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_json_atomic
from beyondmode.demo.profiles import DemoProfile, DemoRun
from beyondmode.demo.summary import demo_summary, plain_summary

logger = logging.getLogger(__name__)

EVAL_SEED = 10_000
"""Seed of the held-out cases (training uses the run's seed): train / held-out split by seed."""

Stage = Callable[[str], None]


@dataclass(slots=True)
class DemoResult:
    run_dir: Path
    summary: dict[str, Any]
    report_html: Path
    report_markdown: Path
    timings: dict[str, float] = field(default_factory=dict)


def task_options(
    profile: DemoProfile, seed: int, num_examples: int, kb: str | None, stats: str | None
) -> dict:
    """ddx_sim options: compact prompts (the tiny model pays for every prompt token)."""
    options: dict[str, Any] = {
        "num_examples": num_examples,
        "seed": seed,
        "num_findings": profile.num_findings,
        "prompt_style": "compact",
    }
    if kb:
        options.update(kb=kb, ddxplus_stats=stats)
    return options


def run_config(profile: DemoProfile, run: DemoRun, run_dir: Path, kb: str | None, stats: str | None) -> Any:
    """The `RunConfig` of one run, built from the profile (see `beyondmode.config`)."""
    from beyondmode.config import load_config

    options = task_options(profile, run.seed, profile.num_train, kb, stats)
    trl = {
        "max_steps": profile.grpo_steps,
        "learning_rate": profile.grpo_lr,
        "per_device_train_batch_size": profile.prompts_per_step * profile.num_generations,
        "num_generations": profile.num_generations,
        "temperature": profile.temperature,
        "max_completion_length": profile.max_completion_length,
        "logging_steps": max(1, profile.grpo_steps // 20),
        "disable_tqdm": True,
        "save_total_limit": 1,
        "beta": profile.token_beta if run.confidence_credit == "token" else 0.0,
    }
    overrides = {
        "task.name": "ddx_sim",
        "task.max_examples": profile.num_train,
        "method.method": run.method,
        "method.num_candidates": run.num_candidates,
        "method.confidence_credit": run.confidence_credit,
        "method.reward_mode": profile.reward_mode,
        "model.name_or_path": str(run_dir / "warmstart" / run.warmstart_key),
        "model.tiny.hidden_size": profile.hidden_size,
        "model.tiny.num_layers": profile.num_layers,
        "model.tiny.num_heads": profile.num_heads,
        "model.tiny.intermediate_size": profile.intermediate_size,
        "warmstart.init": "tiny",
        "warmstart.output_dir": str(run_dir / "warmstart" / run.warmstart_key),
        "warmstart.confidence": "oracle",
        "warmstart.oracle_noise": profile.warmstart_noise,
        "warmstart.steps": profile.warmstart_steps,
        "warmstart.batch_size": profile.warmstart_batch,
        "warmstart.learning_rate": profile.warmstart_lr,
        "output.dir": str(run_dir / "train" / run.name),
        "output.save_steps": profile.grpo_steps,
        "seed": run.seed,
    }
    dotlist = [f"{key}={_yaml(value)}" for key, value in overrides.items()]
    dotlist += [f"task.options.{key}={_yaml(value)}" for key, value in options.items()]
    dotlist += [f"trl.{key}={_yaml(value)}" for key, value in trl.items()]
    return load_config(None, dotlist)


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def eval_settings(profile: DemoProfile, run: DemoRun) -> Any:
    """What each run is evaluated with: one multi-answer generation per K answers for the multi
    methods; best-of-k samples, greedy, and (rlvr) the prompting baseline for the single-answer ones."""
    from beyondmode.evaluate.settings import EvalSettings

    if run.is_multi:
        methods: tuple[str, ...] = ("multi_answer",)
    elif run.method == "rlvr":
        methods = ("best_of_k", "greedy", "prompt_multi")
    else:
        methods = ("best_of_k", "greedy")
    return EvalSettings(
        methods=methods,
        num_candidates=run.num_candidates,
        with_confidence=run.with_confidence,
        max_answers=profile.max_answers,
        recall_ks=profile.recall_ks,
        temperature=profile.temperature,
        max_new_tokens=profile.max_completion_length,
        batch_size=profile.eval_batch,
        seed=EVAL_SEED + run.seed,
    )


def run_demo(
    profile: DemoProfile,
    out_root: Path,
    *,
    kb: str | None = None,
    stats: str | None = None,
    stage: Stage | None = None,
    run_name: str | None = None,
) -> DemoResult:
    """Train and evaluate every run of `profile`, then write the report; `stage(text)` reports progress."""
    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(profile.threads)
    transformers_logging.disable_progress_bar()  # the demo shows its own progress
    run_dir = Path(out_root) / (run_name or f"demo-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=False)
    write_json_atomic(run_dir / "profile.json", asdict(profile))
    report = stage or (lambda text: logger.info("%s", text))
    timings: dict[str, float] = {}
    eval_dirs: list[Path] = []
    warm_started: set[str] = set()
    for run in profile.runs:
        config = run_config(profile, run, run_dir, kb, stats)
        if run.warmstart_key not in warm_started:
            report(f"warm start {run.warmstart_key}")
            timings[f"warmstart/{run.warmstart_key}"] = _timed(lambda c=config: _warmstart(c))
            warm_started.add(run.warmstart_key)
        report(f"GRPO {run.name}")
        timings[f"grpo/{run.name}"] = _timed(lambda c=config: _train(c))
        report(f"evaluate {run.name}")
        eval_dir = run_dir / "eval" / run.name
        timings[f"eval/{run.name}"] = _timed(
            lambda r=run, c=config, d=eval_dir: _evaluate(profile, r, c, d, kb, stats)
        )
        eval_dirs.append(eval_dir)
    report("report")
    summary = demo_summary(profile, eval_dirs, timings)
    paragraphs = plain_summary(summary)
    started = time.perf_counter()
    from beyondmode.report import build_report

    files = build_report(eval_dirs, run_dir, summary=paragraphs)
    timings["report"] = time.perf_counter() - started
    summary["timings_s"] = dict(timings)
    summary["total_s"] = sum(timings.values())
    write_json_atomic(run_dir / "demo_summary.json", summary)
    return DemoResult(run_dir, summary, files.html, files.markdown, timings)


def _timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _warmstart(config: Any) -> None:
    from beyondmode.train.warmstart import run_warmstart

    run_warmstart(config)


def _train(config: Any) -> None:
    from beyondmode.train.grpo import train_grpo

    result = train_grpo(config, quiet=True)
    # The report draws training curves from a trainer_state.json beside the evaluated model.
    write_json_atomic(result.final_dir / "trainer_state.json", {"log_history": result.log_history})


def _evaluate(
    profile: DemoProfile, run: DemoRun, config: Any, eval_dir: Path, kb: str | None, stats: str | None
) -> None:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend
    from beyondmode.evaluate.runner import run_evaluation
    from beyondmode.tasks.registry import get_task

    model_dir = Path(config.output.dir) / "final"
    backend = TransformersBackend.from_pretrained(model_dir, device="cpu", batch_size=profile.eval_batch)
    task = get_task("ddx_sim", **task_options(profile, EVAL_SEED, profile.num_eval, kb, stats))
    run_evaluation(task, backend, eval_settings(profile, run), eval_dir, model=str(model_dir))
