"""A backend that replays scripted completions: for tests, benchmarks, and scoring saved outputs.

>>> backend = ScriptedBackend(lambda prompt, index: "<answer> 4 </answer>")
>>> backend.generate([[{"role": "user", "content": "2+2?"}]], n=2, temperature=0.7,
...                  max_new_tokens=8, seed=0)[0][1].text
'<answer> 4 </answer>'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from beyondmode.evaluate.backends.base import Generation, Messages, check_request, prompt_seeds


def whitespace_tokens(text: str) -> int:
    """Token count of a whitespace tokenizer (the tiny test tokenizer's rule).

    >>> whitespace_tokens("<answer> flu </answer>")
    3
    """
    return len(text.split())


class ScriptedBackend:
    """Returns `script(prompt, sample_index)` for each requested sample.

    `count_tokens` measures each completion (default: whitespace tokens); `seconds_per_token` gives each
    generation a synthetic duration so cost metrics are deterministic. `calls` records every request.
    """

    name = "scripted"

    def __init__(
        self,
        script: Callable[[Messages, int], str],
        count_tokens: Callable[[str], int] = whitespace_tokens,
        seconds_per_token: float = 0.001,
    ) -> None:
        self.script = script
        self.count_tokens = count_tokens
        self.seconds_per_token = seconds_per_token
        self.calls: list[tuple[int, int, float]] = []

    def generate(
        self,
        prompts: Sequence[Messages],
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int | Sequence[int],
    ) -> list[list[Generation]]:
        check_request(prompts, n, temperature, max_new_tokens)
        prompt_seeds(seed, len(prompts))  # the script ignores seeds; still reject a wrong count
        self.calls.append((len(prompts), n, temperature))
        result = []
        for prompt in prompts:
            samples = []
            for index in range(n):
                text = self.script(prompt, index)
                tokens = self.count_tokens(text)
                samples.append(Generation(text, tokens, tokens * self.seconds_per_token))
            result.append(samples)
        return result
