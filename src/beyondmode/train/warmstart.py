"""The SFT warm start (`beyondmode warmstart`): teaches a model the method's format before GRPO.

For `warmstart.init: tiny` a fresh Llama-style model and a word-level tokenizer are built from the
task's own text (`beyondmode.models.tiny`); any other model is loaded as is. Then:

- `uniform` / `constant` / `oracle` confidences: one SFT on completions from `warmstart_data`.
- `self_consistency` (label-free): (1) when `base_steps` > 0, SFT on the single-answer format with
  answers drawn from the base distribution, which makes the model a base that can answer; (2) sample
  that base `num_samples` times per prompt with the single-answer format; (3) SFT (continuing from the
  base) on K-candidate completions sorted by the answers' sampling frequencies, the frequencies as
  confidences.

The result (model + tokenizer, `config.yaml`, `run_info.json` with the SFT losses and sampling
statistics) is saved to `warmstart.output_dir`, an ordinary HF folder for `model.name_or_path` of the
GRPO run.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from beyondmode.config import RunConfig
from beyondmode.formats import AnswerFormat
from beyondmode.grading.base import Grader, get_grader
from beyondmode.tasks.base import Task
from beyondmode.train.dataset import example_row, resolve_task, take_examples
from beyondmode.train.recipe import answer_format
from beyondmode.train.run_info import record_run
from beyondmode.train.sft import SFTSettings, sample_completions, sft
from beyondmode.train.warmstart_data import (
    base_distribution,
    frequency_completion,
    think_text,
    warmstart_completion,
)
from beyondmode.types import Example

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float], None]
"""progress(stage, step, total, loss) for a CLI progress bar."""


def single_answer_format(fmt: AnswerFormat) -> AnswerFormat:
    """The single-answer variant (K = 1, no confidence) used to sample a base model."""
    return replace(fmt, num_candidates=1, with_confidence=False)


def sft_pairs(
    examples: Sequence[Example], fmt: AnswerFormat, tokenizer: Any, config: RunConfig, pool: Sequence[str]
) -> list[tuple[Any, str]]:
    """(prompt, completion) pairs with answers from the base distribution (non-self-consistency modes)."""
    rng = random.Random(config.seed)
    warm = config.warmstart
    confidence = "uniform" if warm.confidence == "self_consistency" else warm.confidence
    return [
        (
            example_row(example, tokenizer)["prompt"],
            warmstart_completion(
                example,
                fmt,
                rng,
                confidence,
                warm.constant_confidence,
                warm.oracle_noise,
                pool,
                use_posterior=warm.answers == "posterior",
            ),
        )
        for example in examples
    ]


def answer_pool(examples: Sequence[Example]) -> list[str]:
    """Every answer the examples name (gold answers and, where known, posterior keys): the fillers."""
    return list(
        dict.fromkeys(
            answer for example in examples for answer in base_distribution(example, use_posterior=True)
        )
    )


def build_model(
    config: RunConfig, examples: Sequence[Example], formats: Sequence[AnswerFormat]
) -> tuple[Any, Any]:
    """A fresh tiny model + word tokenizer (`warmstart.init: tiny`), or the given pretrained model."""
    if config.warmstart.init != "tiny":
        from beyondmode.models.loading import load_model

        loaded = load_model(config.warmstart.init, config.model.dtype)
        return loaded.model, loaded.tokenizer
    from beyondmode.models.tiny import build_tiny_model, build_word_tokenizer, task_words

    tokenizer = build_word_tokenizer([], task_words(examples, formats))
    return build_tiny_model(config.model.tiny, tokenizer, config.seed), tokenizer


def answer_counts(texts: Sequence[str], single: AnswerFormat, grader: Grader) -> Counter[str]:
    """How often each answer appears among sampled single-answer completions (answers the grader
    considers the same are merged under their first spelling; unparsable samples are skipped).

    >>> from beyondmode.grading import get_grader
    >>> fmt = AnswerFormat(num_candidates=1, with_confidence=False)
    >>> answer_counts(["<think> x </think> <answer> Flu </answer>", "<answer> flu. </answer>", "noise"],
    ...               fmt, get_grader("exact_match"))
    Counter({'Flu': 2})
    """
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for text in texts:
        parsed = single.parse(text)
        if parsed.candidates and parsed.candidates[0].text:
            answer = parsed.candidates[0].text
            counts[spelling.setdefault(grader.canonical(answer), answer)] += 1
    return counts


def self_consistency_pairs(
    model: Any,
    tokenizer: Any,
    task: Task,
    config: RunConfig,
    fmt: AnswerFormat,
    examples: Sequence[Example],
    progress: Progress | None,
) -> tuple[list[tuple[Any, str]], dict[str, Any]]:
    """Steps (1)-(2) of the self-consistency warm start; returns the K-candidate pairs and statistics."""
    warm = config.warmstart
    single = single_answer_format(fmt)
    singles = take_examples(task, single, config.task.max_examples)
    pool = answer_pool(singles)
    stats: dict[str, Any] = {}
    if warm.base_steps > 0:
        base_pairs = sft_pairs(singles, single, tokenizer, config, pool)
        settings = _settings(config, warm.base_steps)
        losses = sft(model, tokenizer, base_pairs, settings, _stage(progress, "base", warm.base_steps))
        stats["base_loss_first_last"] = [losses[0], losses[-1]]
    prompts = [example_row(example, tokenizer)["prompt"] for example in singles]
    targets = sft_pairs(singles[:50], single, tokenizer, config, pool)
    longest = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for _, c in targets)
    samples = sample_completions(
        model, tokenizer, prompts, warm.num_samples, longest + 16, warm.sample_temperature
    )
    grader = get_grader(task.grader)
    rng = random.Random(config.seed)
    by_id = {example.id: example for example in examples}
    pairs: list[tuple[Any, str]] = []
    parsed = distinct = 0
    for single_example, texts in zip(singles, samples, strict=True):
        counts = answer_counts(texts, single, grader)
        parsed += sum(counts.values())
        distinct += len(counts)
        example = by_id[single_example.id]
        completion = frequency_completion(counts, fmt, think_text(example), pool, rng)
        pairs.append((example_row(example, tokenizer)["prompt"], completion))
    stats.update(
        sample_parse_rate=parsed / (len(singles) * warm.num_samples),
        mean_distinct_answers=distinct / len(singles),
    )
    logger.info(
        "self-consistency: %.1f%% of samples parsed, %.2f distinct answers per prompt",
        100 * stats["sample_parse_rate"],
        stats["mean_distinct_answers"],
    )
    return pairs, stats


def run_warmstart(config: RunConfig, task: Task | None = None, progress: Progress | None = None) -> Path:
    """Build or load the model, SFT it as configured, save it to `warmstart.output_dir`."""
    task = task if task is not None else resolve_task(config.task)
    fmt = answer_format(config)
    examples = take_examples(task, fmt, config.task.max_examples)
    single_examples = take_examples(task, single_answer_format(fmt), config.task.max_examples)
    model, tokenizer = build_model(config, [*examples, *single_examples], [fmt, single_answer_format(fmt)])
    stats: dict[str, Any] = {"confidence": config.warmstart.confidence, "num_examples": len(examples)}
    if config.warmstart.confidence == "self_consistency":
        pairs, sampling = self_consistency_pairs(model, tokenizer, task, config, fmt, examples, progress)
        stats.update(sampling)
    else:
        pairs = sft_pairs(examples, fmt, tokenizer, config, answer_pool(examples))
    losses = sft(
        model,
        tokenizer,
        pairs,
        _settings(config, config.warmstart.steps),
        _stage(progress, "sft", config.warmstart.steps),
    )
    stats["loss_first_last"] = [losses[0], losses[-1]] if losses else []
    output = Path(config.warmstart.output_dir)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    record_run(output, config, "warmstart", stats)
    logger.info("warm start saved to %s (final loss %.4f)", output, losses[-1] if losses else float("nan"))
    return output


def _settings(config: RunConfig, steps: int) -> SFTSettings:
    warm = config.warmstart
    return SFTSettings(
        steps=steps,
        batch_size=warm.batch_size,
        learning_rate=warm.learning_rate,
        warmup_steps=min(warm.warmup_steps, max(1, steps // 2)),
        max_length=warm.max_length,
        log_every=warm.log_every,
        seed=config.seed,
    )


def _stage(progress: Progress | None, stage: str, total: int) -> Callable[[int, float], None] | None:
    if progress is None:
        return None
    return lambda step, loss: progress(stage, step, total, loss)
