"""The SFT warm start (`beyondmode warmstart`): teaches a model the method's format before GRPO.

For `warmstart.init: tiny` a fresh Llama-style model and a word-level tokenizer are built from the
task's own text (`beyondmode.models.tiny`); any other model is loaded as is. Then:

- `uniform` / `constant` / `oracle` confidences: one SFT on completions from `warmstart_data`.
- `self_consistency` (label-free): (1) when `base_steps` > 0 (tiny models only), SFT on the
  single-answer format with answers drawn from the base distribution, which makes the model a base that
  can answer; (2) sample that base `num_samples` times per prompt; (3) SFT (continuing from the base) on
  K-candidate completions sorted by the answers' sampling frequencies, the frequencies as confidences.
  `warmstart.sample_prompt`: `format` samples with the single-answer format (the tiny model, taught it
  in (1)); `plain` (the default for a pretrained model: `auto`) asks the plain question and reduces the
  model's free-text replies to short answers (`warmstart_plain`), so a pretrained model's OWN answers
  become the targets and nothing from the answer key does (`base_steps` must then be 0). `options`
  (a task whose prompt lists its possible answers, `answer_options`: DDXPlus) asks the plain question
  with the task's sentence and list, and instead of sampling computes the model's probability of
  replying with exactly each listed answer (`option_probabilities`): the frequencies infinitely many
  samples would give, restricted to the list; `num_samples` is not used. `warmstart.answer_shares:
  exact` does the same for the `format` prompt (a tiny model): each answer the training cases' labels
  name (`label_vocabulary`; the task's listed answers where it lists them) is scored as the
  single-answer completion naming it, with the warm start's think text (`option_probabilities.
  reply_shares`), so the K answers and confidences carry no sampling noise. `warmstart.unlabelled`
  adds prompts without labels that the base answers too (`unlabelled_prompts`), and
  `warmstart.label_replay` mixes the base's single-answer label examples into the K-candidate SFT.

Every phase reports progress (`progress(stage, step, total, loss)`: `base`, `sampling`, `sft`). With
`warmstart.save_steps` > 0 the SFT writes a checkpoint every that many steps into
`<output_dir>/warmstart_state/`, beside the sampled SFT pairs (`pairs.jsonl`); `resume=True` reuses the
pairs (no re-sampling) and continues the SFT from the checkpoint. `warmstart.lora: true` trains a LoRA
adapter (peft; rank `lora_rank`, alpha `lora_alpha`, every linear layer) and merges it into the saved
model, so the output is an ordinary HF folder either way.

The result (model + tokenizer, `config.yaml`, `run_info.json` with the SFT losses and sampling
statistics) is saved to `warmstart.output_dir`, an ordinary HF folder for `model.name_or_path` of the
GRPO run.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_jsonl_atomic
from beyondmode.config import RunConfig
from beyondmode.formats import AnswerFormat
from beyondmode.grading.base import Grader, get_grader
from beyondmode.tasks.base import Task, task_answer_options
from beyondmode.train.dataset import example_row, resolve_task, take_examples
from beyondmode.train.option_probabilities import option_shares, reply_shares
from beyondmode.train.recipe import answer_format
from beyondmode.train.run_info import record_run
from beyondmode.train.sft import SFTSettings, encode_prompt, sample_completions, sft
from beyondmode.train.unlabelled_prompts import describe, unlabelled_examples, unlabelled_pair
from beyondmode.train.warmstart_data import (
    SAMPLES_FILE,
    base_distribution,
    check_list_sampling,
    frequency_completion,
    reference_answers,
    sampled_list_completions,
    think_text,
    warmstart_completion,
)
from beyondmode.train.warmstart_plain import (
    fill_check,
    model_answer_pool,
    plain_messages,
    short_answer,
    think_for,
)
from beyondmode.types import Example

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int, float], None]
"""progress(stage, step, total, loss) for a CLI progress bar."""
STATE_DIR = "warmstart_state"
PAIRS_FILE = "pairs.jsonl"
CHECKPOINT_FILE = "sft_checkpoint.pt"
TOKENIZER_MAX_CANDIDATES = 5
"""A tiny model's tokenizer knows the format tags of K = 1..5 at least (`vocabulary_formats`)."""


def sampling_prompt(config: RunConfig) -> str:
    """`format`, `plain` or `options` (module docstring); `auto` is `format` for tiny, else `plain`."""
    mode = config.warmstart.sample_prompt
    if mode == "auto":
        return "format" if config.warmstart.init == "tiny" else "plain"
    return mode


def single_answer_format(fmt: AnswerFormat) -> AnswerFormat:
    """The single-answer variant (K = 1, no confidence) used to sample a base model."""
    return replace(fmt, num_candidates=1, with_confidence=False)


def vocabulary_formats(fmt: AnswerFormat) -> list[AnswerFormat]:
    """The formats whose tags and prompts a tiny model's tokenizer covers: `fmt` and its variants with
    K = 1..max(K, `TOKENIZER_MAX_CANDIDATES`), with and without confidences. Every tiny warm start of a
    task then shares one vocabulary, so one format's warm start can be continued in another (the demo's
    multi-answer warm starts sample the single-answer one).

    >>> [(f.num_candidates, f.with_confidence) for f in vocabulary_formats(AnswerFormat(2))][:3]
    [(2, True), (1, False), (1, True)]
    """
    family = list(dict.fromkeys([fmt, single_answer_format(fmt)]))
    for k in range(1, max(fmt.num_candidates, TOKENIZER_MAX_CANDIDATES) + 1):
        for with_confidence in (False, True):
            fewest = (
                fmt.min_candidates if fmt.min_candidates is not None and fmt.min_candidates <= k else None
            )
            variant = replace(fmt, num_candidates=k, with_confidence=with_confidence, min_candidates=fewest)
            if variant not in family:
                family.append(variant)
    return family


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


def label_replay_pairs(
    singles: Sequence[Example],
    single: AnswerFormat,
    tokenizer: Any,
    config: RunConfig,
    num_pairs: int,
    rng: random.Random,
) -> list[tuple[Any, str]]:
    """Single-answer pairs with the training labels (the base's SFT data) to mix into `num_pairs`
    K-candidate pairs, so that they make up `warmstart.label_replay` of the SFT's examples: every
    example's pair in a shuffled order, repeated as often as the share needs.

    With share r the replayed count is round(num_pairs * r / (1 - r)): r = 0.5 doubles the data.
    """
    share = config.warmstart.label_replay
    wanted = round(num_pairs * share / (1.0 - share))
    pairs = sft_pairs(singles, single, tokenizer, config, answer_pool(singles))
    replay: list[tuple[Any, str]] = []
    while len(replay) < wanted:
        order = list(range(len(pairs)))
        rng.shuffle(order)
        replay += [pairs[i] for i in order[: wanted - len(replay)]]
    return replay


def answer_pool(examples: Sequence[Example]) -> list[str]:
    """Every answer the examples name (gold answers and, where known, posterior keys): the fillers.
    Examples with reference answers (code_sim) give only those: another case's program is a filler a user
    has; the posterior's programs, fitted to this case, are not."""
    return list(
        dict.fromkeys(
            answer
            for example in examples
            for answer in reference_answers(example) or base_distribution(example, use_posterior=True)
        )
    )


def build_model(
    config: RunConfig, examples: Sequence[Example], formats: Sequence[AnswerFormat]
) -> tuple[Any, Any]:
    """A fresh tiny model + word tokenizer (`warmstart.init: tiny`), or the given pretrained model."""
    if config.warmstart.init != "tiny":
        from beyondmode.models.loading import load_model

        device = config.warmstart.device
        if device == "auto":
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        loaded = load_model(config.warmstart.init, config.model.dtype, device)
        return loaded.model, loaded.tokenizer
    from beyondmode.models.tiny import build_tiny_model, build_word_tokenizer, task_words

    tokenizer = build_word_tokenizer([], task_words(examples, formats))
    return build_tiny_model(config.model.tiny, tokenizer, config.seed), tokenizer


def answer_counts(
    texts: Sequence[str], single: AnswerFormat | None, grader: Grader, max_words: int = 8
) -> Counter[str]:
    """How often each answer appears among sampled single-answer completions (answers the grader
    considers the same are merged under their first spelling; unparsable samples are skipped).
    `single` None: the samples are free text, reduced by `warmstart_plain.short_answer`.

    >>> from beyondmode.grading import get_grader
    >>> fmt = AnswerFormat(num_candidates=1, with_confidence=False)
    >>> answer_counts(["<think> x </think> <answer> Flu </answer>", "<answer> flu. </answer>", "noise"],
    ...               fmt, get_grader("exact_match"))
    Counter({'Flu': 2})
    """
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for text in texts:
        if single is None:
            answer = short_answer(text, max_words)
        else:
            parsed = single.parse(text)
            answer = parsed.candidates[0].text if parsed.candidates else None
        if answer and grader.canonical(answer):
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
    samples_path: Path | None = None,
) -> tuple[list[tuple[Any, str]], dict[str, Any]]:
    """Steps (1)-(2) of the self-consistency warm start; returns the K-candidate pairs and statistics.

    The sampled answers are counted per example and, with `samples_path`, written there (`SAMPLES_FILE`:
    a header of the sampling settings, then one row of counts per example); `warmstart.samples_from`
    reads such a file instead of sampling."""
    warm = config.warmstart
    mode = sampling_prompt(config)
    plain = mode in ("plain", "options")
    fill_check(warm.fill)
    check_list_sampling(warm.list_samples, warm.list_temperature)
    single = single_answer_format(fmt)
    singles = take_examples(task, single, config.task.max_examples)
    stats: dict[str, Any] = {"sample_prompt": mode}
    options = task_answer_options(task) if mode == "options" else None
    exact = warm.answer_shares == "exact"
    if exact and mode != "format":
        raise ValueError(
            f"warmstart.answer_shares 'exact' scores the single-answer format's completions (sample_prompt "
            f"'format', a tiny model); with sample_prompt {mode!r} set answer_shares 'sampled' ('options' "
            f"is exact already)"
        )
    if mode == "options" and options is None:
        raise ValueError(
            f"warmstart.sample_prompt 'options' needs a task whose prompt lists its answers; task "
            f"{task.name!r} lists none (ddxplus does with list_pathologies and a patient CSV)"
        )
    if options is not None and len(options) < fmt.num_candidates:
        raise ValueError(
            f"task {task.name!r} lists {len(options)} answers, fewer than K = {fmt.num_candidates}"
        )
    if plain and warm.base_steps > 0:
        raise ValueError(
            "warmstart.base_steps > 0 trains on the task's gold answers before sampling; with "
            "warmstart.sample_prompt 'plain' (a pretrained model) set warmstart.base_steps=0"
        )
    if not 0.0 <= warm.label_replay < 1.0:
        raise ValueError(f"warmstart.label_replay must be in [0, 1), got {warm.label_replay}")
    if plain and warm.label_replay > 0:
        raise ValueError(
            f"warmstart.label_replay mixes the task's gold answers into the SFT; with warmstart.sample_prompt "
            f"{mode!r} (a pretrained model's label-free warm start) set warmstart.label_replay=0"
        )
    extra_singles, extra = unlabelled_pair(warm.unlabelled, warm.unlabelled_skip, single, fmt)
    if extra:
        stats.update(describe(extra))
        logger.info("self-consistency: %d unlabelled prompts join %d labelled ones", len(extra), len(singles))
    prompted = [*singles, *extra_singles]  # every prompt the base answers; labels only from `singles`
    if warm.base_steps > 0:
        base_pairs = sft_pairs(singles, single, tokenizer, config, answer_pool(singles))
        settings = _settings(config, warm.base_steps)
        losses = sft(model, tokenizer, base_pairs, settings, _stage(progress, "base", warm.base_steps))
        stats["base_loss_first_last"] = [losses[0], losses[-1]]
    if plain:
        sentence = task.task_sentence if options is not None else None
        prompts = [
            example_row(replace(e, prompt=plain_messages(e, sentence)), tokenizer)["prompt"] for e in prompted
        ]
        max_new_tokens = 0 if options is not None else warm.sample_max_new_tokens
    else:
        prompts = [example_row(example, tokenizer)["prompt"] for example in prompted]
        max_new_tokens = 0
        if not exact:
            targets = sft_pairs(singles[:50], single, tokenizer, config, answer_pool(singles))
            max_new_tokens = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for _, c in targets)
            max_new_tokens += 16
    scored = options is not None or exact  # exact shares instead of samples
    sampling = {
        "init": warm.init,
        "base_steps": warm.base_steps,
        "seed": config.seed,
        "num_samples": 0 if scored else warm.num_samples,
        "sample_temperature": 0.0 if scored else warm.sample_temperature,
        "sample_prompt": stats["sample_prompt"],
        "max_new_tokens": max_new_tokens,
        "grader": task.grader,
        **({"answer_shares": "exact"} if exact else {}),
    }
    ids = [example.id for example in prompted]
    if warm.samples_from:
        if warm.base_steps > 0:
            raise ValueError(
                "warmstart.samples_from reuses samples of `init`; with warmstart.base_steps > 0 the SFT "
                "would continue from another model: set warmstart.base_steps=0"
            )
        counts_per_example = load_answer_samples(Path(warm.samples_from), sampling, ids)
        stats["samples_from"] = str(warm.samples_from)
        logger.info("self-consistency: reusing the samples of %s", warm.samples_from)
    elif options is not None:
        counts_per_example = option_shares(
            model,
            tokenizer,
            [encode_prompt(p, tokenizer) for p in prompts],
            options,
            progress=_stage(progress, "options", len(prompts)),
        )
    elif exact:
        vocabulary = task_answer_options(task) or label_vocabulary(singles, get_grader(task.grader))
        stats["vocabulary_size"] = len(vocabulary)
        counts_per_example = reply_shares(
            model,
            tokenizer,
            [encode_prompt(p, tokenizer) for p in prompts],
            (
                {answer: single.render([answer], think=think_text(e)) for answer in vocabulary}
                for e in prompted
            ),
            progress=_stage(progress, "shares", len(prompts)),
        )
    else:
        samples = sample_completions(
            model,
            tokenizer,
            prompts,
            warm.num_samples,
            max_new_tokens,
            warm.sample_temperature,
            batch_size=warm.sample_batch_size,
            progress=_stage(progress, "sampling", len(prompts)),
            seed=config.seed,
        )
        grader = get_grader(task.grader)
        counts_per_example = [answer_counts(texts, None if plain else single, grader) for texts in samples]
    if samples_path is not None:
        rows = [{"id": i, "counts": dict(counts)} for i, counts in zip(ids, counts_per_example, strict=True)]
        write_jsonl_atomic(samples_path, [sampling, *rows])
    # padding: the model's own answers to other prompts (plain), else the task's answer pool (tiny)
    pool = model_answer_pool(counts_per_example) if plain else answer_pool(singles)
    rng = random.Random(config.seed)
    threshold = listing_threshold(config)
    by_id = {example.id: example for example in [*examples, *extra]}
    pairs: list[tuple[Any, str]] = []
    dropped = 0
    for single_example, counts in zip(prompted, counts_per_example, strict=True):
        example = by_id[single_example.id]
        if plain and warm.fill == "drop" and len(counts) < fmt.num_candidates:
            dropped += 1
            continue
        think = think_for(example) if plain else think_text(example)
        prompt = example_row(example, tokenizer)["prompt"]
        if warm.list_samples > 1:
            lists = sampled_list_completions(
                counts, fmt, think, pool, rng, warm.list_samples, warm.list_temperature, threshold
            )
            pairs += [(prompt, completion) for completion in lists]
        else:
            pairs.append((prompt, frequency_completion(counts, fmt, think, pool, rng, threshold)))
    if warm.label_replay > 0:
        replay = label_replay_pairs(singles, single, tokenizer, config, len(pairs), rng)
        stats["label_replay_examples"] = len(replay)
        pairs += replay
    answered = sum(sum(c.values()) for c in counts_per_example)  # shares sum to 1 per example
    stats.update(
        sample_parse_rate=answered / (len(prompted) * (1 if scored else warm.num_samples)),
        mean_distinct_answers=sum(len(c) for c in counts_per_example) / len(prompted),
        dropped_examples=dropped,
        sft_examples=len(pairs),
    )
    if warm.list_samples > 1:
        stats.update(list_samples=warm.list_samples, list_temperature=warm.list_temperature)
    if (
        scored and counts_per_example
    ):  # every listed answer has a share: how much of it the K targets hold says more
        k = fmt.num_candidates
        first_k = [sum(sorted(c.values(), reverse=True)[:k]) for c in counts_per_example]
        stats["mean_share_of_first_k"] = sum(first_k) / len(first_k)
        logger.info(
            "self-consistency: the first %d of %d scored answers hold %.1f%% of the shares on average",
            k,
            len(counts_per_example[0]),
            100 * stats["mean_share_of_first_k"],
        )
    logger.info(
        "self-consistency: %.1f%% of samples gave an answer, %.2f distinct answers per prompt, %d of %d "
        "examples dropped (fewer than %d distinct answers)",
        100 * stats["sample_parse_rate"],
        stats["mean_distinct_answers"],
        dropped,
        len(prompted),
        fmt.num_candidates,
    )
    return pairs, stats


def label_vocabulary(examples: Sequence[Example], grader: Grader) -> list[str]:
    """The distinct answers the examples' labels name (their reference answers where the gold is a test,
    else each gold answer's first spelling), merged when the grader considers them the same: the answers
    a user's own training data knows (`warmstart.answer_shares: exact`).

    >>> from beyondmode.grading import get_grader
    >>> cases = [Example("a", (), (("Flu", "influenza"),)), Example("b", (), (("flu",), ("Cold",)))]
    >>> label_vocabulary(cases, get_grader("exact_match"))
    ['Flu', 'Cold']
    """
    spelling: dict[str, str] = {}
    for example in examples:
        for answer in reference_answers(example) or [aliases[0] for aliases in example.gold]:
            key = grader.canonical(answer)
            if key:
                spelling.setdefault(key, answer)
    return list(spelling.values())


def load_answer_samples(folder: Path, sampling: dict[str, Any], ids: Sequence[str]) -> list[Counter[str]]:
    """The answer counts an earlier warm start sampled (`folder / SAMPLES_FILE`), checked against this
    warm start's sampling settings and examples; a mismatch names the setting."""
    path = folder / SAMPLES_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"warmstart.samples_from: {path} not found (a self-consistency warm start writes it beside its model)"
        )
    header, *rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    for key, value in sampling.items():
        if header.get(key) != value:
            raise ValueError(
                f"warmstart.samples_from: {folder} was sampled with {key}={header.get(key)!r}; this warm "
                f"start has {key}={value!r}"
            )
    if [row["id"] for row in rows] != list(ids):
        raise ValueError(
            f"warmstart.samples_from: {folder} sampled other examples ({len(rows)} rows; this warm start "
            f"has {len(ids)} examples)"
        )
    return [Counter(row["counts"]) for row in rows]


def listing_threshold(config: RunConfig) -> float:
    """`warmstart.list_min_frequency`, else the reward's per-answer cost, else 0 (see `WarmstartConfig`)."""
    warm = config.warmstart
    if warm.list_min_frequency is not None:
        return float(warm.list_min_frequency)
    return float(config.method.weights.get("answer_cost", 0.0))


def run_warmstart(
    config: RunConfig, task: Task | None = None, progress: Progress | None = None, resume: bool = False
) -> Path:
    """Build or load the model, SFT it as configured, save it to `warmstart.output_dir`.

    `resume`: reuse the sampled pairs and the SFT checkpoint of an interrupted run (module docstring).
    """
    warm = config.warmstart
    output = Path(warm.output_dir)
    state = output / STATE_DIR
    if state.exists() and not resume:
        raise FileExistsError(
            f"{state} holds an interrupted warm start: pass --resume to continue it, or delete it"
        )
    task = task if task is not None else resolve_task(config.task)
    fmt = answer_format(config)
    examples = take_examples(task, fmt, config.task.max_examples)
    single_examples = take_examples(task, single_answer_format(fmt), config.task.max_examples)
    vocabulary = [*examples, *single_examples]
    formats = vocabulary_formats(fmt)
    if warm.init == "tiny":
        single = single_answer_format(fmt)
        if config.task.max_examples is not None:
            # the tiny tokenizer knows every word of the task (GRPO may show it prompts it does not learn from)
            vocabulary = [*take_examples(task, fmt, None), *take_examples(task, single, None)]
        # the other formats' prompts differ in their format lines only: one example of each covers them
        vocabulary += [take_examples(task, other, 1)[0] for other in formats if other not in (fmt, single)]
    if warm.unlabelled is not None and warm.confidence != "self_consistency":
        raise ValueError(
            f"warmstart.unlabelled gives prompts without labels, which only the self-consistency warm start "
            f"learns from; with warmstart.confidence {warm.confidence!r} unset it"
        )
    if warm.init == "tiny" and warm.unlabelled is not None:  # the tokenizer must know their words too
        vocabulary += unlabelled_examples(warm.unlabelled, warm.unlabelled_skip, fmt)
    model, tokenizer = build_model(config, vocabulary, formats)
    stats: dict[str, Any] = {"confidence": warm.confidence, "num_examples": len(examples)}
    pairs_path = state / PAIRS_FILE
    checkpoint = state / CHECKPOINT_FILE
    if resume and pairs_path.is_file():
        saved = [json.loads(line) for line in pairs_path.read_text(encoding="utf-8").splitlines()]
        pairs = [(_prompt_from_json(row["prompt"]), row["completion"]) for row in saved[1:]]
        stats.update(saved[0])
        logger.info("warm start: resumed with %d sampled pairs from %s", len(pairs), pairs_path)
        if warm.base_steps > 0 and not checkpoint.is_file():
            raise FileNotFoundError(
                f"{checkpoint} is missing: the base SFT's weights are lost; delete {state} and start over"
            )
    else:
        if warm.confidence == "self_consistency":
            pairs, sampling = self_consistency_pairs(
                model, tokenizer, task, config, fmt, examples, progress, state / SAMPLES_FILE
            )
            stats.update(sampling)
        else:
            pairs = sft_pairs(examples, fmt, tokenizer, config, answer_pool(examples))
        rows = [stats, *({"prompt": _prompt_to_json(p), "completion": c} for p, c in pairs)]
        write_jsonl_atomic(pairs_path, rows)
    trainable = attach_lora(model, config) if warm.lora else model
    settings = _settings(config, warm.steps)
    losses = sft(
        trainable,
        tokenizer,
        pairs,
        settings,
        _stage(progress, "sft", warm.steps),
        checkpoint=checkpoint if warm.save_steps > 0 else None,
    )
    if warm.lora:
        model = trainable.merge_and_unload()
    stats["loss_first_last"] = [losses[0], losses[-1]] if losses else []
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    record_run(output, config, "warmstart", stats)
    os.replace(pairs_path, output / PAIRS_FILE)  # the SFT data stays beside the model as a record
    if (state / SAMPLES_FILE).is_file():  # and the sampled answers, for `warmstart.samples_from`
        os.replace(state / SAMPLES_FILE, output / SAMPLES_FILE)
    shutil.rmtree(state)
    logger.info("warm start saved to %s (final loss %.4f)", output, losses[-1] if losses else float("nan"))
    return output


def attach_lora(model: Any, config: RunConfig) -> Any:
    """The model wrapped with a LoRA adapter on every linear layer (peft); only the adapter trains."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ImportError(
            "warmstart.lora needs peft: pip install 'beyondmode[train]' (or pip install peft)"
        ) from None
    warm = config.warmstart
    adapter = LoraConfig(
        r=warm.lora_rank, lora_alpha=warm.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    wrapped = get_peft_model(model, adapter)
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    logger.info("LoRA rank %d: %.2fM trainable parameters", warm.lora_rank, trainable / 1e6)
    return wrapped


def _prompt_to_json(prompt: Any) -> Any:
    return prompt if isinstance(prompt, str) else [dict(m) for m in prompt]


def _prompt_from_json(prompt: Any) -> Any:
    return prompt if isinstance(prompt, str) else tuple(prompt)


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
        save_every=warm.save_steps,
    )


def _stage(progress: Progress | None, stage: str, total: int) -> Callable[[int, float], None] | None:
    if progress is None:
        return None
    return lambda step, loss: progress(stage, step, total, loss)
