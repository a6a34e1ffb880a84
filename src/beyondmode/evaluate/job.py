"""An evaluation job read from YAML: model, task, output directory and `EvalSettings` (the `eval:` section).

    model: out/tiny-multi_rlcr          # model directory or hub id (or the served name, with backend openai)
    task: ddx_sim                       # a registered task name, or "package.module:factory"
    task_options: {num_examples: 200}   # keyword arguments of the task factory
    output_dir: out/eval/tiny-multi_rlcr
    eval: {methods: [multi_answer, best_of_k, greedy], num_candidates: 3, max_answers: 30}

Unknown keys and wrong values fail with the file and key named, before any model is loaded. The task is
built by `beyondmode.tasks.registry.resolve_task`, as in training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from beyondmode.evaluate.settings import EvalSettings

_TOP_KEYS = {"model", "task", "task_options", "output_dir", "eval"}


@dataclass(frozen=True, slots=True)
class EvalJob:
    """What `beyondmode eval` runs."""

    model: str
    task: str
    output_dir: Path
    settings: EvalSettings
    task_options: Mapping[str, Any] = field(default_factory=dict)


def settings_from_mapping(section: Mapping[str, Any], where: str = "eval") -> EvalSettings:
    """Build `EvalSettings` from plain data; lists become tuples; unknown keys are named."""
    names = {f.name for f in dataclasses.fields(EvalSettings)}
    unknown = sorted(set(section) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in section.items()}
    try:
        return EvalSettings(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


def load_job(path: str | Path, overrides: Mapping[str, Any] | None = None) -> EvalJob:
    """Read an evaluation job from YAML; `overrides` ({"eval.max_answers": 10, "model": ...}) win."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"evaluation config {path} not found")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        head, _, tail = dotted.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = value
        else:
            data[head] = value
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; known: {sorted(_TOP_KEYS)}")
    for key in ("model", "task"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{path}: '{key}' is required (a string)")
    settings = settings_from_mapping(data.get("eval") or {}, where=f"{path}: eval")
    output = (
        data.get("output_dir") or f"runs/eval/{data['task'].replace(':', '_')}-{Path(data['model']).name}"
    )
    return EvalJob(data["model"], data["task"], Path(output), settings, dict(data.get("task_options") or {}))
