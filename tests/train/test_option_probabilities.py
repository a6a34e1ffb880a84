"""The model's own distribution over a task's listed answers (`warmstart.sample_prompt=options`) or over
the single-answer completions naming each training label (`warmstart.answer_shares=exact`): exact against
a full forward pass, normalised, and a warm start whose targets follow it and not the answer key."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from toy_task import ToyTask

from beyondmode.config import load_config
from beyondmode.formats import AnswerFormat
from beyondmode.models.tiny import TinyModelSpec, build_tiny_model, build_word_tokenizer
from beyondmode.tasks.ddxplus import DdxPlusTask
from beyondmode.train import warmstart
from beyondmode.train.option_probabilities import (
    normalised_shares,
    option_log_probabilities,
    option_shares,
    option_token_ids,
)
from beyondmode.train.warmstart_plain import PLAIN_INSTRUCTION

OPTIONS = ["common cold", "flu", "acute viral pharyngitis", "measles"]


@pytest.fixture(scope="module")
def tiny():
    tokenizer = build_word_tokenizer(["findings : fever cough rash reply with one", *OPTIONS])
    model = build_tiny_model(
        TinyModelSpec(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64), tokenizer
    )
    return model.eval(), tokenizer


def full_forward_log_probability(model, prompt: list[int], option: list[int]) -> float:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + option])).logits[0]
    log_probs = torch.log_softmax(logits.double(), dim=-1)
    return sum(float(log_probs[len(prompt) - 1 + i, token]) for i, token in enumerate(option))


def test_log_probabilities_equal_a_full_forward_pass(tiny) -> None:
    model, tokenizer = tiny
    prompt = tokenizer("findings : fever cough reply with one", add_special_tokens=False)["input_ids"]
    ids = option_token_ids(tokenizer, OPTIONS)
    assert all(option[-1] == tokenizer.eos_token_id for option in ids)
    assert len({len(option) for option in ids}) > 1  # options of different lengths share one padded pass
    shared = option_log_probabilities(model, prompt, ids)
    for option, value in zip(ids, shared, strict=True):
        assert value == pytest.approx(full_forward_log_probability(model, prompt, option), abs=1e-4)


def test_shares_are_a_distribution_in_the_models_order(tiny) -> None:
    model, tokenizer = tiny
    prompts = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in ("fever", "rash cough")]
    seen: list[int] = []
    shares = option_shares(model, tokenizer, prompts, OPTIONS, progress=lambda done, _: seen.append(done))
    assert seen == [0, 1] and model.training is False
    ids = option_token_ids(tokenizer, OPTIONS)
    for prompt, share in zip(prompts, shares, strict=True):
        assert sum(share.values()) == pytest.approx(1.0) and set(share) == set(OPTIONS)
        full = [full_forward_log_probability(model, prompt, option) for option in ids]
        by_model = sorted(OPTIONS, key=lambda o: -full[OPTIONS.index(o)])
        assert sorted(share, key=lambda o: -share[o]) == by_model


def test_normalised_shares_survive_very_small_probabilities() -> None:
    shares = normalised_shares({"a": -2000.0, "b": -2000.0 + math.log(3)})
    assert shares == pytest.approx({"a": 0.25, "b": 0.75})


def config_for(tmp_path: Path, task_options: str, *overrides: str):
    path = tmp_path / "run.yaml"
    path.write_text(
        f"task: {task_options}\nmethod: {{method: multi_rlcr, num_candidates: 3}}\n"
        "model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}\n"
    )
    return load_config(
        path,
        [
            f"output.dir={tmp_path / 'out'}",
            "warmstart.sample_prompt=options",
            "warmstart.base_steps=0",
            *overrides,
        ],
    )


def test_ddxplus_warm_start_targets_follow_the_models_shares_not_the_gold(
    fixtures: Path, tmp_path: Path, monkeypatch
) -> None:
    csv = fixtures / "ddxplus" / "patients.fr.csv"
    task = DdxPlusTask(str(csv), gold="pathology")
    options = task.answer_options
    assert options and len(options) >= 3 and "Possible diagnoses: " + ", ".join(options) in task.task_sentence
    fmt = AnswerFormat(num_candidates=3)
    examples = list(task.examples(fmt))
    calls: list[list] = []

    def fake_shares(model, tokenizer, prompts, listed, progress=None):
        calls.append(list(listed))
        # the gold pathology gets the smallest share: the target must rank it last
        shares = []
        for example in examples:
            others = [o for o in listed if o != example.metadata["pathology"]]
            shares.append({example.metadata["pathology"]: 0.1, others[0]: 0.6, others[1]: 0.3})
        return shares

    def no_sampling(*args, **kwargs):
        raise AssertionError("options mode must not sample")

    prompts: list = []
    monkeypatch.setattr(warmstart, "option_shares", fake_shares)
    monkeypatch.setattr(warmstart, "sample_completions", no_sampling)
    monkeypatch.setattr(warmstart, "encode_prompt", lambda prompt, tokenizer: prompts.append(prompt) or [1])
    config = config_for(tmp_path, f"{{name: ddxplus, options: {{path: '{csv}', gold: pathology}}}}")
    stages: list[str] = []
    pairs, stats = warmstart.self_consistency_pairs(
        None, _Tokenizer(), task, config, fmt, examples, lambda stage, *rest: stages.append(stage)
    )
    assert calls == [list(options)] and stats["sample_prompt"] == "options"
    system = prompts[0][0]["content"]
    assert system == f"{task.task_sentence} {PLAIN_INSTRUCTION}" and "<answer" not in system
    assert len(pairs) == len(examples) and stats["sample_parse_rate"] == pytest.approx(1.0)
    for example, (_, completion) in zip(examples, pairs, strict=True):
        parsed = fmt.parse(completion)
        assert parsed.format_ok and parsed.texts[2] == example.metadata["pathology"]
        assert parsed.confidences == (0.6, 0.3, 0.1)


def test_options_mode_needs_a_task_that_lists_its_answers(tmp_path: Path) -> None:
    config = config_for(tmp_path, "{name: 'toy_task:ToyTask', options: {num_examples: 2}}")
    with pytest.raises(ValueError, match="lists none"):
        warmstart.self_consistency_pairs(
            None, _Tokenizer(), ToyTask(num_examples=2), config, AnswerFormat(3), [], None
        )


class _Tokenizer:
    chat_template = "x"  # prompts stay chat messages


def test_exact_shares_score_every_training_label_as_a_completion_without_sampling(
    tmp_path: Path, monkeypatch
) -> None:
    """`warmstart.answer_shares: exact` (tiny format): each answer the training labels name gets the
    base's probability of the single-answer completion naming it (think text included), normalised;
    the K targets follow those shares, and nothing is sampled."""
    from toy_task import DIAGNOSES

    from beyondmode.cli import main
    from beyondmode.models.loading import load_model
    from beyondmode.train.dataset import example_row
    from beyondmode.train.sft import encode_prompt
    from beyondmode.train.warmstart_data import think_text

    config = tmp_path / "toy.yaml"
    config.write_text(
        "task: {name: 'toy_task:ToyTask', options: {num_examples: 12}}\n"
        "model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}\n"
    )
    common = ["warmstart.steps=3", "warmstart.batch_size=4", "warmstart.log_every=0"]
    single_base = ["method.method=rlvr", "warmstart.confidence=uniform", f"output.dir={tmp_path / 'b'}"]
    assert main(["warmstart", str(config), *single_base, *common]) == 0
    base = load_model(str(tmp_path / "b" / "warmstart"))
    run = load_config(
        str(config),
        [
            "method.method=multi_rlcr",
            "method.num_candidates=3",
            f"output.dir={tmp_path / 'm'}",
            "warmstart.base_steps=0",
            "warmstart.sample_prompt=format",
            "warmstart.answer_shares=exact",
        ],
    )
    task = ToyTask(num_examples=12)
    fmt = AnswerFormat(num_candidates=3)
    examples = list(task.examples(fmt))
    singles = list(task.examples(AnswerFormat(num_candidates=1, with_confidence=False)))
    labels = list(dict.fromkeys(e.gold[0][0] for e in singles))
    assert 3 <= len(labels) < len(DIAGNOSES)  # a diagnosis no label names is not scored (posterior keys)

    def no_sampling(*args, **kwargs):
        raise AssertionError("exact shares must not sample")

    monkeypatch.setattr(warmstart, "sample_completions", no_sampling)
    samples = tmp_path / "samples.jsonl"
    stages: list[str] = []
    pairs, stats = warmstart.self_consistency_pairs(
        base.model, base.tokenizer, task, run, fmt, examples, lambda s, *r: stages.append(s), samples
    )
    assert set(stages) == {"shares"} and stats["vocabulary_size"] == len(labels)
    header, *rows = (json.loads(line) for line in samples.read_text().splitlines())
    assert header["answer_shares"] == "exact" and header["num_samples"] == 0
    first_three = [sum(sorted(row["counts"].values(), reverse=True)[:3]) for row in rows]
    assert stats["mean_share_of_first_k"] == pytest.approx(sum(first_three) / len(rows))
    single = AnswerFormat(num_candidates=1, with_confidence=False)
    for single_example, row, (_, completion) in zip(singles, rows, pairs, strict=True):
        shares = row["counts"]
        assert list(shares) == labels and sum(shares.values()) == pytest.approx(1.0)
        prompt = encode_prompt(example_row(single_example, base.tokenizer)["prompt"], base.tokenizer)
        full = {}
        for answer in labels:
            text = single.render([answer], think=think_text(single_example))
            ids = [*base.tokenizer(text, add_special_tokens=False)["input_ids"], base.tokenizer.eos_token_id]
            full[answer] = full_forward_log_probability(base.model, prompt, ids)
        assert shares == pytest.approx(normalised_shares(full), abs=1e-5)
        top = sorted(labels, key=lambda a: (-shares[a], a))[:3]
        assert list(fmt.parse(completion).texts) == top


def test_exact_shares_need_the_format_prompt(tmp_path: Path) -> None:
    config = config_for(
        tmp_path, "{name: 'toy_task:ToyTask', options: {num_examples: 2}}", "warmstart.answer_shares=exact"
    )
    with pytest.raises(ValueError, match=r"answer_shares 'exact'.*sample_prompt 'options'"):
        warmstart.self_consistency_pairs(
            None, _Tokenizer(), ToyTask(num_examples=2), config, AnswerFormat(3), [], None
        )
