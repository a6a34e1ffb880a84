"""`warmstart.unlabelled`: prompts without labels join the self-consistency warm start."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_base import WordTokenizer, fake_base
from toy_task import ToyTask

from beyondmode.config import TaskConfig, load_config
from beyondmode.formats import AnswerFormat
from beyondmode.train import warmstart
from beyondmode.train.unlabelled_prompts import prompt_key, unlabelled_examples
from beyondmode.types import Example

FMT = AnswerFormat(num_candidates=3, with_confidence=False)
TOY = "toy_task:ToyTask"


def test_unlabelled_examples_keep_the_prompt_and_findings_only() -> None:
    spec = TaskConfig(name=TOY, options={"num_examples": 10, "seed": 5}, max_examples=4)
    source = list(ToyTask(num_examples=10, seed=5).examples(FMT))[:4]
    bare = unlabelled_examples(spec, 0, FMT)
    assert [e.id for e in bare] == [f"unlabelled-{e.id}" for e in source]
    assert [e.prompt for e in bare] == [e.prompt for e in source]
    assert all(e.gold == () and e.posterior is None for e in bare)
    assert [dict(e.metadata) for e in bare] == [{"findings": e.metadata["findings"]} for e in source]


def test_skipped_examples_and_their_prompts_never_come_back() -> None:
    """The toy task has few distinct prompts, so later examples repeat the skipped ones' often."""
    spec = TaskConfig(name=TOY, options={"num_examples": 200, "seed": 1}, max_examples=None)
    skipped = {prompt_key(e) for e in list(ToyTask(num_examples=200, seed=1).examples(FMT))[:20]}
    kept = unlabelled_examples(spec, 20, FMT)
    assert kept and not {prompt_key(e) for e in kept} & skipped
    later = list(ToyTask(num_examples=200, seed=1).examples(FMT))[20:]
    assert len(kept) == sum(prompt_key(e) not in skipped for e in later) < len(later)
    limited = unlabelled_examples(TaskConfig(TOY, spec.options, max_examples=5), 20, FMT)
    assert [e.id for e in limited] == [e.id for e in kept[:5]]


def test_prompts_that_list_the_same_items_in_another_order_are_one_prompt() -> None:
    def example(content: str) -> Example:
        return Example("e", ({"role": "system", "content": "k3"}, {"role": "user", "content": content}), ())

    assert prompt_key(example("f ( 2 ) = 1 ; f ( 9 ) = 2")) == prompt_key(
        example("f ( 9 ) = 2 ; f ( 2 ) = 1")
    )
    assert prompt_key(example("fever\ncough")) == prompt_key(example("cough\nfever"))
    assert prompt_key(example("f ( 2 ) = 1 ; f ( 9 ) = 2")) != prompt_key(
        example("f ( 2 ) = 1 ; f ( 9 ) = 3")
    )


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="names no task"):
        unlabelled_examples(None, 3, FMT)
    with pytest.raises(ValueError, match="unlabelled_skip must be >= 0"):
        unlabelled_examples(TaskConfig(TOY, {"num_examples": 5}), -1, FMT)
    with pytest.raises(ValueError, match="gave no prompt"):
        unlabelled_examples(TaskConfig(TOY, {"num_examples": 5}), 5, FMT)


def test_the_warm_start_answers_the_unlabelled_prompts_too(tmp_path: Path, monkeypatch) -> None:
    """Labelled and unlabelled prompts each get a K-candidate target from the base's answers; the
    labels (the exact-share vocabulary, the fillers, the rehearsed examples) come from the labelled
    training cases only."""
    task = ToyTask(num_examples=6)
    config = load_config(
        None,
        [
            f"task.name='{TOY}'",
            "task.options={num_examples: 6}",
            "method.method=multi_rlvr",
            "method.num_candidates=3",
            f"output.dir={tmp_path}",
            "warmstart.base_steps=0",
            "warmstart.sample_prompt=format",
            f"warmstart.unlabelled={{name: '{TOY}', options: {{num_examples: 9, seed: 3}}, max_examples: 4}}",
            "warmstart.label_replay=0.5",
        ],
    )
    fake_base(monkeypatch, ["flu", "flu", "cold", "asthma"])
    examples = list(task.examples(FMT))
    pairs, stats = warmstart.self_consistency_pairs(None, WordTokenizer(), task, config, FMT, examples, None)
    lists = [(prompt, text) for prompt, text in pairs if FMT.parse(text).format_ok]
    assert [prompt for prompt, _ in lists] == [e.id for e in examples] + [
        f"unlabelled-toy-{i}" for i in range(4)
    ]
    assert stats["unlabelled_examples"] == 4
    replayed = {prompt for prompt, text in pairs if not FMT.parse(text).format_ok}
    assert replayed == {e.id for e in examples}  # only the labelled cases are rehearsed
    assert stats["label_replay_examples"] == len(lists)


def test_a_warm_start_without_self_consistency_refuses_it(tmp_path: Path) -> None:
    config = load_config(
        None,
        [
            f"task.name='{TOY}'",
            "task.options={num_examples: 4}",
            f"output.dir={tmp_path}",
            "warmstart.confidence=uniform",
            f"warmstart.unlabelled={{name: '{TOY}', max_examples: 2}}",
        ],
    )
    with pytest.raises(ValueError, match="only the self-consistency warm start"):
        warmstart.run_warmstart(config)
