"""The generation backend interface shared by transformers, vLLM and OpenAI-compatible servers.

A backend turns chat prompts into completions. `generate` returns, for each prompt, `n` generations in
sample order; each records its text, its length in tokenizer tokens (never characters) and the wall
seconds spent on it (a batch's time shared equally among its generations).

Seeding: `seed` is one seed per prompt (a sequence), or an int s meaning `prompt_seeds(s, len(prompts))`.
Sample j of prompt i is drawn from seed `seeds[i] + j` and does not depend on the other prompts of the
call, so a resumed evaluation, which asks for the remaining examples in other batches, draws the same
samples as an uninterrupted one (up to the float noise of batch padding in the transformers backend).
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
        seed: int | Sequence[int],
    ) -> list[list[Generation]]:
        """`n` generations per prompt (`result[i][j]` is sample j of prompt i, drawn from seed
        `prompt_seeds(seed, len(prompts))[i] + j`). Temperature 0 is greedy."""
        ...


SEED_STRIDE = 1_000_003
"""Distance between the default seeds of consecutive prompts (more samples than this per prompt would
overlap the next prompt's seeds)."""


def prompt_seeds(seed: int | Sequence[int], num_prompts: int) -> list[int]:
    """One seed per prompt: a sequence as given (its length checked), an int s as s + SEED_STRIDE * i.

    >>> prompt_seeds(7, 3), prompt_seeds([5, 9], 2)
    ([7, 1000010, 2000013], [5, 9])
    """
    if isinstance(seed, int):
        return [seed + SEED_STRIDE * index for index in range(num_prompts)]
    seeds = [int(s) for s in seed]
    if len(seeds) != num_prompts:
        raise ValueError(f"seed: got {len(seeds)} seeds for {num_prompts} prompts (one per prompt)")
    return seeds


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
