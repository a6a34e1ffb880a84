"""Generation with vLLM (GPU). vLLM is optional: it is imported when the backend is built."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from beyondmode.evaluate.backends.base import Generation, Messages, check_request, prompt_seeds


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            "the vllm backend needs the `vllm` package (GPU only): pip install vllm; or set "
            "eval.backend to 'transformers' or 'openai' (a running vLLM server: `vllm serve MODEL`)"
        ) from error
    return vllm


class VLLMBackend:
    """Offline vLLM engine; one seeded request per sample, chat template applied by vLLM."""

    name = "vllm"

    def __init__(self, model_path: str | Path, **engine_options: Any) -> None:
        """`model_path`: a model folder, an offline name (`smollm2-135m-instruct`) or a hub id, read
        through `resolve_model_path` (a missing local folder names itself before vLLM is imported)."""
        from beyondmode.models.loading import resolve_model_path

        model = resolve_model_path(model_path)
        vllm = _import_vllm()
        self._vllm = vllm
        self.llm = vllm.LLM(model=model, **engine_options)
        self.tokenizer = self.llm.get_tokenizer()

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
        # one request per (prompt, sample) with its own seed: vLLM then draws it independently of the batch
        conversations = [[dict(m) for m in p] for p in prompts for _ in range(n)]
        params = [
            self._vllm.SamplingParams(n=1, temperature=temperature, max_tokens=max_new_tokens, seed=s + j)
            for s in seeds
            for j in range(n)
        ]
        started = time.perf_counter()
        outputs = self.llm.chat(conversations, params, use_tqdm=False)
        seconds = (time.perf_counter() - started) / max(1, len(prompts) * n)
        flat = [Generation(r.outputs[0].text.strip(), len(r.outputs[0].token_ids), seconds) for r in outputs]
        return [flat[i * n : (i + 1) * n] for i in range(len(prompts))]
