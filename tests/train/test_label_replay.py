"""`warmstart.label_replay`: the K-candidate SFT rehearses the base's single-answer label examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_base import WordTokenizer, fake_base
from toy_task import ToyTask

from beyondmode.config import load_config
from beyondmode.formats import AnswerFormat
from beyondmode.train import warmstart

SINGLE = AnswerFormat(num_candidates=1, with_confidence=False)
FMT = AnswerFormat(num_candidates=3, with_confidence=False)


def _pairs(tmp_path: Path, monkeypatch, *overrides: str, num_examples: int = 6):
    task = ToyTask(num_examples=num_examples)
    config = load_config(
        None,
        [
            "task.name='toy_task:ToyTask'",
            f"task.options={{num_examples: {num_examples}}}",
            "method.method=multi_rlvr",
            "method.num_candidates=3",
            f"output.dir={tmp_path}",
            "warmstart.base_steps=0",
            "warmstart.sample_prompt=format",
            *overrides,
        ],
    )
    fake_base(monkeypatch, ["flu", "flu", "cold", "asthma"])
    examples = list(task.examples(FMT))
    pairs, stats = warmstart.self_consistency_pairs(None, WordTokenizer(), task, config, FMT, examples, None)
    return examples, pairs, stats


def test_replayed_examples_are_the_labels_in_the_single_answer_format(tmp_path: Path, monkeypatch) -> None:
    """Share 0.5 of 6 K-candidate lists: 6 more pairs, each an example's own label as a single answer."""
    examples, pairs, stats = _pairs(tmp_path, monkeypatch, "warmstart.label_replay=0.5")
    lists, replayed = pairs[: len(examples)], pairs[len(examples) :]
    assert stats["label_replay_examples"] == len(replayed) == len(examples)
    assert all(set(FMT.parse(text).texts) == {"flu", "cold", "asthma"} for _, text in lists)
    gold = {example.id: example.gold[0][0] for example in examples}
    assert {prompt for prompt, _ in replayed} == set(gold)  # every example once: one pass of the order
    for prompt, text in replayed:
        parsed = SINGLE.parse(text)
        assert parsed.format_ok and parsed.texts == (gold[prompt],)


@pytest.mark.parametrize(("share", "expected"), [(0.0, 0), (0.25, 2), (0.8, 24)])
def test_the_share_sets_how_many_are_replayed(
    tmp_path: Path, monkeypatch, share: float, expected: int
) -> None:
    """round(n r / (1 - r)) replayed for n lists: 0.8 of 6 lists is 24, every label four times."""
    examples, pairs, stats = _pairs(tmp_path, monkeypatch, f"warmstart.label_replay={share}")
    assert len(pairs) == len(examples) + expected
    assert stats.get("label_replay_examples", 0) == expected
    if expected:
        prompts = [prompt for prompt, _ in pairs[len(examples) :]]
        assert max(prompts.count(p) for p in prompts) - min(prompts.count(p) for p in prompts) <= 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("warmstart.label_replay=1.0",), r"label_replay must be in \[0, 1\)"),
        (("warmstart.label_replay=-0.1",), r"label_replay must be in \[0, 1\)"),
        (("warmstart.label_replay=0.3", "warmstart.sample_prompt=plain"), "label-free warm start"),
    ],
)
def test_settings_it_cannot_honour_are_refused(
    tmp_path: Path, monkeypatch, overrides: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _pairs(tmp_path, monkeypatch, *overrides)
