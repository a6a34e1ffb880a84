"""A plain torch SFT loop and batched sampling, for the warm start.

Why not TRL's `SFTTrainer`: the warm start is hundreds of steps on a sub-million-parameter model where
the Trainer's per-step overhead (callbacks, logging, dataloader workers, accelerate) costs more than
the forward pass, and we need exactly one thing: cross-entropy on the completion tokens of
(prompt, completion) pairs tokenized the way `GRPOTrainer` tokenizes them. For a large model on GPUs,
use TRL's `SFTTrainer` with a prompt-completion dataset built from the same pairs
(`beyondmode.train.warmstart.sft_pairs`).

Tokenization matches TRL: a plain-string prompt is `tokenizer(prompt)`, a chat prompt is
`apply_chat_template(messages, add_generation_prompt=True)`; the completion is encoded without special
tokens and followed by EOS. Loss only on completion tokens (and the EOS).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from beyondmode.atomic_write import atomic_open

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SFTSettings:
    steps: int = 500
    batch_size: int = 256
    learning_rate: float = 4.0e-4
    warmup_steps: int = 20
    max_length: int = 384
    log_every: int = 50
    seed: int = 0
    save_every: int = 0


def encode_prompt(prompt: Any, tokenizer: Any) -> list[int]:
    """Token ids of a prompt exactly as `GRPOTrainer` builds them (plain string or chat messages)."""
    if isinstance(prompt, str):
        return list(tokenizer(text=prompt)["input_ids"])
    encoded = tokenizer.apply_chat_template(
        list(prompt), add_generation_prompt=True, tokenize=True, return_dict=True
    )
    return list(encoded["input_ids"])


def encode_pair(prompt: Any, completion: str, tokenizer: Any, max_length: int) -> tuple[list[int], int]:
    """(ids, number of prompt tokens) of prompt + completion + EOS, truncated on the left of the prompt."""
    prompt_ids = encode_prompt(prompt, tokenizer)
    completion_ids = [*tokenizer(completion, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    if len(completion_ids) >= max_length:
        raise ValueError(f"an SFT completion has {len(completion_ids)} tokens, max_length is {max_length}")
    prompt_ids = prompt_ids[-(max_length - len(completion_ids)) :]
    return prompt_ids + completion_ids, len(prompt_ids)


def collate(encoded: Sequence[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask and labels (-100 on prompt and padding)."""
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    for row, (ids, prompt_length) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention[row, : len(ids)] = 1
        labels[row, prompt_length : len(ids)] = torch.tensor(ids[prompt_length:])
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def sft(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[tuple[Any, str]],
    settings: SFTSettings,
    progress: Callable[[int, float], None] | None = None,
    checkpoint: str | Path | None = None,
) -> list[float]:
    """Train `model` on (prompt, completion) pairs; batches drawn with replacement; returns the losses.

    AdamW over the parameters that require grad (all, or a LoRA adapter's), linear warmup then cosine
    decay to 10 % of `learning_rate`. `checkpoint`: see the module docstring.
    """
    encoded = [encode_pair(p, c, tokenizer, settings.max_length) for p, c in pairs]
    if not encoded:
        raise ValueError("the warm start has no SFT pairs (every example was dropped?)")
    rng = random.Random(settings.seed)
    device = next(model.parameters()).device
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _schedule(step, settings))
    losses: list[float] = []
    start = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        start, losses = load_checkpoint(Path(checkpoint), model, optimizer, scheduler, rng)
        logger.info("sft: resumed from %s at step %d/%d", checkpoint, start, settings.steps)
    model.train()
    for step in range(start, settings.steps):
        batch = collate(
            [encoded[rng.randrange(len(encoded))] for _ in range(settings.batch_size)], tokenizer.pad_token_id
        )
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if progress is not None:
            progress(step, losses[-1])
        if settings.log_every and (step + 1) % settings.log_every == 0:
            logger.info("sft step %d/%d loss %.4f", step + 1, settings.steps, losses[-1])
        done = step + 1
        due = checkpoint is not None and settings.save_every > 0 and done % settings.save_every == 0
        if due and done < settings.steps:  # the last step's weights are the saved model itself
            save_checkpoint(Path(checkpoint), model, optimizer, scheduler, rng, done, losses)
    model.eval()
    return losses


def save_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, rng: random.Random, step: int, losses: list[float]
) -> None:
    """The trainable weights and the loop's state after `step` steps, written atomically to `path`."""
    names = {name for name, p in model.named_parameters() if p.requires_grad}
    state = {
        "step": step,
        "losses": losses,
        "weights": {k: v for k, v in model.state_dict().items() if k in names},
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng.getstate(),
    }
    with atomic_open(path, "wb") as stream:
        torch.save(state, stream)
    logger.info("sft: checkpoint at step %d -> %s", step, path)


def load_checkpoint(
    path: Path, model: Any, optimizer: Any, scheduler: Any, rng: random.Random
) -> tuple[int, list[float]]:
    """Restore what `save_checkpoint` wrote; returns (step, losses so far)."""
    state = torch.load(path, map_location=next(model.parameters()).device, weights_only=False)
    missing = set(state["weights"]) - set(model.state_dict())
    if missing:
        raise ValueError(
            f"{path} does not fit this model (e.g. {sorted(missing)[:2]}): delete it or start over"
        )
    model.load_state_dict(state["weights"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    rng.setstate(state["rng"])
    return int(state["step"]), list(state["losses"])


def _schedule(step: int, settings: SFTSettings) -> float:
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    span = max(1, settings.steps - settings.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - settings.warmup_steps) / span)))


@torch.no_grad()
def sample_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Any],
    num_samples: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    batch_size: int = 64,
    progress: Callable[[int, float], None] | None = None,
    seed: int = 0,
) -> list[list[str]]:
    """`num_samples` sampled completions per prompt (decoded without special tokens); `progress(done
    prompts - 1, 0.0)` after each batch. The draws come from torch's generator seeded with `seed`
    (the caller's own random state is restored afterwards), so the samples do not depend on what ran
    before in the process."""
    device = next(model.parameters()).device
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        try:
            results = _sample_batches(
                model, tokenizer, prompts, num_samples, max_new_tokens, temperature, batch_size, progress
            )
        finally:
            tokenizer.padding_side = previous_side
    return results


def _sample_batches(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Any],
    num_samples: int,
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
    progress: Callable[[int, float], None] | None,
) -> list[list[str]]:
    device = next(model.parameters()).device
    results: list[list[str]] = []
    for start in range(0, len(prompts), batch_size):
        chunk = [encode_prompt(p, tokenizer) for p in prompts[start : start + batch_size]]
        batch = tokenizer.pad({"input_ids": chunk}, return_tensors="pt").to(device)
        output = model.generate(
            **batch,
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=num_samples,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        texts = tokenizer.batch_decode(output[:, batch["input_ids"].size(1) :], skip_special_tokens=True)
        results += [texts[i : i + num_samples] for i in range(0, len(texts), num_samples)]
        if progress is not None:
            progress(len(results) - 1, 0.0)
    return results
