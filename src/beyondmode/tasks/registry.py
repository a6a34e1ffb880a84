"""The task registry: names to constructors, open to other modules (`register_task`).

>>> task = get_task("ddx_sim", num_examples=2, seed=1)
>>> task.name, task.num_examples
('ddx_sim', 2)
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable, Mapping

from beyondmode.tasks.base import Task

logger = logging.getLogger(__name__)

TaskFactory = Callable[..., Task]
TASKS: dict[str, TaskFactory] = {}
"""Registered tasks: name -> constructor taking the task's options as keyword arguments."""


def register_task(name: str, factory: TaskFactory, *, replace: bool = False) -> None:
    """Register `factory` under `name`; registering a taken name needs `replace=True`."""
    if name in TASKS and not replace and TASKS[name] is not factory:
        raise ValueError(f"task {name!r} is already registered (pass replace=True to override it)")
    TASKS[name] = factory


def get_task(name: str, **options: object) -> Task:
    """Build the registered task `name` with `options`; unknown names or options raise a clear error."""
    try:
        factory = TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; registered tasks: {sorted(TASKS)}") from None
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as error:
        raise ValueError(
            f"task {name!r}: bad options {sorted(options)}: {error}; accepted: {task_options(name)}"
        ) from None
    return factory(**options)


def resolve_task(spec: str, options: Mapping[str, object] | None = None) -> Task:
    """A registered task name, or "package.module:factory" for a task of your own, built with `options`.

    >>> resolve_task("ddx_sim", {"num_examples": 1}).name
    'ddx_sim'
    """
    options = dict(options or {})
    if ":" not in spec:
        return get_task(spec, **options)
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"task {spec!r}: cannot import {attribute} from {module_name} ({error})") from None
    return factory(**options)


def task_options(name: str) -> list[str]:
    """The option names accepted by the task `name`."""
    parameters = inspect.signature(TASKS[name]).parameters.values()
    return [p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _register_builtin() -> None:
    from beyondmode.tasks.ambigqa import AmbigQATask
    from beyondmode.tasks.code_sim import CodeSimTask
    from beyondmode.tasks.ddx_sim_task import DdxSimTask
    from beyondmode.tasks.ddxplus import DdxPlusTask
    from beyondmode.tasks.hotpotqa import HotpotQATask
    from beyondmode.tasks.humaneval import HumanEvalTask
    from beyondmode.tasks.mbpp import MbppTask
    from beyondmode.tasks.qa import QATask

    for name, factory in (
        ("ddx_sim", DdxSimTask),
        ("ddxplus", DdxPlusTask),
        ("ambigqa", AmbigQATask),
        ("hotpotqa", HotpotQATask),
        ("mbpp", MbppTask),
        ("humaneval", HumanEvalTask),
        ("qa", QATask),
        ("code_sim", CodeSimTask),
    ):
        register_task(name, factory)


_register_builtin()
