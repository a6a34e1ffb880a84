"""The format warm start for a pretrained model: its own short answers (self-consistency) as SFT targets,
the drop/pad rule, nothing from the answer key, checkpoints and --resume, LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toy_task import ToyTask

from beyondmode.cli import main
from beyondmode.config import load_config
from beyondmode.formats import AnswerFormat
from beyondmode.models.loading import load_model
from beyondmode.train import warmstart
from beyondmode.train.warmstart_plain import PLAIN_INSTRUCTION, plain_messages, short_answer

TOY = (
    "task: {name: 'toy_task:ToyTask', options: {num_examples: 6}}\n"
    "method: {method: multi_rlcr, num_candidates: 2}\n"
    "model: {tiny: {hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32}}\n"
)


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("Paris", "Paris"),
        ("  The answer is: Barack Obama.", "Barack Obama"),
        ('"1945"', "1945"),
        ("**Tony Goldwyn** (as Dr. X)", "Tony Goldwyn"),
        ("It was Marie Curie, the physicist.", "Marie Curie"),
        ("\n\nGeorge Orwell\nHe also wrote Animal Farm.", "George Orwell"),
        ("The first remote control TV was invented in 1950 by Zenith engineers working hard", None),
        ("...", None),
    ],
)
def test_short_answer(reply: str, answer: str | None) -> None:
    assert short_answer(reply) == answer


def test_plain_prompt_drops_the_format_instructions() -> None:
    example = next(iter(ToyTask(num_examples=1).examples(AnswerFormat(2))))
    messages = plain_messages(example)
    assert messages[0] == {"role": "system", "content": PLAIN_INSTRUCTION}
    assert messages[-1] == dict(example.prompt[-1]) and "<answer" not in json.dumps(messages)


def fake_sampler(replies: list[list[str]]):
    calls: list[list] = []

    def sample(model, tokenizer, prompts, num_samples, *args, progress=None, **kwargs):
        calls.append(list(prompts))
        if progress is not None:
            progress(len(prompts) - 1, 0.0)
        return [replies[i % len(replies)][:num_samples] for i in range(len(prompts))]

    return sample, calls


def config_for(tmp_path: Path, *overrides: str):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY)
    return load_config(
        path,
        [
            f"output.dir={tmp_path / 'run'}",
            "warmstart.sample_prompt=plain",
            "warmstart.base_steps=0",
            "warmstart.num_samples=4",
            "warmstart.steps=4",
            "warmstart.batch_size=4",
            "warmstart.log_every=0",
            *overrides,
        ],
    )


REPLIES = [
    ["Zorb.", "zorb", "The answer is Quux", "a long rambling sentence that never gets to the point at all"],
    ["Blip", "blip", "blip", "Blip."],  # one distinct answer: fewer than K = 2
]


@pytest.mark.parametrize("fill", ["drop", "pad"])
def test_targets_are_the_models_own_answers(fill: str, tmp_path: Path, monkeypatch) -> None:
    sample, calls = fake_sampler(REPLIES)
    monkeypatch.setattr(warmstart, "sample_completions", sample)
    config = config_for(tmp_path, f"warmstart.fill={fill}")
    task = ToyTask(num_examples=6)
    fmt = AnswerFormat(num_candidates=2)
    examples = list(task.examples(fmt))
    stages: list[str] = []
    pairs, stats = warmstart.self_consistency_pairs(
        None, _Tokenizer(), task, config, fmt, examples, lambda stage, *rest: stages.append(stage)
    )
    assert stages == ["sampling"] and all(p[0]["content"] == PLAIN_INSTRUCTION for p in calls[0])
    parsed = [fmt.parse(completion) for _, completion in pairs]
    assert all(p.format_ok for p in parsed)
    gold = {alias for e in examples for aliases in e.gold for alias in aliases}
    answers = {text for p in parsed for text in p.texts}
    assert not answers & gold  # nothing from the answer key
    assert parsed[0].texts == ("Zorb", "Quux") and parsed[0].confidences == (0.67, 0.33)
    if fill == "drop":
        assert len(pairs) == 3 and stats["dropped_examples"] == 3
    else:  # pad: the model's answers to other prompts, at confidence 0
        assert len(pairs) == 6 and parsed[1].texts[0] == "Blip" and parsed[1].confidences == (1.0, 0.0)
        assert parsed[1].texts[1] in {"Zorb", "Quux"}


def test_base_sft_on_gold_is_refused_for_plain_sampling(tmp_path: Path) -> None:
    config = config_for(tmp_path, "warmstart.base_steps=2")
    with pytest.raises(ValueError, match="base_steps"):
        warmstart.self_consistency_pairs(
            None, _Tokenizer(), ToyTask(num_examples=2), config, AnswerFormat(2), [], None
        )


class _Tokenizer:
    chat_template = "x"  # prompts stay chat messages


@pytest.mark.slow
def test_checkpoint_resume_and_lora(tmp_path: Path, monkeypatch, caplog: pytest.LogCaptureFixture) -> None:
    sample, calls = fake_sampler([["Zorb", "Quux", "zorb", "Flim"]])
    monkeypatch.setattr(warmstart, "sample_completions", sample)
    real_sft = warmstart.sft
    seen: list[int] = []

    def interrupted_sft(*args, **kwargs):
        def progress(step, loss):
            seen.append(step)
            if step == 2:  # killed after the checkpoint at step 2
                raise KeyboardInterrupt

        return real_sft(*args[:4], progress, **kwargs)

    monkeypatch.setattr(warmstart, "sft", interrupted_sft)
    overrides = ("warmstart.save_steps=2", "warmstart.steps=4")
    with pytest.raises(KeyboardInterrupt):
        warmstart.run_warmstart(config_for(tmp_path, *overrides))
    state = tmp_path / "run" / "warmstart" / warmstart.STATE_DIR
    assert (state / warmstart.PAIRS_FILE).is_file() and (state / warmstart.CHECKPOINT_FILE).is_file()
    with pytest.raises(FileExistsError, match="--resume"):
        warmstart.run_warmstart(config_for(tmp_path, *overrides))
    monkeypatch.setattr(warmstart, "sft", real_sft)
    sampled_before = len(calls)
    with caplog.at_level("INFO", logger="beyondmode.train.sft"):
        output = warmstart.run_warmstart(config_for(tmp_path, *overrides), resume=True)
    assert "at step 2/4" in caplog.text
    assert len(calls) == sampled_before  # the pairs were reused, not re-sampled
    assert not state.exists() and (output / warmstart.PAIRS_FILE).is_file()
    info = json.loads((output / "run_info.json").read_text())
    assert info["sft_examples"] == 6 and len(info["loss_first_last"]) == 2
    assert seen == [0, 1, 2]

    lora_dir = tmp_path / "lora"
    assert (
        main(
            [
                "warmstart",
                str(tmp_path / "toy.yaml"),
                f"output.dir={lora_dir}",
                "warmstart.lora=true",
                "warmstart.lora_rank=2",
                "warmstart.steps=2",
                "warmstart.batch_size=4",
                "warmstart.sample_prompt=plain",
                "warmstart.base_steps=0",
                "warmstart.num_samples=4",
            ]
        )
        == 0
    )
    merged = load_model(str(lora_dir / "warmstart"))  # an ordinary HF folder: the adapter is merged
    assert not any("lora" in name for name, _ in merged.model.named_parameters())
