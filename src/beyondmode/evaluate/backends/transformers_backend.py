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

from beyondmode.evaluate.backends.base import Generation, Messages, check_request, prompt_seeds

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
        seed: int | Sequence[int],
    ) -> list[list[Generation]]:
        check_request(prompts, n, temperature, max_new_tokens)
        seeds = prompt_seeds(seed, len(prompts))
        results: list[list[Generation]] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = prompts[start : start + self.batch_size]
            results.extend(
                self._generate_batch(batch, n, temperature, max_new_tokens, seeds[start : start + len(batch)])
            )
        return results

    def _generate_batch(
        self, prompts: Sequence[Messages], n: int, temperature: float, max_new_tokens: int, seeds: list[int]
    ) -> list[list[Generation]]:
        import torch

        texts = [self.render(p) for p in prompts]
        # as TRL tokenizes prompts: chat-templated text without special tokens, a plain string with them
        templated = bool(getattr(self.tokenizer, "chat_template", None))
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not templated)
        encoded = encoded.to(self.device)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:  # sampled as argmax(logits / T + Gumbel noise), each row from its own seed
            from transformers import LogitsProcessorList

            row_seeds = [s + j for s in seeds for j in range(n)]  # row i * n + j is sample j of prompt i
            sampling["logits_processor"] = LogitsProcessorList([_row_seeded_gumbel(row_seeds, temperature)])
        started = time.perf_counter()
        # n rows per prompt (row i * n + j): greedy decoding takes no num_return_sequences > 1
        rows = {key: value.repeat_interleave(n, dim=0) for key, value in encoded.items()}
        with torch.no_grad():
            output = self.model.generate(
                **rows,
                max_new_tokens=max_new_tokens,
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


def _row_seeded_gumbel(row_seeds: list[int], temperature: float) -> Any:
    """A logits processor that turns greedy decoding into temperature sampling, row by row.

    argmax(logits / T + G) with G i.i.d. standard Gumbel is an exact draw from softmax(logits / T)
    (the Gumbel-max trick). Each row's noise comes from its own generator, seeded per (prompt, sample),
    so a row's sample does not depend on which other prompts share its batch (torch's global sampler
    would draw all rows from one stream).
    """
    import torch
    from transformers import LogitsProcessor

    class RowSeededGumbel(LogitsProcessor):
        def __init__(self) -> None:
            self.generators: list[Any] | None = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if self.generators is None:
                self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in row_seeds]
            uniform = torch.stack(
                [
                    torch.rand(scores.shape[-1], generator=g, device=scores.device, dtype=torch.float32)
                    for g in self.generators
                ]
            )
            tiny = torch.finfo(torch.float32).tiny
            gumbel = -torch.log(-torch.log(uniform.clamp(tiny, 1.0 - 1e-7)))
            return scores.float() / temperature + gumbel

    return RowSeededGumbel()


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
