"""Training fixtures: the toy task, and one warm-started tiny model shared by the GRPO smoke tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from toy_task import METHODS, SPEC, K, ToyTask

from beyondmode.methods import method_format
from beyondmode.models.tiny import build_tiny_model, build_word_tokenizer, task_words
from beyondmode.train.dataset import example_row
from beyondmode.train.sft import SFTSettings, sft
from beyondmode.train.warmstart_data import warmstart_completion

torch.set_num_threads(1)  # the cores are shared; a tiny model gains nothing from more threads


@pytest.fixture(scope="session")
def toy_task() -> ToyTask:
    return ToyTask(num_examples=64)


@pytest.fixture(scope="session")
def warm_model_dir(tmp_path_factory: pytest.TempPathFactory, toy_task: ToyTask) -> Path:
    """A tiny model SFT'd on the formats of all four methods (the short toy prompt names the format), with
    oracle confidences, until it writes the format most of the time: rewards then vary within groups."""
    formats = [method_format(method, K) for method in METHODS]
    examples = {fmt: list(toy_task.examples(fmt)) for fmt in formats}
    tokenizer = build_word_tokenizer([], task_words([e for ex in examples.values() for e in ex], formats))
    model = build_tiny_model(SPEC, tokenizer, seed=0)
    rng = random.Random(0)
    pool = ["flu", "cold", "covid", "allergy", "asthma", "pneumonia"]
    pairs = [
        (
            example_row(example, tokenizer)["prompt"],
            warmstart_completion(example, fmt, rng, "oracle", pool=pool, use_posterior=True),
        )
        for fmt, items in examples.items()
        for example in items
    ]
    sft(
        model,
        tokenizer,
        pairs,
        SFTSettings(
            steps=220, batch_size=32, learning_rate=3e-3, warmup_steps=10, max_length=96, log_every=0
        ),
    )
    folder = tmp_path_factory.mktemp("warm")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
