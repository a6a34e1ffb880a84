"""Evaluation: generation backends, methods drawn on the same examples, metrics over a run, result files.

    settings = EvalSettings(methods=("multi_answer", "best_of_k", "greedy"), num_candidates=3)
    summary = run_evaluation(task, build_backend(settings, "out/model"), settings, Path("out/eval"),
                             model="out/model")

`summary["methods"][name]["metrics"]["recall@5"]` is {"mean", "ci_low", "ci_high"}; see docs/evaluation.md
for every key.
"""

from beyondmode.evaluate.backends import Backend, Generation, ScriptedBackend, build_backend
from beyondmode.evaluate.methods import EvalMethod, build_methods
from beyondmode.evaluate.results import load_summary
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.settings import METHOD_NAMES, BackendKind, EvalSettings

__all__ = [
    "METHOD_NAMES",
    "Backend",
    "BackendKind",
    "EvalMethod",
    "EvalSettings",
    "Generation",
    "ScriptedBackend",
    "build_backend",
    "build_methods",
    "load_summary",
    "run_evaluation",
]
