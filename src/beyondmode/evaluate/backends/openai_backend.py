"""Generation through any OpenAI-compatible chat-completions server (vLLM, SGLang, TGI, `beyondmode serve`).

Uses the official `openai` client: its timeout and its retries with exponential backoff (connection
errors, 408, 429, 5xx) apply to every request; a thread pool bounds the requests in flight. Each sample
is its own request (n = 1, seed = seed + sample index), so `usage.completion_tokens` is exactly that
generation's length in the server's tokenizer tokens.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from beyondmode.evaluate.backends.base import Generation, Messages, check_request, prompt_seeds

logger = logging.getLogger(__name__)


class BackendUnreachableError(RuntimeError):
    """The server at a base URL could not be reached (or kept failing after the retries)."""


class OpenAIBackend:
    """Chat completions against `base_url` (e.g. http://127.0.0.1:8000/v1) for model `model`."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        concurrency: int = 8,
    ) -> None:
        from openai import OpenAI

        self.base_url = base_url
        self.model = model
        self.concurrency = concurrency
        self.client = OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout_s,
            max_retries=max_retries,
        )

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
        jobs = [(i, j) for i in range(len(prompts)) for j in range(n)]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            done = list(
                pool.map(
                    lambda job: self._one(
                        prompts[job[0]], temperature, max_new_tokens, seeds[job[0]] + job[1]
                    ),
                    jobs,
                )
            )
        return [done[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _one(self, messages: Messages, temperature: float, max_new_tokens: int, seed: int) -> Generation:
        import openai

        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[dict(m) for m in messages],  # type: ignore[misc]
                temperature=temperature,
                max_tokens=max_new_tokens,
                seed=seed,
                n=1,
            )
        except (openai.APIConnectionError, openai.APITimeoutError) as error:
            raise BackendUnreachableError(
                f"OpenAI-compatible server at {self.base_url} unreachable ({error}); is it running? "
                f"(start one with `beyondmode serve MODEL_DIR` or `vllm serve MODEL`)"
            ) from error
        except openai.NotFoundError as error:
            raise BackendUnreachableError(
                f"server at {self.base_url} answered 404 for model {self.model!r}: {error}"
            ) from error
        seconds = time.perf_counter() - started
        text = response.choices[0].message.content or ""
        usage: Any = response.usage
        if usage is None or usage.completion_tokens is None:
            raise BackendUnreachableError(
                f"server at {self.base_url} returned no usage.completion_tokens; token costs need it"
            )
        return Generation(text.strip(), int(usage.completion_tokens), seconds)
