"""`method.self_labelled_prompts`: GRPO also trains on the warm start's unlabelled prompts, each with an
answer drawn from the base's answers to it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from fake_base import WordTokenizer, fake_base
from toy_task import ToyTask

from beyondmode.config import load_config
from beyondmode.formats import AnswerFormat
from beyondmode.train import warmstart
from beyondmode.train.grpo import prepare_grpo
from beyondmode.train.self_labels import SAMPLES_FILE, draw_label, self_labelled_examples

FMT = AnswerFormat(num_candidates=3, with_confidence=False)
TOY = "toy_task:ToyTask"
UNLABELLED = f"{{name: '{TOY}', options: {{num_examples: 9, seed: 3}}, max_examples: 5}}"


def toy_config(tmp_path: Path, *overrides: str):
    return load_config(
        None,
        [
            f"task.name='{TOY}'",
            "task.options={num_examples: 6}",
            "method.method=multi_rlvr",
            "method.num_candidates=3",
            f"output.dir={tmp_path}",
            "warmstart.base_steps=0",
            "warmstart.sample_prompt=format",
            f"warmstart.unlabelled={UNLABELLED}",
            *overrides,
        ],
    )


def test_labels_are_drawn_in_proportion_to_the_base_answers() -> None:
    shares = {"flu": 0.6, "cold": 0.3, "asthma": 0.1, "never": 0.0}
    drawn = Counter(draw_label(shares, seed=0, example_id=f"unlabelled-{i}") for i in range(6000))
    assert set(drawn) == {"flu", "cold", "asthma"}
    for answer in ("flu", "cold", "asthma"):
        assert drawn[answer] / 6000 == pytest.approx(shares[answer], abs=0.025)
    # one label per prompt and seed, whatever else is drawn; another seed draws afresh
    assert draw_label(shares, 0, "unlabelled-5") == draw_label(shares, 0, "unlabelled-5")
    assert [draw_label(shares, 1, f"u{i}") for i in range(50)] != [
        draw_label(shares, 0, f"u{i}") for i in range(50)
    ]
    with pytest.raises(ValueError, match="no answer"):
        draw_label({"flu": 0.0}, 0, "x")


def test_grpo_trains_on_the_warm_starts_unlabelled_prompts_with_the_base_answers(
    tmp_path: Path, monkeypatch
) -> None:
    """End to end: the warm start records its base's answers to the unlabelled prompts, and GRPO's
    dataset then holds the labelled cases and those prompts, each labelled by one of those answers."""
    config = toy_config(tmp_path, "method.self_labelled_prompts=3")
    task = ToyTask(num_examples=6)
    fake_base(monkeypatch, ["flu", "flu", "cold", "asthma"])
    samples = Path(config.warmstart.output_dir) / SAMPLES_FILE
    samples.parent.mkdir(parents=True)
    examples = list(task.examples(FMT))
    warmstart.self_consistency_pairs(None, WordTokenizer(), task, config, FMT, examples, None, samples)

    labelled = self_labelled_examples(config, FMT)
    assert [e.id for e in labelled] == [f"unlabelled-toy-{i}" for i in range(3)]
    assert all(e.gold[0][0] in {"flu", "cold", "asthma"} and len(e.gold) == 1 for e in labelled)
    assert all(e.posterior is None and set(e.metadata) <= {"findings"} for e in labelled)
    source = list(ToyTask(num_examples=9, seed=3).examples(FMT))
    assert [e.prompt for e in labelled] == [e.prompt for e in source[:3]]

    rows = prepare_grpo(config, task, cuda=False).dataset
    assert rows["id"] == [e.id for e in examples] + [e.id for e in labelled]
    assert rows["gold"][len(examples) :] == [[list(e.gold[0])] for e in labelled]
    assert rows["posterior"][len(examples) :] == [""] * 3  # encoded None: no posterior
    assert len(prepare_grpo(toy_config(tmp_path), task, cuda=False).dataset) == len(
        examples
    )  # off by default


def test_the_samples_of_another_warm_start_are_read_where_it_reused_them(tmp_path: Path) -> None:
    source = tmp_path / "other"
    source.mkdir()
    header = {"answer_shares": "exact"}
    rows = [{"id": f"unlabelled-toy-{i}", "counts": {"cold": 1.0} if i else {}} for i in range(5)]
    (source / SAMPLES_FILE).write_text("\n".join(json.dumps(r) for r in [header, *rows]) + "\n")
    config = toy_config(tmp_path, "method.self_labelled_prompts=2", f"warmstart.samples_from={source}")
    labelled = self_labelled_examples(config, FMT)
    assert [(e.id, e.gold) for e in labelled] == [("unlabelled-toy-1", (("cold",),))]  # toy-0: no answer


def test_bad_settings_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"samples.jsonl not found.*run the warm start first"):
        self_labelled_examples(toy_config(tmp_path, "method.self_labelled_prompts=2"), FMT)
    with pytest.raises(ValueError, match=r"warmstart.unlabelled gives 5 prompts"):
        self_labelled_examples(toy_config(tmp_path, "method.self_labelled_prompts=6"), FMT)
    with pytest.raises(ValueError, match="must be >= 0"):
        self_labelled_examples(toy_config(tmp_path, "method.self_labelled_prompts=-1"), FMT)
    bare = load_config(
        None, [f"task.name='{TOY}'", "method.self_labelled_prompts=2", f"output.dir={tmp_path}"]
    )
    with pytest.raises(ValueError, match=r"set warmstart.unlabelled"):
        self_labelled_examples(bare, FMT)
    with pytest.raises(ValueError, match="reward_mode 'label'"):
        prepare_grpo(
            toy_config(tmp_path, "method.self_labelled_prompts=2", "method.reward_mode=expected"), cuda=False
        )
    other = tmp_path / "warmstart"
    other.mkdir()
    (other / SAMPLES_FILE).write_text(
        json.dumps({}) + "\n" + json.dumps({"id": "toy-0", "counts": {}}) + "\n"
    )
    with pytest.raises(ValueError, match=r"no answers for 'unlabelled-toy-0'.*warmstart.unlabelled changed"):
        self_labelled_examples(toy_config(tmp_path, "method.self_labelled_prompts=2"), FMT)
