"""Run an evaluation: generate (resuming from the cache), grade, summarize, write the result files.

>>> # see tests/evaluate/test_runner.py for a complete run with a scripted backend
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from beyondmode import __version__
from beyondmode.atomic_write import write_text_atomic
from beyondmode.evaluate.backends.base import Backend
from beyondmode.evaluate.cache import GenerationCache
from beyondmode.evaluate.methods import EvalMethod, build_methods
from beyondmode.evaluate.results import (
    GENERATIONS_FILE,
    ROWS_FILE,
    SUMMARY_FILE,
    candidate_rows,
    write_rows,
    write_summary,
)
from beyondmode.evaluate.scored import ORACLE, ScoredGeneration, oracle_generations, score_generation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.evaluate.summary import summarize_method
from beyondmode.formats import FORMAT_VERSION, AnswerFormat
from beyondmode.grading import get_grader
from beyondmode.grading.code import prefetch_code_runs
from beyondmode.rewards import REWARD_VERSION
from beyondmode.scoring import Scorer
from beyondmode.tasks.base import Task
from beyondmode.types import Example

logger = logging.getLogger(__name__)

FINGERPRINT_FILE = "generation_settings.json"


def method_examples(
    task: Task, methods: Sequence[EvalMethod], num_examples: int | None
) -> dict[str, list[Example]]:
    """Each method's examples (prompts carry its format), checked to be the same examples, same order."""
    by_format: dict[AnswerFormat, list[Example]] = {}
    result: dict[str, list[Example]] = {}
    for method in methods:
        fmt = method.answer_format
        if fmt not in by_format:
            by_format[fmt] = list(itertools.islice(task.examples(fmt), num_examples))
        result[method.name] = by_format[fmt]
    ids = {tuple(e.id for e in examples) for examples in by_format.values()}
    if len(ids) > 1:
        raise ValueError(f"task {task.name!r} yields different examples for different answer formats")
    if len(set(next(iter(ids), ()))) != len(next(iter(ids), ())):
        raise ValueError(f"task {task.name!r} yields duplicate example ids")
    return result


def generate_missing(
    backend: Backend,
    method: EvalMethod,
    examples: Sequence[Example],
    cache: GenerationCache,
    settings: EvalSettings,
    progress: bool = False,
) -> int:
    """Draw the generations of `method` not yet in the cache; returns how many were drawn."""
    needed = method.num_generations
    pending = [(e, cache.count(e.id, method.name, needed)) for e in examples]
    pending = [(e, have) for e, have in pending if have < needed]
    total = sum(needed - have for _, have in pending)
    if not total:
        return 0
    bar = _progress(total, f"{method.name}", progress)
    drawn = 0
    for batch in _batches(pending, settings.batch_size):
        for have, group in itertools.groupby(
            sorted(batch, key=lambda item: item[1]), key=lambda item: item[1]
        ):
            items = [e for e, _ in group]
            outputs = backend.generate(
                [method.prompt(e) for e in items],
                n=needed - have,
                temperature=method.temperature,
                max_new_tokens=settings.max_new_tokens,
                seed=[sample_seed(settings.seed, method.name, e.id, have) for e in items],
            )
            cache.append(
                (e.id, method.name, have + j, generation)
                for e, samples in zip(items, outputs, strict=True)
                for j, generation in enumerate(samples)
            )
            count = (needed - have) * len(items)
            drawn += count
            bar.update(count)
    bar.close()
    return drawn


def sample_seed(seed: int, method: str, example_id: str, sample: int) -> int:
    """The seed of generation `sample` of one example and method: a function of those alone (and the
    run's seed), never of the batch, so a resumed evaluation draws what an uninterrupted one draws.
    Backends draw sample `have + j` of a request from `sample_seed(..., have) + j`.

    >>> sample_seed(0, "multi_answer", "ex-1", 3) - sample_seed(0, "multi_answer", "ex-1", 0)
    3
    """
    digest = hashlib.sha256(f"{seed}\x00{method}\x00{example_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 2**20) + sample


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _progress(total: int, label: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"generating {label}", unit="gen", disable=not enabled, leave=False)


def score_method(
    method: EvalMethod, examples: Sequence[Example], cache: GenerationCache
) -> list[list[ScoredGeneration]]:
    """Grade every cached generation of `method` (sample order) for each example; code candidates of
    all generations run in one parallel sandbox batch first (`prefetch_code_runs`)."""
    _prefetch_code(method, examples, cache)
    scored = []
    for example in examples:
        generations = []
        for sample in range(method.num_generations):
            generation = cache.get(example.id, method.name, sample)
            if generation is None:
                raise RuntimeError(f"generation {sample} of {example.id} / {method.name} is missing")
            generations.append(score_generation(method, example, sample, generation))
        scored.append(generations)
    return scored


def _prefetch_code(method: EvalMethod, examples: Sequence[Example], cache: GenerationCache) -> None:
    by_grader: dict[str, list[tuple[str, Any]]] = {}
    for example in examples:
        for sample in range(method.num_generations):
            generation = cache.get(example.id, method.name, sample)
            if generation is not None:
                by_grader.setdefault(example.grader, []).append((generation.text, example.gold))
    for name, items in by_grader.items():
        scorer = Scorer(method.answer_format, method.reward_spec, get_grader(name))
        prefetch_code_runs(scorer, items)


def run_evaluation(
    task: Task,
    backend: Backend,
    settings: EvalSettings,
    run_dir: Path,
    *,
    model: str,
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate every method of `settings` on the same examples; write rows, summary; return the summary."""
    run_dir = Path(run_dir)
    methods = build_methods(settings)
    examples = method_examples(task, methods, settings.num_examples)
    check_resumable(run_dir, _generation_fingerprint(methods, examples, settings, model, task.name))
    cache = GenerationCache(run_dir / GENERATIONS_FILE)
    for method in methods:
        drawn = generate_missing(backend, method, examples[method.name], cache, settings, progress)
        logger.info("%s: drew %d generations (%d cached in total)", method.name, drawn, len(cache))
    rows: list[dict[str, Any]] = []
    blocks = {m.name: _method_block(m, examples[m.name], cache, settings, rows) for m in methods}
    reference = examples[methods[0].name] if methods else []
    oracle = _oracle_block(reference, settings, rows)
    if oracle is not None:
        blocks[ORACLE] = oracle
    summary = {
        "reward_version": REWARD_VERSION,
        "format_version": FORMAT_VERSION,
        "beyondmode_version": __version__,
        "model": model,
        "task": task.name,
        "grader": reference[0].grader if reference else None,
        "backend": getattr(backend, "name", type(backend).__name__),
        "num_examples": len(reference),
        "settings": asdict(settings),
        "methods": blocks,
    }
    write_rows(run_dir / ROWS_FILE, rows)
    write_summary(run_dir / SUMMARY_FILE, summary)
    logger.info("wrote %s and %s", run_dir / ROWS_FILE, run_dir / SUMMARY_FILE)
    return summary


def _summary_options(settings: EvalSettings) -> dict[str, Any]:
    return {
        "recall_ks": settings.recall_ks,
        "max_answers": settings.max_answers,
        "reliability_bins": settings.reliability_bins,
        "resamples": settings.bootstrap_resamples,
        "seed": settings.seed,
    }


def _method_block(
    method: EvalMethod,
    examples: Sequence[Example],
    cache: GenerationCache,
    settings: EvalSettings,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """Grade a method's generations, append its result rows, return its summary block."""
    scored = score_method(method, examples, cache)
    rows.extend(
        row for e, gens in zip(examples, scored, strict=True) for row in candidate_rows(method.name, e, gens)
    )
    return _describe(method) | summarize_method(scored, iid=method.iid, **_summary_options(settings))


def _oracle_block(
    examples: Sequence[Example], settings: EvalSettings, rows: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The Bayes-optimal row over the examples with a posterior (None when there are none)."""
    with_posterior = [e for e in examples if e.posterior is not None]
    if not with_posterior:
        return None
    oracle = [oracle_generations(e, settings.num_candidates, settings.max_answers) for e in with_posterior]
    rows.extend(
        row for e, gens in zip(with_posterior, oracle, strict=True) for row in candidate_rows(ORACLE, e, gens)
    )
    description = {
        "kind": "oracle",
        "num_candidates": settings.num_candidates,
        "iid": False,
        "temperature": None,
        "generations_per_example": None,
    }
    return description | summarize_method(oracle, iid=False, set_only=True, **_summary_options(settings))


def _generation_fingerprint(
    methods: Sequence[EvalMethod],
    examples: dict[str, list[Example]],
    settings: EvalSettings,
    model: str,
    task: str,
) -> dict[str, Any]:
    """What the cached generations depend on: a resumed run must not mix generations of other settings."""
    first = examples[methods[0].name] if methods else []
    return {
        "model": model,
        "task": task,
        "max_new_tokens": settings.max_new_tokens,
        "prompts": {e.id: _prompt_hash(e) for e in first},
        "methods": {
            m.name: {
                "format": repr(m.answer_format),
                "temperature": m.temperature,
                "extra_instruction": m.extra_instruction,
            }
            for m in methods
        },
    }


def check_resumable(run_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Record the generation settings of a run directory; refuse to resume one made with others.

    Methods and examples may be added (their generations are new); a method whose settings changed, an
    example whose prompt changed, or another model, task or token budget raises ValueError naming them.
    """
    path = run_dir / FINGERPRINT_FILE
    if path.is_file():
        previous = json.loads(path.read_text(encoding="utf-8"))
        changed = _fingerprint_changes(previous, fingerprint)
        if changed:
            raise ValueError(
                f"{run_dir} holds generations made with other settings ({', '.join(changed)}); "
                "use a new output_dir, or delete its generations.jsonl to regenerate"
            )
        fingerprint = {
            **fingerprint,
            "methods": {**previous.get("methods", {}), **fingerprint["methods"]},
            "prompts": {**previous.get("prompts", {}), **fingerprint["prompts"]},
        }
    write_text_atomic(path, json.dumps(fingerprint, indent=2) + "\n")


def _fingerprint_changes(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    changed = [k for k in ("model", "task", "max_new_tokens") if previous.get(k) != current[k]]
    old_methods = previous.get("methods", {})
    changed += [f"methods.{n}" for n, spec in current["methods"].items() if old_methods.get(n, spec) != spec]
    old_prompts = previous.get("prompts", {})
    changed += [f"prompt of {i}" for i, h in current["prompts"].items() if old_prompts.get(i, h) != h][:5]
    return changed


def _prompt_hash(example: Example) -> str:
    text = json.dumps([dict(m) for m in example.prompt], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _describe(method: EvalMethod) -> dict[str, Any]:
    return {
        "kind": "multi" if method.is_multi else "single",
        "num_candidates": method.answer_format.num_candidates,
        "with_confidence": method.answer_format.with_confidence,
        "iid": method.iid,
        "temperature": method.temperature,
        "generations_per_example": method.num_generations,
    }
