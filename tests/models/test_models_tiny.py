"""The tiny model factory: word tokenizer round trips the format, HF folders save and load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from beyondmode.formats import AnswerFormat
from beyondmode.methods import method_format
from beyondmode.models.loading import load_model
from beyondmode.models.tiny import (
    CHAT_TEMPLATE,
    TinyModelSpec,
    build_tiny_model,
    build_word_tokenizer,
    plain_prompt,
    task_words,
)
from beyondmode.tasks.base import build_prompt
from beyondmode.types import Candidate, Example

EXAMPLE = Example(
    "e1",
    build_prompt("Diagnose.", "Findings: fever cough"),
    (("flu", "influenza"),),
    metadata={"findings": ["fever", "cough"]},
    posterior={"flu": 0.7, "viral pharyngitis": 0.3},
)
FORMATS = [method_format(m, 3) for m in ("rlvr", "rlcr", "multi_rlvr", "multi_rlcr")]


@pytest.fixture(scope="module")
def tokenizer():
    return build_word_tokenizer([], task_words([EXAMPLE], FORMATS))


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f"K{f.num_candidates}-conf{int(f.with_confidence)}")
def test_format_survives_encode_decode(tokenizer, fmt: AnswerFormat) -> None:
    answers = ["flu", "viral pharyngitis", "influenza"][: fmt.num_candidates]
    candidates = [Candidate(a, 0.3) if fmt.with_confidence else Candidate(a) for a in answers]
    text = fmt.render(candidates, think="fever cough")
    ids = tokenizer(text + tokenizer.eos_token)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    decoded = tokenizer.decode(ids, skip_special_tokens=True)  # as TRL decodes completions
    assert fmt.parse(decoded).format_ok
    assert fmt.parse(decoded).texts == fmt.parse(text).texts


def test_tags_and_confidences_are_single_ordinary_tokens(tokenizer) -> None:
    for word in ("<answer1>", "</confidence3>", "<think>", "0.45", "1.00"):
        ids = tokenizer(word)["input_ids"]
        assert len(ids) == 1 and ids[0] not in tokenizer.all_special_ids, word


def test_chat_template_renders_the_plain_prompt_with_bos_once(tokenizer) -> None:
    messages = [dict(m) for m in EXAMPLE.prompt]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    tokenizer.chat_template = None
    try:
        assert text == plain_prompt(EXAMPLE.prompt, tokenizer)
    finally:
        tokenizer.chat_template = CHAT_TEMPLATE
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=True)
    ids = ids["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    assert tokenizer.unk_token_id not in ids


def test_save_and_load_as_hf_folder(tokenizer, tmp_path: Path) -> None:
    model = build_tiny_model(
        TinyModelSpec(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), tokenizer
    )
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    again = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path).get_vocab() == tokenizer.get_vocab()
    ids = torch.tensor([tokenizer("<s> fever <answer> flu </answer>")["input_ids"]])
    torch.testing.assert_close(again(ids).logits, model(ids).logits)
    loaded = load_model(str(tmp_path))
    assert loaded.model.config.vocab_size == len(tokenizer) and loaded.chat


def test_sizes_are_configurable(tokenizer) -> None:
    small = build_tiny_model(
        TinyModelSpec(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32), tokenizer
    )
    large = build_tiny_model(
        TinyModelSpec(hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64), tokenizer
    )
    assert small.num_parameters() < large.num_parameters()
    with pytest.raises(ValueError, match="divisible"):
        build_tiny_model(TinyModelSpec(hidden_size=30, num_heads=4), tokenizer)


def test_tiny_has_no_weights_to_load() -> None:
    with pytest.raises(ValueError, match="warmstart"):
        load_model("tiny")
