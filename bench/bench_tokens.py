"""Token cost of one answer set: one K=3 multi-answer generation vs three single-answer samples.

What it measures (until a trained tiny model is available): the IDEAL completions of both methods, i.e.
`AnswerFormat.render` of the same three answers with the same reasoning, written once by the multi-answer
format (K = 3, confidences) and three times by the single-answer format (K = 1, confidence) as best-of-3
would. Tokens are counted with a whitespace WordLevel tokenizer (the tiny models' tokenizer; a BPE
tokenizer gives different absolute numbers). Seconds are measured by forcing an UNTRAINED tiny Llama
(hidden 64, 2 layers, CPU) to decode exactly those tokens (`prefix_allowed_tokens_fn`), so they measure
decoding cost per token, not what a trained model would choose to write. Pass `--model DIR` to use a saved
model and its tokenizer instead.

    python bench/bench_tokens.py [--model DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from beyondmode.formats import AnswerFormat
from beyondmode.types import Candidate

THINK = "fever cough and muscle aches for two days with no rash and a recent sick contact at work"
ANSWERS = (("influenza", 0.55), ("common cold", 0.30), ("covid 19", 0.10))
PROMPT = [
    {"role": "system", "content": "Propose distinct diagnoses."},
    {"role": "user", "content": "A 34 year old with fever cough and muscle aches for two days."},
]


def ideal_completions() -> tuple[str, list[str]]:
    multi = AnswerFormat(num_candidates=3).render([Candidate(t, q) for t, q in ANSWERS], think=THINK)
    single = [AnswerFormat(num_candidates=1).render([Candidate(t, q)], think=THINK) for t, q in ANSWERS]
    return multi, single


def build_tiny(directory: Path, texts: list[str]) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = dict.fromkeys(w for text in texts for w in text.split())
    vocab = {w: i for i, w in enumerate(["<unk>", "<pad>", "<eos>", *words])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        pad_token_id=1,
        eos_token_id=2,
        bos_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def forced_seconds(backend, completion: str, n: int, repeats: int) -> tuple[int, float]:
    """Generated tokens (incl. EOS) and median wall seconds to decode `completion`, n sequences at once."""
    import torch

    tokenizer = backend.tokenizer
    target = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    encoded = tokenizer([backend.render(PROMPT)], return_tensors="pt", add_special_tokens=False)
    prompt_length = encoded["input_ids"].shape[1]

    def allowed(batch_id: int, ids: torch.Tensor) -> list[int]:
        position = ids.shape[-1] - prompt_length
        return [target[position] if position < len(target) else tokenizer.eos_token_id]

    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with torch.no_grad():
            output = backend.model.generate(
                **encoded,
                max_new_tokens=len(target) + 1,
                do_sample=True,  # the forcing leaves one allowed token: deterministic anyway
                top_k=0,
                num_return_sequences=n,
                num_beams=1,
                prefix_allowed_tokens_fn=allowed,
                pad_token_id=tokenizer.pad_token_id,
            )
        times.append(time.perf_counter() - started)
    generated = output.shape[1] - prompt_length
    return generated, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="saved model directory (default: untrained tiny)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    hf_logging.disable_progress_bar()
    multi, singles = ideal_completions()
    with tempfile.TemporaryDirectory() as folder:
        model_dir = args.model or build_tiny(Path(folder), [multi, *singles])
        backend = TransformersBackend.from_pretrained(model_dir, device="cpu")
        forced_seconds(backend, multi, 1, 2)  # warm-up (first calls allocate and compile kernels)
        multi_tokens, multi_seconds = forced_seconds(backend, multi, 1, args.repeats)
        single_runs = [forced_seconds(backend, text, 1, args.repeats) for text in singles]
        batched = [forced_seconds(backend, text, 3, args.repeats)[1] for text in singles[:1]]
    single_tokens = sum(t for t, _ in single_runs)
    single_seconds = sum(s for _, s in single_runs)
    print(f"model: {model_dir if args.model else 'untrained tiny Llama (forced ideal completions), CPU'}")
    print(f"K=3 multi-answer, one generation : {multi_tokens:4d} tokens  {multi_seconds * 1000:7.1f} ms")
    print(
        f"3 single-answer samples          : {single_tokens:4d} tokens  {single_seconds * 1000:7.1f} ms "
        f"(sequential); one batch of 3 sequences ~ {batched[0] * 1000:.1f} ms"
    )
    print(
        f"ratio single/multi: tokens {single_tokens / multi_tokens:.2f}x, "
        f"seconds {single_seconds / multi_seconds:.2f}x (sequential)"
    )


if __name__ == "__main__":
    main()
