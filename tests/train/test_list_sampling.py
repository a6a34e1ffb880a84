"""Sampled SFT target lists (`warmstart.list_samples`): K answers drawn from the shares without
replacement (Plackett-Luce at `list_temperature`), confidences the shares."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from fake_base import WordTokenizer, fake_base
from toy_task import ToyTask

from beyondmode.config import load_config
from beyondmode.formats import AnswerFormat
from beyondmode.train import warmstart
from beyondmode.train.warmstart_data import check_list_sampling, sampled_list_completions

SHARES = {"flu": 0.5, "cold": 0.3, "asthma": 0.15, "measles": 0.05}


def _weights(temperature: float) -> dict[str, float]:
    powered = {answer: share ** (1 / temperature) for answer, share in SHARES.items()}
    total = sum(powered.values())
    return {answer: value / total for answer, value in powered.items()}


def test_a_cold_temperature_gives_the_ranked_list_with_the_shares_as_confidences() -> None:
    fmt = AnswerFormat(num_candidates=3)
    lists = sampled_list_completions(SHARES, fmt, "fever", [], random.Random(0), 20, 0.01)
    for text in lists:
        parsed = fmt.parse(text)
        assert parsed.format_ok and parsed.texts == ("flu", "cold", "asthma")
        assert parsed.confidences == (0.5, 0.3, 0.15)


def test_slots_follow_plackett_luce_over_the_tempered_shares() -> None:
    """Slot 1 is answer a with probability w_a (w proportional to share ** (1/T)); slot 2 is b, given
    slot 1 is a, with probability w_b / (1 - w_a)."""
    temperature, draws = 0.5, 4000
    fmt = AnswerFormat(num_candidates=2, with_confidence=False)
    texts = sampled_list_completions(SHARES, fmt, "t", [], random.Random(1), draws, temperature)
    lists = [fmt.parse(text).texts for text in texts]
    assert all(len(set(answers)) == 2 for answers in lists)
    weights = _weights(temperature)
    first = Counter(answers[0] for answers in lists)
    for answer, weight in weights.items():
        assert first[answer] / draws == pytest.approx(weight, abs=0.025)
    after_flu = Counter(answers[1] for answers in lists if answers[0] == "flu")
    for answer in ("cold", "asthma"):
        expected = weights[answer] / (1 - weights["flu"])
        assert after_flu[answer] / sum(after_flu.values()) == pytest.approx(expected, abs=0.03)


def test_answers_without_a_share_are_never_drawn_and_the_pool_pads() -> None:
    fmt = AnswerFormat(num_candidates=3)
    texts = sampled_list_completions(
        {"flu": 0.7, "cold": 0.3, "asthma": 0.0}, fmt, "x", ["flu", "measles"], random.Random(0), 50, 1.0
    )
    for text in texts:
        parsed = fmt.parse(text)
        assert parsed.format_ok and set(parsed.texts) == {"flu", "cold", "measles"}
        assert parsed.texts[2] == "measles" and parsed.confidences[2] == 0.0


@pytest.mark.parametrize(
    ("fmt", "num_lists", "temperature", "message"),
    [
        (AnswerFormat(3), 0, 0.5, "list_samples must be >= 1"),
        (AnswerFormat(3), 4, 0.0, "list_temperature > 0"),
        (AnswerFormat(3, min_candidates=1), 4, -1.0, "list_temperature > 0"),
    ],
)
def test_settings_it_cannot_honour_are_refused(
    fmt: AnswerFormat, num_lists: int, temperature: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_list_sampling(num_lists, temperature)
    with pytest.raises(ValueError, match=message):
        sampled_list_completions(SHARES, fmt, "t", [], random.Random(0), num_lists, temperature)


def _config(tmp_path: Path, *overrides: str):
    return load_config(
        None,
        [
            "task.name='toy_task:ToyTask'",
            "task.options={num_examples: 6}",
            "method.method=multi_rlvr",
            "method.num_candidates=3",
            "model.tiny={hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}",
            f"output.dir={tmp_path}",
            "warmstart.base_steps=0",
            "warmstart.sample_prompt=format",
            *overrides,
        ],
    )


def test_the_warm_start_writes_list_samples_pairs_per_prompt(tmp_path: Path, monkeypatch) -> None:
    """Each prompt gets `list_samples` target lists drawn from its shares (here: from sampled counts,
    faked so that the test reads what the lists are drawn from)."""
    task = ToyTask(num_examples=6)
    fmt = AnswerFormat(num_candidates=3, with_confidence=False)
    examples = list(task.examples(fmt))
    config = _config(tmp_path, "warmstart.list_samples=5", "warmstart.list_temperature=0.5")
    fake_base(monkeypatch, ["flu", "flu", "cold", "asthma"])
    pairs, stats = warmstart.self_consistency_pairs(None, WordTokenizer(), task, config, fmt, examples, None)
    assert len(pairs) == 5 * len(examples) and stats["sft_examples"] == len(pairs)
    assert stats["list_samples"] == 5 and stats["list_temperature"] == 0.5
    for index, example in enumerate(examples):
        block = pairs[5 * index : 5 * index + 5]
        assert {prompt for prompt, _ in block} == {example.id}
        assert all(set(fmt.parse(text).texts) == {"flu", "cold", "asthma"} for _, text in block)
    assert len({fmt.parse(text).texts for _, text in pairs}) > 1  # drawn orders, not the one ranked list


def test_an_up_to_k_format_draws_the_order_of_the_plug_in_set() -> None:
    """At most K answers above the threshold: every list is exactly the plug-in set (the answers whose
    share exceeds it), unpadded, in a drawn order; slot 1 follows Plackett-Luce over the set's shares."""
    fmt = AnswerFormat(num_candidates=3, min_candidates=1)
    draws = 3000
    texts = sampled_list_completions(SHARES, fmt, "t", ["mumps"], random.Random(1), draws, 1.0, 0.1)
    parsed = [fmt.parse(text) for text in texts]
    assert all(p.format_ok and set(p.texts) == {"flu", "cold", "asthma"} for p in parsed)
    assert all(
        dict(zip(p.texts, p.confidences, strict=True)) == {"flu": 0.5, "cold": 0.3, "asthma": 0.15}
        for p in parsed
    )
    first = Counter(p.texts[0] for p in parsed)
    for answer in ("flu", "cold", "asthma"):
        expected = SHARES[answer] / 0.95
        assert abs(first[answer] / draws - expected) < 4 * (expected * (1 - expected) / draws) ** 0.5


def test_an_up_to_k_format_draws_which_k_when_more_qualify() -> None:
    """More than K answers above the threshold: each list holds K of them, drawn; an answer at or
    below the threshold is never listed, and fewer than `min_candidates` qualifying keeps the
    likeliest."""
    fmt = AnswerFormat(num_candidates=2, with_confidence=False, min_candidates=1)
    texts = sampled_list_completions(SHARES, fmt, "t", [], random.Random(2), 400, 1.0, 0.1)
    lists = {fmt.parse(text).texts for text in texts}
    assert all(len(texts_) == 2 and "measles" not in texts_ for texts_ in lists)
    assert {answer for texts_ in lists for answer in texts_} == {"flu", "cold", "asthma"}
    only = sampled_list_completions(SHARES, fmt, "t", [], random.Random(2), 20, 1.0, 0.6)
    assert {fmt.parse(text).texts for text in only} == {("flu",)}


def test_an_up_to_k_warm_start_writes_drawn_plug_in_sets(tmp_path: Path, monkeypatch) -> None:
    """Wired through `self_consistency_pairs`: the threshold is the reward's per-answer cost."""
    task = ToyTask(num_examples=4)
    fmt = AnswerFormat(num_candidates=3, with_confidence=False, min_candidates=1)
    examples = list(task.examples(fmt))
    config = _config(
        tmp_path, "warmstart.list_samples=6", "format.min_candidates=1", "method.weights.answer_cost=0.2"
    )
    fake_base(monkeypatch, ["flu", "flu", "flu", "cold", "cold", "asthma"])  # shares 0.5, 0.33, 0.17
    pairs, _ = warmstart.self_consistency_pairs(None, WordTokenizer(), task, config, fmt, examples, None)
    assert len(pairs) == 6 * len(examples)
    assert {frozenset(fmt.parse(text).texts) for _, text in pairs} == {frozenset({"flu", "cold"})}
    assert {fmt.parse(text).texts for _, text in pairs} == {("flu", "cold"), ("cold", "flu")}


def test_bad_list_settings_are_refused_before_sampling(tmp_path: Path, monkeypatch) -> None:
    def no_sampling(*args, **kwargs):
        raise AssertionError("refuse before sampling")

    monkeypatch.setattr(warmstart, "sample_completions", no_sampling)
    config = _config(tmp_path, "warmstart.list_samples=4", "warmstart.list_temperature=0")
    fmt = AnswerFormat(num_candidates=3, min_candidates=1)
    with pytest.raises(ValueError, match="list_temperature > 0"):
        warmstart.self_consistency_pairs(None, None, ToyTask(num_examples=2), config, fmt, [], None)
