"""The generation backend interface shared by transformers, vLLM and OpenAI-compatible servers.

A backend turns chat prompts into completions. `generate` returns, for each prompt, `n` generations in
sample order; each records its text, its length in tokenizer tokens (never characters) and the wall
seconds spent on it (a batch's time shared equally among its generations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Messages = Sequence[Mapping[str, str]]
"""One prompt: chat messages {"role": ..., "content": ...}."""


@dataclass(frozen=True, slots=True)
class Generation:
    """One sampled completion."""

    text: str
    num_tokens: int
    seconds: float


@runtime_checkable
class Backend(Protocol):
    """Anything that samples completions for chat prompts."""

    name: str

    def generate(
        self,
        prompts: Sequence[Messages],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int,
    ) -> list[list[Generation]]:
        """`n` generations per prompt (`result[i][j]` is sample j of prompt i). Temperature 0 is greedy."""
        ...


def check_request(prompts: Sequence[Messages], n: int, temperature: float, max_new_tokens: int) -> None:
    """Reject impossible requests early, naming the bad argument."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    for index, prompt in enumerate(prompts):
        if not prompt or any("role" not in m or "content" not in m for m in prompt):
            raise ValueError(f"prompt {index} must be a non-empty list of {{role, content}} messages")
