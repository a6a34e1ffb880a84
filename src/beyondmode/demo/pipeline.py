"""The demo pipeline: simulator -> tiny model -> warm start -> GRPO per method -> evaluation -> report.

    result = run_demo(get_profile("quick"), Path("runs"))
    result.run_dir / "report.html", result.summary

Every stage writes into `runs/demo-<timestamp>/` (`runs/demo-code_sim-<timestamp>/` for code_sim):

    warmstart/<format>/     SFT warm start of each format (K, confidences), seed and variant
    train/<run>/            GRPO run (checkpoints, final/ model, run_info.json)
    eval/<run>/             evaluation of the run's model on the held-out cases (summary.json, rows.jsonl)
    eval/warmstart-<format>/  the same evaluation of the run's starting point (the warm start)
    report.md, report.html, plots/, demo_summary.json

Jobs (warm starts, GRPO runs, evaluations) run in `profile.workers` processes, each as soon as the job
it needs has finished; each job seeds itself, so the numbers do not depend on the number of workers.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
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

PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a process gets when its parent dies (Linux)."""


@dataclass(slots=True)
class DemoResult:
    run_dir: Path
    summary: dict[str, Any]
    report_html: Path
    report_markdown: Path
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Job:
    """One unit of work: `action(*args)` in a worker, after the jobs named in `needs`."""

    name: str
    action: Callable[..., Any]
    args: tuple[Any, ...]
    needs: tuple[str, ...] = ()


def task_options(
    profile: DemoProfile, seed: int, num_examples: int, kb: str | None, stats: str | None
) -> dict:
    """The task's options: compact prompts (the tiny model pays for every prompt token); for ddx_sim the
    findings revealed and the knowledge base; then `profile.task_options`."""
    options: dict[str, Any] = {"num_examples": num_examples, "seed": seed, "prompt_style": "compact"}
    if profile.task == "ddx_sim":
        options["num_findings"] = profile.num_findings
        if kb:
            options.update(kb=kb, ddxplus_stats=stats)
    options.update(profile.task_options)
    return options


def eval_task_options(profile: DemoProfile, kb: str | None, stats: str | None, seed: int = 0) -> dict:
    """The held-out cases of the runs of `seed`: drawn with another seed, and (`exclude_seed`) no case
    whose prompt a training case of that run has. Each seed has its own training cases, so each has
    its own held-out set (seed 0's is the demo's); one set for every seed shared a quarter of its
    prompts with seed 1's and seed 2's training cases (measured: 125 and 132 of 500)."""
    options = task_options(profile, EVAL_SEED, profile.num_eval, kb, stats)
    options.update(exclude_seed=seed, exclude_examples=profile.num_train)
    return options


def unlabelled_task(profile: DemoProfile, kb: str | None, stats: str | None, seed: int = 0) -> dict[str, Any]:
    """The `warmstart.unlabelled` task of `profile.warmstart_unlabelled` prompts: the held-out task's
    stream of `seed`'s runs (prompts that avoid every training prompt of theirs), read past its first `num_eval` cases (the
    held-out set, skipped with their prompts by `warmstart.unlabelled_skip`). The stream may hold
    ten times the cases asked for (it is read lazily, up to `max_examples` kept), since later cases
    often repeat a held-out prompt: code_sim's 2 visible examples do in most cases."""
    options = eval_task_options(profile, kb, stats, seed)
    options["num_examples"] = profile.num_eval + 10 * profile.warmstart_unlabelled
    return {"name": profile.task, "options": options, "max_examples": profile.warmstart_unlabelled}


def run_config(
    profile: DemoProfile,
    run: DemoRun,
    run_dir: Path,
    kb: str | None,
    stats: str | None,
    extra: tuple[str, ...] = (),
) -> Any:
    """The `RunConfig` of one run, built from the profile (see `beyondmode.config`); `extra` are more
    dotted overrides (`format.min_candidates=1`), applied last."""
    from beyondmode.config import load_config

    options = task_options(profile, run.seed, profile.num_train, kb, stats)
    trl = {
        "max_steps": profile.grpo_steps,
        "learning_rate": profile.grpo_lr,
        "per_device_train_batch_size": profile.prompts_per_step * profile.num_generations,
        "num_generations": profile.num_generations,
        "temperature": profile.temperature if profile.grpo_temperature is None else profile.grpo_temperature,
        "max_completion_length": profile.max_completion_length,
        "logging_steps": max(1, profile.grpo_steps // 20),
        "disable_tqdm": True,
        "save_total_limit": 1,
        "beta": profile.token_beta if run.confidence_credit == "token" else profile.grpo_beta,
        # TRL's default recomputes activations in the backward pass to save memory; a tiny model's
        # activations are small, and the recompute cost 8% of a step (measured: 0.75 -> 0.69 s)
        "gradient_checkpointing": False,
    }
    oracle = run.oracle_assisted
    base = warmstart_base(profile, run)
    samples = warmstart_samples_source(profile, run)
    from_scratch = base is None and profile.scratch_warmstart_steps is not None
    warm_steps = profile.scratch_warmstart_steps if from_scratch else profile.warmstart_steps
    warm_lr = profile.warmstart_lr
    if base is not None and profile.continued_warmstart_lr is not None:
        warm_lr = profile.continued_warmstart_lr
    overrides = {
        "task.name": profile.task,
        "task.max_examples": profile.num_train,
        "method.method": run.method,
        "method.num_candidates": run.num_candidates,
        "method.confidence_credit": run.confidence_credit,
        "method.reward_mode": "expected" if oracle else profile.reward_mode,
        "model.name_or_path": str(run_dir / "warmstart" / run.warmstart_key),
        "model.tiny.hidden_size": profile.hidden_size,
        "model.tiny.num_layers": profile.num_layers,
        "model.tiny.num_heads": profile.num_heads,
        "model.tiny.intermediate_size": profile.intermediate_size,
        "warmstart.init": str(run_dir / "warmstart" / base.warmstart_key) if base else "tiny",
        "warmstart.output_dir": str(run_dir / "warmstart" / run.warmstart_key),
        "warmstart.answers": "posterior" if oracle else "label",
        "warmstart.confidence": _warmstart_confidence(profile, run),
        "warmstart.oracle_noise": profile.warmstart_noise,
        "warmstart.steps": warm_steps,
        "warmstart.base_steps": 0,
        "warmstart.sample_prompt": "format",
        "warmstart.num_samples": profile.warmstart_samples,
        "warmstart.answer_shares": profile.warmstart_shares,
        "warmstart.list_samples": profile.warmstart_lists,
        "warmstart.list_temperature": profile.warmstart_list_temperature,
        "warmstart.samples_from": str(run_dir / "warmstart" / samples.warmstart_key) if samples else None,
        "warmstart.batch_size": profile.warmstart_batch,
        "warmstart.learning_rate": warm_lr,
        "warmstart.label_replay": profile.warmstart_label_replay if base is not None else 0.0,
        "warmstart.log_every": 0,
        "output.dir": str(run_dir / "train" / run.name),
        "output.save_steps": profile.grpo_steps,
        "seed": run.seed,
    }
    if not 0 <= profile.rl_self_labelled <= profile.warmstart_unlabelled:
        raise ValueError(
            f"demo profile rl_self_labelled must be in 0..warmstart_unlabelled ({profile.warmstart_unlabelled}), "
            f"got {profile.rl_self_labelled}"
        )
    if base is not None and profile.warmstart_unlabelled > 0:
        overrides["warmstart.unlabelled"] = unlabelled_task(profile, kb, stats, run.seed)
        overrides["warmstart.unlabelled_skip"] = profile.num_eval
        overrides["method.self_labelled_prompts"] = profile.rl_self_labelled
    for key, value in profile.method_weights.get(run.method, {}).items():
        overrides[f"method.weights.{key}"] = value
    dotlist = [f"{key}={_yaml(value)}" for key, value in overrides.items()]
    dotlist += [f"task.options.{key}={_yaml(value)}" for key, value in options.items()]
    dotlist += [f"trl.{key}={_yaml(value)}" for key, value in trl.items()]
    return load_config(None, [*dotlist, *extra])


def warmstart_config(profile: DemoProfile, config: Any) -> Any:
    """The run's config for its warm start: the first `profile.warmstart_examples` training cases
    (all of them when None)."""
    from dataclasses import replace

    if profile.warmstart_examples is None:
        return config
    if not 1 <= profile.warmstart_examples <= profile.num_train:
        raise ValueError(
            f"demo profile warmstart_examples must be in 1..num_train ({profile.num_train}), "
            f"got {profile.warmstart_examples}"
        )
    return replace(config, task=replace(config.task, max_examples=profile.warmstart_examples))


def warmstart_base(profile: DemoProfile, run: DemoRun) -> DemoRun | None:
    """The run whose warm start a run's warm start samples and continues from, or None (from scratch).

    A multi-answer run's self-consistency warm start samples the single-answer warm start of its seed
    (RLVR's starting point: the tiny model SFT-ed on one label per case) and continues from it, so
    the multi and single runs start from one base and the base is trained once."""
    if run.is_multi and _warmstart_confidence(profile, run) == "self_consistency":
        return DemoRun("rlvr", run.seed)
    return None


def warmstart_samples_source(profile: DemoProfile, run: DemoRun) -> DemoRun | None:
    """The run whose warm start's self-consistency samples a run's warm start reuses, or None.

    The K-answer formats with and without confidences sample the same base with the same prompts and
    seed, so they would draw the same samples: the one with confidences reads those of the one without
    (`warmstart.samples_from`) instead of drawing them again."""
    if warmstart_base(profile, run) is None or not run.with_confidence:
        return None
    return DemoRun("multi_rlvr", run.seed, run.num_candidates)


def warmstart_jobs(
    profile: DemoProfile, run: DemoRun, run_dir: Path, kb: str | None, stats: str | None, built: set[str]
) -> list[Job]:
    """The warm-start job of `run` and, first, those of the warm starts it needs (its base, the samples
    it reuses), skipping the keys in `built` (updated)."""
    key = run.warmstart_key
    if key in built:
        return []
    jobs: list[Job] = []
    sources = [s for s in (warmstart_base(profile, run), warmstart_samples_source(profile, run)) if s]
    for source in sources:
        jobs += warmstart_jobs(profile, source, run_dir, kb, stats, built)
    built.add(key)
    config = warmstart_config(profile, run_config(profile, run, run_dir, kb, stats))
    needs = tuple(f"warmstart/{source.warmstart_key}" for source in sources)
    return [*jobs, Job(f"warmstart/{key}", _warmstart, (config,), needs)]


def _warmstart_confidence(profile: DemoProfile, run: DemoRun) -> str:
    """Oracle-assisted runs distil the posterior; the others use what labels give (`profile`)."""
    if run.oracle_assisted:
        return "oracle"
    return profile.warmstart_confidence if run.is_multi else "uniform"


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, (dict, list)):
        return json.dumps(value)  # JSON is YAML's flow style
    return str(value)


def eval_settings(profile: DemoProfile, run: DemoRun) -> Any:
    """What each run is evaluated with: one multi-answer generation per K answers for the multi
    methods; best-of-k samples, greedy, and (rlvr) the prompting baseline for the single-answer ones."""
    from beyondmode.evaluate.settings import EvalSettings

    if run.is_multi:
        methods: tuple[str, ...] = ("multi_answer",)
    elif run.method == "rlvr" and profile.prompting_baseline:
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


def demo_jobs(
    profile: DemoProfile, run_dir: Path, kb: str | None, stats: str | None
) -> tuple[list[Job], dict[str, Path], dict[str, Path]]:
    """Every job of the demo, and the evaluation folder of each run and of each run's warm start."""
    jobs: list[Job] = []
    run_evals: dict[str, Path] = {}
    warm_evals: dict[str, Path] = {}
    built: set[str] = set()
    evaluated: set[str] = set()
    for run in profile.runs:
        config = run_config(profile, run, run_dir, kb, stats)
        key = run.warmstart_key
        jobs += warmstart_jobs(profile, run, run_dir, kb, stats, built)
        warm_evals[run.name] = run_dir / "eval" / f"warmstart-{key}"
        if key not in evaluated:
            evaluated.add(key)
            args = (profile, run, Path(config.warmstart.output_dir), warm_evals[run.name], kb, stats)
            jobs.append(Job(f"eval/warmstart-{key}", _evaluate, args, (f"warmstart/{key}",)))
        jobs.append(Job(f"grpo/{run.name}", _train, (config,), (f"warmstart/{key}",)))
        eval_dir = run_dir / "eval" / run.name
        model_dir = Path(config.output.dir) / "final"
        args = (profile, run, model_dir, eval_dir, kb, stats)
        jobs.append(Job(f"eval/{run.name}", _evaluate, args, (f"grpo/{run.name}",)))
        run_evals[run.name] = eval_dir
    return jobs, run_evals, warm_evals


def run_jobs(jobs: list[Job], workers: int, threads: int, report: Stage) -> dict[str, float]:
    """Run `jobs` respecting `needs`, in `workers` processes (in this process when 1); returns each
    job's seconds. GRPO jobs are started before evaluations that are ready at the same time."""
    timings: dict[str, float] = {}
    if workers <= 1:
        for job in jobs:
            report(job.name)
            timings[job.name] = job.action(*job.args)
        return timings
    pending = list(jobs)
    running: dict[Future, Job] = {}
    with worker_pool(workers, threads) as pool:
        while pending or running:
            ready = [j for j in pending if all(n in timings for n in j.needs)]
            ready.sort(key=lambda j: not j.name.startswith(("grpo/", "warmstart/")))
            for job in ready[: max(0, workers - len(running))]:
                pending.remove(job)
                report(job.name)
                running[pool.submit(job.action, *job.args)] = job
            if not running:
                missing = sorted({n for j in pending for n in j.needs} - set(timings))
                raise RuntimeError(f"demo jobs wait for jobs that never run: {missing}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                timings[running.pop(future).name] = future.result()
    return timings


def run_demo(
    profile: DemoProfile,
    out_root: Path,
    *,
    kb: str | None = None,
    stats: str | None = None,
    stage: Stage | None = None,
    run_name: str | None = None,
) -> DemoResult:
    """Train and evaluate every run of `profile` (and its warm start), then write the report;
    `stage(text)` reports each job as it starts."""
    task = "" if profile.task == "ddx_sim" else f"{profile.task}-"
    run_dir = Path(out_root) / (run_name or f"demo-{task}{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir.mkdir(parents=True, exist_ok=False)
    write_json_atomic(run_dir / "profile.json", asdict(profile))
    report = stage or (lambda text: logger.info("%s", text))
    _init_worker(profile.threads)
    started = time.perf_counter()
    jobs, run_evals, warm_evals = demo_jobs(profile, run_dir, kb, stats)
    timings = run_jobs(jobs, profile.workers, profile.threads, report)
    report("report")
    summary = demo_summary(profile, list(run_evals.values()), timings, warm_evals=warm_evals)
    paragraphs = plain_summary(summary)
    report_started = time.perf_counter()
    from beyondmode.report import build_report

    eval_dirs = [*run_evals.values(), *dict.fromkeys(warm_evals.values())]
    files = build_report(eval_dirs, run_dir, summary=paragraphs, rl_gain=summary["rl_gain"])
    timings["report"] = time.perf_counter() - report_started
    summary["timings_s"] = dict(timings)
    summary["total_s"] = sum(timings.values())
    summary["wall_s"] = time.perf_counter() - started
    summary["workers"] = profile.workers
    write_json_atomic(run_dir / "demo_summary.json", summary)
    return DemoResult(run_dir, summary, files.html, files.markdown, timings)


def worker_pool(workers: int, threads: int) -> ProcessPoolExecutor:
    """`workers` spawned processes with `threads` torch threads each, which die with this process
    (`_die_with_parent`); the demo's jobs and the benchmarks that train side by side use it."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_pool_worker,
        initargs=(threads, os.getpid()),
    )


def _init_pool_worker(threads: int, parent: int) -> None:
    """A worker process of `run_jobs` (`parent`: the demo's pid): it dies with the demo, then
    `_init_worker`."""
    _die_with_parent(parent)
    _init_worker(threads)


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this process when its parent dies. Ctrl-C reaches the whole process group, but a
    demo killed on its own (`kill PID`, a job scheduler) left its workers training on as orphans,
    writing into the run folder and taking the cores of the next run (seen: the two workers of a killed
    demo finished their jobs and stayed alive).
    The workers are started from the thread that submits to the pool, which lives as long as the pool
    in `run_jobs` and the benchmarks (PR_SET_PDEATHSIG fires when the starting thread exits)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the demo died before prctl took effect: the worker was reparented
        os.kill(os.getpid(), signal.SIGTERM)


def _init_worker(threads: int) -> None:
    """Each process: `threads` torch threads, no HF progress bars (the demo shows its own progress), and
    not the deprecation notice transformers 5 prints for every GRPO run because TRL 1.16 still uses the
    name `gradient_checkpointing` (nothing a demo user can act on; every other warning shows)."""
    import warnings

    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(threads)
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings(
        "ignore", message=r"`(is_)?gradient_checkpointing\w*` is deprecated", category=FutureWarning
    )


def _warmstart(config: Any) -> float:
    from beyondmode.train.warmstart import run_warmstart

    started = time.perf_counter()
    run_warmstart(config)
    return time.perf_counter() - started


def _train(config: Any) -> float:
    from beyondmode.train.grpo import train_grpo

    started = time.perf_counter()
    result = train_grpo(config, quiet=True)
    # The report draws training curves from a trainer_state.json beside the evaluated model.
    write_json_atomic(result.final_dir / "trainer_state.json", {"log_history": result.log_history})
    return time.perf_counter() - started


def _evaluate(
    profile: DemoProfile, run: DemoRun, model_dir: Path, eval_dir: Path, kb: str | None, stats: str | None
) -> float:
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend
    from beyondmode.evaluate.runner import run_evaluation
    from beyondmode.tasks.registry import get_task

    started = time.perf_counter()
    backend = TransformersBackend.from_pretrained(model_dir, device="cpu", batch_size=profile.eval_batch)
    task = get_task(profile.task, **eval_task_options(profile, kb, stats, run.seed))
    run_evaluation(task, backend, eval_settings(profile, run), eval_dir, model=str(model_dir))
    return time.perf_counter() - started
