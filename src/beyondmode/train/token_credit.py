"""Per-token confidence credit (`method.confidence_credit: token`): one small `GRPOTrainer` subclass.

Sequence-level Multi-RLCR on a warm start with informative confidences flattened them into per-slot
constants (DESIGN section 8). What kept their resolution: the sequence reward is coverage + 0.5 top1
(no Brier term, see `beyondmode.train.recipe`), and the tokens of confidence i get slot i's own Brier
score as their advantage,

    b_i = G * (1 - [(q_i - y_i)^2 + y_i (1 - y_i)])  (y_i a 0/1 hit, or its probability in expected mode;
                                                     G the gates of the sequence Brier term: format,
                                                     uniqueness, sum <= 1 where the spec enables them)
    A[token of confidence i] = b_i - mean over the group of b_i     (divided by the unbiased std of b_i
                                                                     over the group or the batch, as
                                                                     TRL's `scale_rewards` says)
    A[every other completion token] = the sequence advantage TRL computed,

with a KL anchor to the warm start (`beta` 0.1 by default in this mode). Slot i is the slot the answer
was written in (`Candidate.slot`); a slot without a valid confidence keeps the sequence advantage on
its tokens. The spans of the confidences come from the one parse (`Candidate.confidence_span`), so
locating them is linear in the completion whatever it holds.

How it plugs into TRL 1.16 (read from `trl/trainer/grpo_trainer.py`): `_generate_and_score_completions`
returns a dict whose `advantages` is (B,); `_compute_loss` unsqueezes a 1-D tensor and otherwise uses the
given (B, T) tensor as is, multiplying it with the per-token ratios (every loss type); the buffered
batch is shuffled and split along dim 0 only. So the subclass calls the parent, then replaces
`advantages` by a (B, T) tensor. Nothing else of the trainer changes. A confidence's tokens are found
by decoding prefixes of the completion ids (binary search on the character offset), so any tokenizer
works; with the tiny word-level tokenizer a confidence is exactly one token.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from trl import GRPOTrainer

from beyondmode.scoring import ScoredCompletion
from beyondmode.train.trl_rewards import ScoreCache, TotalReward
from beyondmode.types import ParsedResponse

logger = logging.getLogger(__name__)


def slot_brier(scored: ScoredCompletion | None, num_candidates: int) -> list[float]:
    """b_i per slot i = 1..K, gated like the sequence Brier term (NaN: no candidate or no valid confidence).

    Indexed by the slot the candidate was written in (`Candidate.slot`), not its position among the
    candidates: with `<answer2>` missing, slot 3's score stays slot 3's. The gates are the ones the
    reward spec puts on the Brier term (`RewardBreakdown.gates`: format when `require_format`,
    uniqueness and sum <= 1 where enabled), so a malformed or duplicated answer set earns b_i = 0.

    >>> from beyondmode.scoring import Scorer
    >>> s = Scorer.for_method("rlcr").score("<think> x </think> <answer> flu </answer> "
    ...                                     "<confidence> 0.8 </confidence>", [["flu"]])
    >>> [round(b, 2) for b in slot_brier(s, 1)]
    [0.96]
    """
    values = [math.nan] * num_candidates
    if scored is None:
        return values
    gates = scored.breakdown.gates
    gate = gates["format"] * gates["uniqueness"] * gates["sum_le_1"]
    for candidate, y in zip(scored.parsed.candidates, scored.grades.hits, strict=True):
        slot = candidate.slot
        if slot is not None and 1 <= slot <= num_candidates and candidate.confidence is not None:
            values[slot - 1] = gate * (1.0 - ((candidate.confidence - y) ** 2 + y * (1.0 - y)))
    return values


def group_center(values: torch.Tensor, num_generations: int, scale: str = "none") -> torch.Tensor:
    """Center (N, K) slot scores within each group of `num_generations` rows, per slot; NaN -> 0.

    `scale` follows TRL's `scale_rewards`: "none", "group" (divide by the group's std of that slot) or
    "batch" (by the whole batch's std of that slot). The std is TRL's: over the valid (non-NaN) rows,
    with Bessel's correction, undefined (advantage 0) with fewer than two.

    >>> group_center(torch.tensor([[1.0], [0.0], [float("nan")], [0.5]]), 2).flatten().tolist()
    [0.5, -0.5, 0.0, 0.0]
    """
    grouped = values.view(-1, num_generations, values.size(-1))
    centered = grouped - torch.nanmean(grouped, dim=1, keepdim=True)
    if scale == "group":
        centered = centered / (_nanstd(grouped, dim=1) + 1e-4)
    elif scale == "batch":
        centered = centered / (_nanstd(values, dim=0).view(1, 1, -1) + 1e-4)
    elif scale != "none":
        raise ValueError(f"scale_rewards {scale!r}: expected 'none', 'group' or 'batch'")
    return torch.nan_to_num(centered, nan=0.0).view_as(values)


def _nanstd(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Unbiased std over the non-NaN entries along `dim` (NaN with fewer than two), as TRL's `nanstd`."""
    count = (~torch.isnan(values)).sum(dim=dim, keepdim=True)
    deviation = values - torch.nanmean(values, dim=dim, keepdim=True)
    variance = torch.nansum(deviation**2, dim=dim, keepdim=True) / (count - 1).clamp(min=1)
    return torch.where(count > 1, variance.sqrt(), torch.full_like(variance, math.nan))


def confidence_spans(parsed: ParsedResponse) -> dict[int, tuple[int, int]]:
    """Character span [start, end) of each slot's stated confidence in `parsed.raw`, from the one parse.

    >>> from beyondmode.formats import AnswerFormat
    >>> confidence_spans(AnswerFormat(1).parse("<answer> a </answer> <confidence> 0.4 </confidence>"))
    {1: (34, 37)}
    """
    return {
        c.slot: c.confidence_span
        for c in parsed.candidates
        if c.slot is not None and c.confidence_span is not None
    }


def token_positions(
    ids: Sequence[int], decode: Callable[[Sequence[int]], str], spans: dict[int, tuple[int, int]]
) -> dict[int, list[int]]:
    """Indices of the tokens of `ids` that overlap each character span of `decode(ids)`.

    Token j covers characters [len(decode(ids[:j])), len(decode(ids[:j+1]))); the prefix lengths are
    found by binary search, O(log T) decodes per span boundary.
    """
    cache: dict[int, int] = {}

    def prefix_length(count: int) -> int:
        if count not in cache:
            cache[count] = len(decode(ids[:count]))
        return cache[count]

    class _Prefixes:
        def __len__(self) -> int:
            return len(ids) + 1

        def __getitem__(self, count: int) -> int:
            return prefix_length(count)

    prefixes = _Prefixes()
    positions: dict[int, list[int]] = {}
    for slot, (start, end) in spans.items():
        first = bisect.bisect_right(prefixes, start) - 1  # type: ignore[call-overload]
        last = bisect.bisect_left(prefixes, end) - 1  # type: ignore[call-overload]
        positions[slot] = list(range(max(first, 0), min(last, len(ids) - 1) + 1))
    return positions


def spread_advantages(
    sequence: torch.Tensor, slots: torch.Tensor, positions: Sequence[dict[int, list[int]]], length: int
) -> torch.Tensor:
    """(B, T) advantages: the sequence advantage everywhere, slot i's advantage on its confidence tokens.

    >>> spread_advantages(torch.tensor([1.0]), torch.tensor([[-2.0]]), [{1: [2]}], 4).tolist()
    [[1.0, 1.0, -2.0, 1.0]]
    """
    result = (sequence if sequence.dim() == 2 else sequence.unsqueeze(1).expand(-1, length)).clone()
    for row, slot_positions in enumerate(positions):
        for slot, indices in slot_positions.items():
            if indices:
                result[row, indices] = slots[row, slot - 1]
    return result


class TokenCreditGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` whose confidence tokens get their own slot's Brier advantage (module docstring).

    Needs a `TotalReward` among the reward functions (its `ScoreCache` supplies the parsed, graded
    completions that TRL's reward call just scored, so nothing is scored twice) and the dataset columns
    `gold` / `posterior`. It only post-processes the output of `GRPOTrainer._generate_and_score_completions`
    (the keys `completion_ids`, `completion_mask`, `advantages`), so the rest of TRL's step is untouched.
    """

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        cache = _score_cache(self.reward_funcs)
        k = cache.scorer.answer_format.num_candidates
        ids_rows = [
            row[mask.bool()].tolist()
            for row, mask in zip(output["completion_ids"], output["completion_mask"], strict=True)
        ]
        texts = self.processing_class.batch_decode(ids_rows, skip_special_tokens=True)
        scored = cache.score_batch(texts, [x["gold"] for x in inputs], [x.get("posterior") for x in inputs])
        advantages = output["advantages"]
        local = torch.tensor(
            [slot_brier(s, k) for s in scored], dtype=torch.float32, device=advantages.device
        )
        gathered = self.accelerator.gather(local)
        group_size = self.num_generations if self.model.training else self.num_generations_eval
        centered = group_center(gathered, group_size, self.scale_rewards)
        start = self.accelerator.process_index * len(inputs)
        slot_advantages = centered[start : start + len(inputs)]

        def decode(ids: Sequence[int]) -> str:
            return self.processing_class.decode(list(ids), skip_special_tokens=True)

        positions = [
            token_positions(ids, decode, _credited_spans(result, text, row.tolist()))
            for ids, text, result, row in zip(ids_rows, texts, scored, local, strict=True)
        ]
        output["advantages"] = spread_advantages(
            advantages, slot_advantages, positions, output["completion_ids"].size(1)
        )
        self._log_slot_metrics(local, positions, k)
        return output

    def _log_slot_metrics(self, local: torch.Tensor, positions: list[dict[int, list[int]]], k: int) -> None:
        """Mean b_i per slot and the fraction of confidences located, over every rank's completions."""
        mode = "train" if self.model.training else "eval"
        valid = ~torch.isnan(local)
        located = sum(1 for row in positions for indices in row.values() if indices)
        stats = torch.cat(
            [
                torch.nan_to_num(local, nan=0.0).sum(dim=0),
                valid.sum(dim=0).float(),
                torch.tensor([located, len(positions) * k], dtype=torch.float32, device=local.device),
            ]
        )
        totals = self.accelerator.gather(stats).view(-1, stats.numel()).sum(dim=0)
        for slot in range(k):
            if totals[k + slot] > 0:
                self._metrics[mode][f"token_credit/slot{slot + 1}_brier"].append(
                    (totals[slot] / totals[k + slot]).item()
                )
        self._metrics[mode]["token_credit/confidences_located"].append(
            (totals[-2] / totals[-1].clamp(min=1)).item()
        )


def _credited_spans(
    scored: ScoredCompletion | None, text: str, slot_scores: Sequence[float]
) -> dict[int, tuple[int, int]]:
    """The confidence spans whose slot has a score (b_i not NaN), in the coordinates of `text`."""
    if scored is None or scored.parsed.raw != text:
        return {}
    return {
        slot: span
        for slot, span in confidence_spans(scored.parsed).items()
        if not math.isnan(slot_scores[slot - 1])
    }


def _score_cache(reward_funcs: Sequence[Any]) -> ScoreCache:
    for function in reward_funcs:
        if isinstance(function, TotalReward):
            return function.cache
    raise ValueError("confidence_credit 'token' needs beyondmode's TotalReward among the reward functions")
