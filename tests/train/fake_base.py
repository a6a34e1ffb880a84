"""A scripted single-answer base for the self-consistency warm start's tests: the test knows the
shares that the K-candidate targets are built from."""

from __future__ import annotations

from beyondmode.formats import AnswerFormat
from beyondmode.train import warmstart


class WordTokenizer:
    """Splits on spaces: enough for the warm start's token counts."""

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[str]]:
        return {"input_ids": text.split()}


def fake_base(monkeypatch, replies: list[str]) -> None:
    """The base model "samples" `replies` in turn for every prompt, and each example's prompt is its id."""
    single = AnswerFormat(num_candidates=1, with_confidence=False)

    def fake_samples(model, tokenizer, prompts, n, *args, **kwargs):
        return [[single.render([replies[i % len(replies)]], think="t") for i in range(n)] for _ in prompts]

    monkeypatch.setattr(warmstart, "sample_completions", fake_samples)
    monkeypatch.setattr(warmstart, "example_row", lambda example, tokenizer: {"prompt": example.id})
