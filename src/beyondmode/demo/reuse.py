"""Reusing the finished runs of an earlier invocation in the same folder only where they were trained
with the settings this one would use (the ablation and adaptive-K benches resume from their folder).

A warm start's weights depend on its task and warm-start settings (its paths aside; a warm start
that learns from labels ignores the sampling settings); a GRPO run's also on the format, the method,
the TRL arguments and the seed. Evaluation settings do not enter: a finished model can be evaluated
on more cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beyondmode.config import RunConfig, load_config

if TYPE_CHECKING:
    from beyondmode.demo.pipeline import Job

SELF_CONSISTENCY_ONLY = (
    "num_samples", "sample_temperature", "sample_prompt", "answer_shares", "sample_max_new_tokens",
    "sample_batch_size", "fill", "list_min_frequency", "list_samples", "list_temperature", "label_replay",
    "unlabelled", "unlabelled_skip",
)  # fmt: skip
"""Warm-start fields that only a self-consistency warm start (one that samples its base) reads."""


def warm_start_settings(config: RunConfig) -> tuple[Any, ...]:
    """What a warm start's weights depend on: the task and the warm-start settings, without paths
    and, for one that does not sample its base, without the sampling settings."""
    ignored: dict[str, Any] = {"init": "", "output_dir": "", "samples_from": None}
    if config.warmstart.confidence != "self_consistency":
        ignored |= {name: None for name in SELF_CONSISTENCY_ONLY}
    return config.task, replace(config.warmstart, **ignored)


def grpo_settings(config: RunConfig) -> tuple[Any, ...]:
    """What a GRPO run's weights depend on beyond its warm start's folder."""
    return config.task, config.format, config.method, dict(config.trl), config.seed


def stored_settings_differ(folder: Path, config: RunConfig, grpo: bool) -> bool:
    """Whether the `config.yaml` a finished run stored in `folder` was trained with other settings
    than `config` would train it with (False where none is stored)."""
    stored = folder / "config.yaml"
    if not stored.is_file():
        return False
    settings = grpo_settings if grpo else warm_start_settings
    return settings(load_config(stored, [])) != settings(config)


def stale_jobs(jobs: Sequence[Job], finished: set[str]) -> list[str]:
    """The finished `warmstart/...` and `grpo/...` jobs (whose first argument is the run config)
    whose stored settings differ from those this invocation would train them with."""
    stale = []
    for job in jobs:
        if job.name not in finished or not job.name.startswith(("warmstart/", "grpo/")):
            continue
        config = job.args[0]
        grpo = job.name.startswith("grpo/")
        folder = Path(config.output.dir if grpo else config.warmstart.output_dir)
        if stored_settings_differ(folder, config, grpo):
            stale.append(job.name)
    return stale
