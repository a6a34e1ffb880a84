"""Warm start: SFT targets (distinct answers, confidence modes), the SFT loop, the full command."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from toy_task import DIAGNOSES, SPEC, ToyTask

from beyondmode.cli import main
from beyondmode.formats import AnswerFormat
from beyondmode.methods import method_format
from beyondmode.models.loading import load_model
from beyondmode.models.tiny import DEFAULT_THINK, build_tiny_model, build_word_tokenizer, task_words
from beyondmode.rewards import REWARD_VERSION
from beyondmode.tasks.base import build_prompt
from beyondmode.train.dataset import example_row
from beyondmode.train.sft import SFTSettings, encode_pair, sft
from beyondmode.train.warmstart_data import (
    draw_without_replacement,
    frequency_completion,
    think_text,
    warmstart_completion,
)
from beyondmode.types import Example

EXAMPLE = Example(
    "e",
    build_prompt("s", "u"),
    (("flu",),),
    metadata={"findings": ["fever", "no_rash"]},
    posterior={"flu": 0.5, "cold": 0.3, "covid": 0.15, "asthma": 0.05},
)


@pytest.mark.parametrize("seed", range(20))
def test_multi_answers_are_distinct_and_parse(seed: int) -> None:
    fmt = AnswerFormat(num_candidates=3)
    parsed = fmt.parse(warmstart_completion(EXAMPLE, fmt, random.Random(seed), "uniform", use_posterior=True))
    assert parsed.format_ok and len(set(parsed.texts)) == 3 and set(parsed.texts) <= set(EXAMPLE.posterior)
    assert parsed.confidences == (0.33, 0.33, 0.33) and parsed.think == "fever no_rash"


@pytest.mark.parametrize("seed", range(10))
def test_label_answers_put_the_label_first_and_never_read_the_posterior(seed: int) -> None:
    """Label mode: slot 1 is the case's label, the fillers are distinct pool answers, whatever the
    posterior says (the same target when the posterior is removed)."""
    fmt = AnswerFormat(num_candidates=3)
    pool = ["zika", "measles", "mumps", "flu"]
    text = warmstart_completion(EXAMPLE, fmt, random.Random(seed), "uniform", pool=pool)
    parsed = fmt.parse(text)
    assert parsed.format_ok and parsed.texts[0] == "flu" and len(set(parsed.texts)) == 3
    assert set(parsed.texts[1:]) <= {"zika", "measles", "mumps"}
    without = Example(EXAMPLE.id, EXAMPLE.prompt, EXAMPLE.gold, metadata=EXAMPLE.metadata)
    assert warmstart_completion(without, fmt, random.Random(seed), "uniform", pool=pool) == text


def test_oracle_confidences_need_the_posterior_opt_in() -> None:
    with pytest.raises(ValueError, match="answers=posterior"):
        warmstart_completion(EXAMPLE, AnswerFormat(num_candidates=3), random.Random(0), "oracle")


def test_oracle_confidences_are_sorted_and_near_posterior() -> None:
    fmt = AnswerFormat(num_candidates=3)
    for seed in range(10):
        parsed = fmt.parse(
            warmstart_completion(EXAMPLE, fmt, random.Random(seed), "oracle", noise=0.01, use_posterior=True)
        )
        assert list(parsed.confidences) == sorted(parsed.confidences, reverse=True)
        for text, q in zip(parsed.texts, parsed.confidences, strict=True):
            assert abs(q - EXAMPLE.posterior[text]) < 0.06


def test_constant_and_no_confidence_formats() -> None:
    constant = AnswerFormat(num_candidates=2).parse(
        warmstart_completion(
            EXAMPLE,
            AnswerFormat(num_candidates=2),
            random.Random(0),
            "constant",
            constant=0.4,
            use_posterior=True,
        )
    )
    assert constant.confidences == (0.4, 0.4)
    plain = method_format("rlvr")
    assert plain.parse(warmstart_completion(EXAMPLE, plain, random.Random(0))).format_ok
    with pytest.raises(ValueError, match="confidence"):
        warmstart_completion(EXAMPLE, plain, random.Random(0), "self_consistency")


def test_draws_follow_the_distribution() -> None:
    rng = random.Random(0)
    firsts = [draw_without_replacement({"a": 0.8, "b": 0.2}, 2, rng) for _ in range(2000)]
    assert all(sorted(pair) == ["a", "b"] for pair in firsts)
    assert 0.75 < sum(pair[0] == "a" for pair in firsts) / 2000 < 0.85


def test_frequency_completion_pads_and_sorts() -> None:
    fmt = AnswerFormat(num_candidates=3)
    text = frequency_completion({"cold": 2, "flu": 8}, fmt, "fever", ["flu", "asthma"], random.Random(0))
    parsed = fmt.parse(text)
    assert parsed.format_ok and parsed.texts == ("flu", "cold", "asthma")
    assert parsed.confidences == (0.8, 0.2, 0.0)
    with pytest.raises(ValueError, match="pool"):
        frequency_completion({"flu": 1}, fmt, "x", [], random.Random(0))


def test_think_falls_back() -> None:
    assert think_text(Example("e", (), (("a",),))) == DEFAULT_THINK


def test_sft_learns_and_masks_the_prompt() -> None:
    task = ToyTask(num_examples=32)
    fmt = method_format("multi_rlcr", 2)
    examples = list(task.examples(fmt))
    tokenizer = build_word_tokenizer([], task_words(examples, [fmt]))
    model = build_tiny_model(SPEC, tokenizer)
    rng = random.Random(0)
    pairs = [
        (example_row(e, tokenizer)["prompt"], warmstart_completion(e, fmt, rng, "oracle", use_posterior=True))
        for e in examples
    ]
    ids, prompt_length = encode_pair(*pairs[0], tokenizer, max_length=96)
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[prompt_length:], skip_special_tokens=True) == " ".join(pairs[0][1].split())
    losses = sft(
        model,
        tokenizer,
        pairs,
        SFTSettings(steps=40, batch_size=16, learning_rate=3e-3, warmup_steps=5, max_length=96, log_every=0),
    )
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    assert not model.training


def test_sampling_is_seeded_and_leaves_the_callers_random_state_alone() -> None:
    """Self-consistency samples depend on the seed only, not on what ran before in the process (the
    demo's in-process and worker runs sample a loaded base model: same samples)."""
    import torch

    from beyondmode.train.sft import sample_completions

    task = ToyTask(num_examples=4)
    fmt = AnswerFormat(num_candidates=1, with_confidence=False)
    examples = list(task.examples(fmt))
    tokenizer = build_word_tokenizer([], task_words(examples, [fmt]))
    model = build_tiny_model(SPEC, tokenizer)
    prompts = [example_row(e, tokenizer)["prompt"] for e in examples]
    torch.manual_seed(123)
    first = sample_completions(model, tokenizer, prompts, 3, 8, seed=7)
    after = torch.rand(1)
    torch.manual_seed(999)
    torch.rand(5)
    assert sample_completions(model, tokenizer, prompts, 3, 8, seed=7) == first
    assert sample_completions(model, tokenizer, prompts, 3, 8, seed=8) != first
    torch.manual_seed(123)
    sample_completions(model, tokenizer, prompts, 3, 8, seed=7)
    assert torch.equal(torch.rand(1), after)  # the caller's stream continues as if nothing was drawn


def test_every_tiny_warm_start_of_a_task_shares_one_vocabulary(tmp_path: Path) -> None:
    """A single-answer tiny warm start knows the tags and prompts of the K-answer formats, so the
    self-consistency warm start of a multi format can sample it and continue from it."""
    from beyondmode.train.warmstart import vocabulary_formats

    single = AnswerFormat(num_candidates=1, with_confidence=False)
    family = vocabulary_formats(single)
    assert family[0] == single and len(family) == len(set(family)) == 10
    assert {(f.num_candidates, f.with_confidence) for f in family} == {
        (k, c) for k in range(1, 6) for c in (False, True)
    }
    assert max(f.num_candidates for f in vocabulary_formats(AnswerFormat(7))) == 7
    config = tmp_path / "toy.yaml"
    config.write_text(
        "task: {name: 'toy_task:ToyTask', options: {num_examples: 16}}\n"
        "model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}\n"
    )
    common = [
        "warmstart.steps=2",
        "warmstart.batch_size=4",
        "warmstart.log_every=0",
        "warmstart.num_samples=2",
    ]
    base = tmp_path / "single"
    assert main(["warmstart", str(config), "method.method=rlvr", f"output.dir={base}", *common]) == 0
    vocabulary = load_model(str(base / "warmstart")).tokenizer.get_vocab()
    multi = ToyTask(num_examples=2).examples(method_format("multi_rlcr", 3))
    words = " ".join([next(multi).prompt[0]["content"], "<answer3> </answer3> <confidence3> </confidence3>"])
    assert set(words.split()) <= set(vocabulary)
    continued = [
        "method.method=multi_rlcr",
        "method.num_candidates=3",
        f"output.dir={tmp_path / 'multi'}",
        f"warmstart.init={base / 'warmstart'}",
        "warmstart.base_steps=0",
        "warmstart.sample_prompt=format",
        *common,
    ]
    assert main(["warmstart", str(config), *continued]) == 0
    first = tmp_path / "multi" / "warmstart"
    assert load_model(str(first)).tokenizer.get_vocab() == vocabulary

    # another warm start from the same base reuses those samples: the same SFT targets, no sampling
    reuse = [*continued, f"output.dir={tmp_path / 'reuse'}", f"warmstart.samples_from={first}"]
    assert main(["warmstart", str(config), *reuse]) == 0
    second = tmp_path / "reuse" / "warmstart"
    targets = [(folder / "pairs.jsonl").read_text().splitlines()[1:] for folder in (first, second)]
    assert targets[0] == targets[1]  # the first line is each run's statistics
    info = json.loads((second / "run_info.json").read_text())
    assert info["samples_from"] == str(first) and (second / "samples.jsonl").is_file()
    from beyondmode.config import load_config
    from beyondmode.train.warmstart import run_warmstart

    for bad, named in (("warmstart.num_samples=3", "num_samples"), ("seed=1", "seed")):
        other = load_config(str(config), [*reuse, f"output.dir={tmp_path / bad}", bad])
        with pytest.raises(ValueError, match=f"samples_from: .* {named}="):
            run_warmstart(other)
    missing = load_config(
        str(config), [*continued, f"output.dir={tmp_path / 'x'}", f"warmstart.samples_from={tmp_path}"]
    )
    with pytest.raises(FileNotFoundError, match=r"samples\.jsonl not found"):
        run_warmstart(missing)


@pytest.mark.slow
@pytest.mark.parametrize("confidence", ["self_consistency", "oracle"])
def test_warmstart_command_writes_a_loadable_model(confidence: str, tmp_path: Path) -> None:
    config = tmp_path / "toy.yaml"
    config.write_text(
        "task: {name: 'toy_task:ToyTask', options: {num_examples: 16}}\n"
        "method: {method: multi_rlcr, num_candidates: 2}\n"
        "model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}\n"
    )
    overrides = [
        f"output.dir={tmp_path / 'run'}",
        f"warmstart.confidence={confidence}",
        f"warmstart.answers={'posterior' if confidence == 'oracle' else 'label'}",
        "warmstart.base_steps=3",
        "warmstart.steps=3",
        "warmstart.batch_size=8",
        "warmstart.num_samples=3",
        "warmstart.log_every=0",
    ]
    assert main(["warmstart", str(config), *overrides]) == 0
    folder = tmp_path / "run" / "warmstart"
    loaded = load_model(str(folder))
    assert set(DIAGNOSES) <= set(loaded.tokenizer.get_vocab())
    info = json.loads((folder / "run_info.json").read_text())
    assert info["stage"] == "warmstart" and info["reward_version"] == REWARD_VERSION and info["seed"] == 0
    assert info["packages"]["trl"] and "format_version" in info and len(info["loss_first_last"]) == 2
    if confidence == "self_consistency":
        assert 0.0 <= info["sample_parse_rate"] <= 1.0 and "base_loss_first_last" in info
    assert "warmstart:" in (folder / "config.yaml").read_text()


def test_up_to_k_self_consistency_lists_answers_above_the_threshold() -> None:
    """Adaptive K: the warm start lists the answers sampled more often than the threshold (the reward's
    cost unless set), so GRPO starts from lists of every length instead of always K."""
    from beyondmode.config import load_config
    from beyondmode.train.warmstart import listing_threshold
    from beyondmode.train.warmstart_data import frequency_completion

    fmt = AnswerFormat(3, with_confidence=False, min_candidates=1)
    counts = {"flu": 5, "cold": 3, "measles": 2}
    lengths = {
        threshold: len(
            fmt.parse(frequency_completion(counts, fmt, "t", ["x"], random.Random(0), threshold)).texts
        )
        for threshold in (0.0, 0.25, 0.35, 0.6)
    }
    assert lengths == {0.0: 3, 0.25: 2, 0.35: 1, 0.6: 1}  # at least one answer, the likeliest
    with_conf = AnswerFormat(3, min_candidates=1)
    parsed = with_conf.parse(frequency_completion(counts, with_conf, "t", [], random.Random(0), 0.25))
    assert parsed.format_ok and parsed.confidences == (0.5, 0.3)
    assert listing_threshold(load_config(None, ["method.weights.answer_cost=0.2"])) == 0.2
    both = ["method.weights.answer_cost=0.2", "warmstart.list_min_frequency=0.05"]
    assert listing_threshold(load_config(None, both)) == 0.05
    assert listing_threshold(load_config(None, [])) == 0.0
