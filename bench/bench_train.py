"""Seconds per GRPO step for the demo's tiny model on this machine, and the share spent in rewards.

    .venv/bin/python bench/bench_train.py [--steps 20] [--method multi_rlcr] [--threads 1]

The demo size is `TinyModelSpec`'s default (hidden 64, 2 layers, 4 heads, intermediate 256), K = 3,
8 prompts x 8 generations per step. The model is first warm-started for a few SFT steps so that it writes
the format (a random model would generate max-length noise). The task is `ddx_sim` when the task
registry has it, else the toy diagnosis task of the tests (with the full format instructions in the
prompt, so prompt lengths are realistic). Rewards are timed by wrapping the reward functions; the target
is a reward share under 5 % of a step.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from beyondmode.config import RunConfig, TaskConfig, load_config
from beyondmode.train import grpo
from beyondmode.train.warmstart import run_warmstart

ROOT = Path(__file__).resolve().parents[1]


class Timed:
    """A reward function wrapper that adds its wall time to a shared counter (keeps `__name__`)."""

    def __init__(self, function: Any, clock: list[float]) -> None:
        self.function = function
        self.clock = clock
        self.__name__ = function.__name__

    def __call__(self, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.function(**kwargs)
        finally:
            self.clock[0] += time.perf_counter() - start


def bench_task() -> TaskConfig:
    try:
        from beyondmode.tasks.registry import get_task  # noqa: F401

        return TaskConfig("ddx_sim", {"num_examples": 512}, 512)
    except ImportError:
        sys.path.insert(0, str(ROOT / "tests" / "train"))
        return TaskConfig("toy_task:ToyTask", {"num_examples": 512, "short_prompt": False}, 512)


def config_for(method: str, steps: int, output: Path) -> RunConfig:
    config = load_config(
        None,
        [
            f"method.method={method}",
            "method.num_candidates=3",
            f"output.dir={output}",
            "output.save_steps=100000",
            "warmstart.confidence=oracle",
            "warmstart.steps=150",
            "warmstart.batch_size=32",
            "warmstart.learning_rate=3e-3",
            "warmstart.log_every=0",
            f"trl.max_steps={steps}",
            "trl.per_device_train_batch_size=64",
            "trl.num_generations=8",
            "trl.max_completion_length=48",
            "trl.learning_rate=1e-4",
            "trl.logging_steps=1",
            "trl.disable_tqdm=true",
            "trl.save_strategy='no'",  # quoted: YAML reads a bare no as false
        ],
    )
    return dataclasses.replace(config, task=bench_task())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--method", default="multi_rlcr")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = [0.0]
    original = grpo.build_reward_functions

    def timed_functions(scorer: Any, log_terms: bool = True) -> tuple[list[Any], list[float]]:
        functions, weights = original(scorer, log_terms)
        return [Timed(f, clock) for f in functions], weights

    grpo.build_reward_functions = timed_functions  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        config = config_for(args.method, args.steps, Path(folder))
        start = time.perf_counter()
        run_warmstart(config)
        warm_seconds = time.perf_counter() - start
        start = time.perf_counter()
        result = grpo.train_grpo(config)
        train_seconds = time.perf_counter() - start
    step_times = [entry["step_time"] for entry in result.log_history if "step_time" in entry]
    per_step = sum(step_times) / len(step_times)
    print(
        f"task {config.task.name}, method {args.method}, K=3, 8 prompts x 8 generations, "
        f"{args.threads} thread(s)"
    )
    print(f"warm start (150 SFT steps, batch 32): {warm_seconds:.1f} s")
    print(
        f"GRPO: {per_step:.3f} s per step (TRL step_time, mean of {len(step_times)} steps); "
        f"{train_seconds:.1f} s wall for {result.global_step} steps including trainer setup"
    )
    print(
        f"rewards: {clock[0]:.3f} s in total, {clock[0] / result.global_step * 1000:.1f} ms per step, "
        f"{100 * clock[0] / sum(step_times):.2f} % of step time (target < 5 %)"
    )


if __name__ == "__main__":
    main()
