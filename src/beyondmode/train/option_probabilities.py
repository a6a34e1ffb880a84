"""The model's own distribution over a task's listed answers: the exact limit of self-consistency.

When a task names its possible answers in the prompt (DDXPlus lists its 49 pathologies), sampling a
small pretrained model for short answers mostly returns prose that names none of them (SmolLM2-135M on
DDXPlus: 0 listed names in 32 samples). The quantity self-consistency estimates can be computed exactly
instead: for each listed option, the probability that the model's whole reply is that option,

    p(option | prompt) = prod_t p(token_t | prompt, token_<t)   over the option's tokens + end of turn,

and, among the listed options, their normalised share `p(option) / sum_o p(o)`: the frequencies that
infinitely many samples, kept only when they name an option, would give. Nothing from the answer key
enters it; the list is the task's own (what a user shows the model anyway).

The prompt is run once per example and its key/value cache shared by every option (one batch of
options per example), so an example costs one prompt forward plus a few tokens per option.

>>> import math
>>> shares = normalised_shares({"flu": math.log(0.02), "cold": math.log(0.01), "measles": math.log(0.01)})
>>> {k: round(v, 2) for k, v in shares.items()}
{'flu': 0.5, 'cold': 0.25, 'measles': 0.25}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch


def option_token_ids(tokenizer: Any, options: Sequence[str]) -> list[list[int]]:
    """Each option's reply tokens: its text as the reply's start, then the end-of-turn token."""
    end = tokenizer.eos_token_id
    if end is None:
        raise ValueError("option probabilities need a tokenizer with an eos token (the end of a reply)")
    return [[*tokenizer(option, add_special_tokens=False)["input_ids"], end] for option in options]


@torch.no_grad()
def option_log_probabilities(
    model: Any,
    prompt_ids: Sequence[int],
    options: Sequence[Sequence[int]],
) -> list[float]:
    """log p(reply = option | prompt) for each option's token ids (`option_token_ids`).

    One forward pass over the prompt, its cache repeated for every option, then one padded pass over
    the options' tokens; a padded position never feeds a real one (the options are right-padded)."""
    device = next(model.parameters()).device
    prompt = torch.tensor([list(prompt_ids)], device=device)
    first = model(input_ids=prompt, use_cache=True, logits_to_keep=1)
    cache = first.cache
    cache.batch_repeat_interleave(len(options))
    width = max(len(o) for o in options)
    tokens = torch.zeros((len(options), width), dtype=torch.long, device=device)
    mask = torch.zeros((len(options), width), dtype=torch.long, device=device)
    for row, option in enumerate(options):
        tokens[row, : len(option)] = torch.tensor(option, device=device)
        mask[row, : len(option)] = 1
    attention = torch.cat(
        [torch.ones((len(options), prompt.shape[1]), dtype=torch.long, device=device), mask], 1
    )
    rest = model(input_ids=tokens, attention_mask=attention, cache=cache, use_cache=True)
    # the first option token is predicted by the prompt's last position, the others by the option's own
    logits = torch.cat([first.logits[:, -1:, :].expand(len(options), -1, -1), rest.logits[:, :-1, :]], 1)
    log_probs = torch.log_softmax(logits.float(), dim=-1).gather(2, tokens.unsqueeze(-1)).squeeze(-1)
    return (log_probs * mask).sum(dim=1).tolist()


def normalised_shares(log_probabilities: Mapping[str, float]) -> dict[str, float]:
    """p(option) / sum over the options (a softmax of the log probabilities)."""
    top = max(log_probabilities.values())
    weights = {option: math.exp(value - top) for option, value in log_probabilities.items()}
    total = sum(weights.values())
    return {option: weight / total for option, weight in weights.items()}


def option_shares(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    options: Sequence[str],
    progress: Callable[[int, float], None] | None = None,
) -> list[dict[str, float]]:
    """For each prompt (token ids), every option's share of the model's probability of answering with
    one of the options (`normalised_shares`); `progress(done - 1, 0.0)` after each prompt."""
    replies = {option: option for option in options}
    return reply_shares(model, tokenizer, prompts, [replies] * len(prompts), progress)


def reply_shares(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    replies: Iterable[Mapping[str, str]],
    progress: Callable[[int, float], None] | None = None,
) -> list[dict[str, float]]:
    """For each prompt (token ids) and its `replies` (answer -> the whole reply text that gives it, e.g.
    a format's completion naming the answer), each answer's share of the model's probability of
    replying with one of those texts; `progress(done - 1, 0.0)` after each prompt. `option_shares` is the
    case where the reply is the answer itself (one mapping for every prompt, tokenized once). `replies`
    may be a generator (one mapping per prompt, built as it is scored); a count that differs from the
    prompts' is a ValueError."""
    was_training = model.training
    model.eval()
    shares: list[dict[str, float]] = []
    tokenized: Mapping[str, str] | None = None
    try:
        for done, (prompt, texts) in enumerate(zip(prompts, replies, strict=True)):
            if texts is not tokenized:  # the same mapping again (option_shares): the same ids
                answers = list(texts)
                ids = option_token_ids(tokenizer, [texts[a] for a in answers])
                tokenized = texts
            values = option_log_probabilities(model, prompt, ids)
            shares.append(normalised_shares(dict(zip(answers, values, strict=True))))
            if progress is not None:
                progress(done, 0.0)
    finally:
        model.train(was_training)
    return shares
