"""Batched generation with Hugging Face transformers, on CPU or GPU.

Prompts use the tokenizer's chat template when it has one, else `beyondmode.models.tiny.plain_prompt`, the
same plain prompt that training used for such a tokenizer (BOS, then each message's content on its own line).
torch and transformers are imported when the backend is built, never at module import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from beyondmode.evaluate.backends.base import Generation, Messages, check_request

logger = logging.getLogger(__name__)


class TransformersBackend:
    """Generates with a causal LM and its tokenizer (objects, or loaded from a directory or hub id)."""

    name = "transformers"

    def __init__(self, model: Any, tokenizer: Any, device: str = "auto", batch_size: int = 16) -> None:
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.stop_ids = _stop_ids(model, tokenizer)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, device: str = "auto", batch_size: int = 16
    ) -> TransformersBackend:
        """Load a model directory, an offline name (`smollm2-135m-instruct`) or a hub id (when online),
        through `beyondmode.models.loading.resolve_model_path`; a missing local path names itself."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from beyondmode.models.loading import resolve_model_path

        path = resolve_model_path(path)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path))
        return cls(model, tokenizer, device=device, batch_size=batch_size)

    def render(self, messages: Messages) -> str:
        """The prompt text: chat template with the generation prompt, else the training's plain prompt."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
            )
        from beyondmode.models.tiny import plain_prompt

        return plain_prompt(messages, self.tokenizer)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self,
        prompts: Sequence[Messages],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
    ) -> list[list[Generation]]:
        check_request(prompts, n, temperature, max_new_tokens)
        results: list[list[Generation]] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start : start + self.batch_size]
            results.extend(self._generate_batch(batch, n, temperature, max_new_tokens, seed + start))
        return results

    def _generate_batch(
        self, prompts: Sequence[Messages], n: int, temperature: float, max_new_tokens: int, seed: int
    ) -> list[list[Generation]]:
        import torch

        texts = [self.render(p) for p in prompts]
        # as TRL tokenizes prompts: chat-templated text without special tokens, a plain string with them
        templated = bool(getattr(self.tokenizer, "chat_template", None))
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not templated)
        encoded = encoded.to(self.device)
        torch.manual_seed(seed)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
            if temperature > 0
            else {"do_sample": False}
        )
        started = time.perf_counter()
        with torch.no_grad():
            output = self.model.generate(
                **encoded,
                max_new_tokens=max_new_tokens,
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
        seconds = (time.perf_counter() - started) / (len(prompts) * n)
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        results: list[list[Generation]] = []
        for i in range(len(prompts)):
            samples = []
            for j in range(n):
                ids = _strip_padding(new_tokens[i * n + j].tolist(), self.stop_ids)
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                samples.append(Generation(text.strip(), len(ids), seconds))
            results.append(samples)
        return results


def _strip_padding(ids: list[int], stop_ids: frozenset[int]) -> list[int]:
    """Generated ids up to and including the first stop token (the generated length in tokens).

    >>> _strip_padding([5, 6, 2, 2, 2], frozenset({2}))
    [5, 6, 2]
    """
    for position, token in enumerate(ids):
        if token in stop_ids:
            return ids[: position + 1]
    return ids


def _stop_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The tokenizer's EOS and the model's generation-config EOS ids (some models stop on several)."""
    ids: set[int] = set()
    for eos in (
        tokenizer.eos_token_id,
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
        if isinstance(eos, int):
            ids.add(eos)
        elif isinstance(eos, (list, tuple)):
            ids.update(int(e) for e in eos)
    return frozenset(ids)
