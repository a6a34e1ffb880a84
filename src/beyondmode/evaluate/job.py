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

import enum
import types
import typing
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
    """Build `EvalSettings` from plain data; lists become tuples; unknown keys and wrong types are named.

    >>> settings_from_mapping({"max_answers": "three"})
    Traceback (most recent call last):
    ...
    ValueError: eval: key 'eval.max_answers' must be an integer, got 'three'
    """
    if not isinstance(section, Mapping):
        raise ValueError(f"{where}: key 'eval' must be a mapping of settings, got {section!r}")
    hints = typing.get_type_hints(EvalSettings)
    unknown = sorted(set(section) - set(hints))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(hints)}")
    values = {key: _typed(f"eval.{key}", hints[key], value, where) for key, value in section.items()}
    try:
        return EvalSettings(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: {error}") from None


_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
_PLURAL = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}


def _typed(key: str, hint: Any, value: Any, where: str) -> Any:
    """`value` checked against the type hint of an `EvalSettings` field (ints accepted as floats)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ValueError(f"{where}: key {key!r} must not be null")
    hint = next(o for o in options if o is not type(None))
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: key {key!r} must be a list of {_PLURAL[item]}, got {value!r}")
        return tuple(_typed(f"{key}[{i}]", item, v, where) for i, v in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ValueError(f"{where}: key {key!r} must be one of {allowed}, got {value!r}")
        return hint(value)
    accepted = {int: (int,), float: (int, float), bool: (bool,), str: (str,)}[hint]
    if not isinstance(value, accepted) or (hint is not bool and isinstance(value, bool)):
        raise ValueError(f"{where}: key {key!r} must be {_TYPE_WORDS[hint]}, got {value!r}")
    return float(value) if hint is float else value


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
            raise ValueError(f"{path}: key '{key}' is required (a string), got {data.get(key)!r}")
    if not isinstance(data.get("task_options") or {}, dict):
        raise ValueError(f"{path}: key 'task_options' must be a mapping, got {data['task_options']!r}")
    if not isinstance(data.get("output_dir") or "", str):
        raise ValueError(f"{path}: key 'output_dir' must be a string, got {data['output_dir']!r}")
    settings = settings_from_mapping(data.get("eval") or {}, where=f"{path}: eval")
    output = (
        data.get("output_dir") or f"runs/eval/{data['task'].replace(':', '_')}-{Path(data['model']).name}"
    )
    return EvalJob(data["model"], data["task"], Path(output), settings, dict(data.get("task_options") or {}))
