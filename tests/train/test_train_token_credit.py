"""Per-token confidence credit: spans, token positions, group centering, and the (B, T) advantages."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode.formats import AnswerFormat
from beyondmode.models.tiny import build_word_tokenizer
from beyondmode.scoring import Scorer
from beyondmode.train.token_credit import (
    confidence_spans,
    group_center,
    slot_brier,
    spread_advantages,
    token_positions,
)
from beyondmode.types import Candidate


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("layout", ["interleaved", "split"])
def test_positions_are_the_confidence_tokens(k: int, layout: str) -> None:
    fmt = AnswerFormat(num_candidates=k, layout=layout)
    values = [0.61, 0.27, 0.05][:k]
    text = fmt.render([Candidate(f"d{i} word", q) for i, q in enumerate(values)], think="fever no_cough")
    tokenizer = build_word_tokenizer([text])
    ids = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]

    def decode(part):
        return tokenizer.decode(list(part), skip_special_tokens=True)

    positions = token_positions(ids, decode, confidence_spans(fmt.parse(decode(ids))))
    assert sorted(positions) == list(range(1, k + 1))
    for slot, value in enumerate(values, start=1):
        assert [tokenizer.convert_ids_to_tokens(ids[i]) for i in positions[slot]] == [f"{value:.2f}"]


def test_no_spans_without_confidences() -> None:
    fmt = AnswerFormat(num_candidates=2)
    assert confidence_spans(fmt.parse("<answer1> a </answer1> <confidence1> </confidence1>")) == {}
    assert token_positions([1, 2, 3], lambda ids: "abc"[: len(ids)], {}) == {}


def test_spread_only_touches_confidence_positions() -> None:
    sequence = torch.tensor([0.5, -0.25])
    slots = torch.tensor([[2.0, -1.0], [0.0, 3.0]])
    positions = [{1: [1], 2: [3, 4]}, {2: []}]
    result = spread_advantages(sequence, slots, positions, length=6)
    expected = torch.tensor([[0.5, 2.0, 0.5, -1.0, -1.0, 0.5], [-0.25] * 6])
    torch.testing.assert_close(result, expected)


def test_group_center_per_slot_and_scale() -> None:
    values = torch.tensor([[1.0, 0.2], [0.0, 0.4], [0.5, math.nan], [0.5, 0.6]])
    centered = group_center(values, num_generations=2)
    torch.testing.assert_close(centered, torch.tensor([[0.5, -0.1], [-0.5, 0.1], [0.0, 0.0], [0.0, 0.0]]))
    scaled = group_center(values, num_generations=2, scale="group")
    group_std = torch.tensor([1.0, 0.0]).std(unbiased=True)  # Bessel's correction, as TRL
    assert scaled[0, 0] == pytest.approx(0.5 / (group_std + 1e-4)) and scaled[2, 1] == 0.0
    batch = group_center(values, num_generations=2, scale="batch")
    assert batch[0, 0] == pytest.approx(0.5 / (torch.tensor([1.0, 0.0, 0.5, 0.5]).std(unbiased=True) + 1e-4))
    with pytest.raises(ValueError, match="scale_rewards"):
        group_center(values, num_generations=2, scale="per_token")


def test_slot_brier_label_and_expected() -> None:
    text = (
        "<think> x </think> <answer1> flu </answer1> <confidence1> 0.8 </confidence1> "
        "<answer2> cold </answer2> <confidence2> 0.2 </confidence2>"
    )
    label = Scorer.for_method("multi_rlcr", 2).score(text, [["flu"]])
    assert slot_brier(label, 2) == pytest.approx([1 - 0.04, 1 - 0.04])
    expected = Scorer.for_method("multi_rlcr", 2, mode="expected").score(
        text, [["flu"]], {"flu": 0.6, "cold": 0.4}
    )
    assert slot_brier(expected, 2) == pytest.approx([1 - (0.04 + 0.24), 1 - (0.04 + 0.24)])
    assert all(math.isnan(b) for b in slot_brier(None, 2))


@given(
    k=st.integers(1, 4),
    layout=st.sampled_from(["interleaved", "split"]),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_positions_property(k: int, layout: str, data: st.DataObject) -> None:
    """Whatever the answers and confidences, the located tokens decode to exactly each confidence."""
    words = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
    answers = data.draw(
        st.lists(st.lists(words, min_size=1, max_size=3).map(" ".join), min_size=k, max_size=k)
    )
    values = data.draw(st.lists(st.integers(0, 100), min_size=k, max_size=k))
    fmt = AnswerFormat(num_candidates=k, layout=layout)
    text = fmt.render([Candidate(a, v / 100) for a, v in zip(answers, values, strict=True)], think="x y")
    tokenizer = build_word_tokenizer([text])
    ids = tokenizer(text)["input_ids"]

    def decode(part):
        return tokenizer.decode(list(part), skip_special_tokens=True)

    positions = token_positions(ids, decode, confidence_spans(fmt.parse(decode(ids))))
    for slot, value in enumerate(values, start=1):
        assert decode([ids[i] for i in positions[slot]]) == f"{value / 100:.2f}"


@pytest.mark.parametrize("scale", ["none", "group", "batch"])
def test_group_center_matches_trl_on_a_single_slot(scale: str) -> None:
    """One slot's centering is TRL's sequence advantage on the same numbers (its nanstd is unbiased)."""
    from trl.trainer.utils import nanstd

    generator = torch.Generator().manual_seed(0)
    rewards = torch.rand(12, generator=generator)
    rewards[[3, 7]] = math.nan
    grouped = rewards.view(-1, 4)
    advantages = rewards - torch.nanmean(grouped, dim=1).repeat_interleave(4)
    if scale == "group":
        advantages = advantages / (nanstd(grouped, dim=1).repeat_interleave(4) + 1e-4)
    elif scale == "batch":
        advantages = advantages / (nanstd(rewards) + 1e-4)
    expected = torch.nan_to_num(advantages, nan=0.0)
    torch.testing.assert_close(group_center(rewards.unsqueeze(1), 4, scale).squeeze(1), expected)


def test_slot_brier_is_indexed_by_slot_not_position() -> None:
    """With answer2 missing, slot 3's score belongs to confidence3's tokens, and confidence2 gets none."""
    scorer = Scorer.for_method("multi_rlcr", 3)
    scorer = type(scorer)(scorer.answer_format, scorer.spec.__class__(require_format=False), scorer.grader)
    text = (
        "<think> x </think> <answer1> flu </answer1> <confidence1> 0.8 </confidence1> "
        "<confidence2> 0.1 </confidence2> <answer3> cold </answer3> <confidence3> 0.3 </confidence3>"
    )
    scored = scorer.score(text, [["flu"]])
    values = slot_brier(scored, 3)
    assert (
        values[0] == pytest.approx(1 - 0.04)
        and math.isnan(values[1])
        and values[2] == pytest.approx(1 - 0.09)
    )
    spans = confidence_spans(scored.parsed)
    assert sorted(spans) == [1, 3] and text[slice(*spans[3])] == "0.3"


@pytest.mark.parametrize(
    ("name", "text", "gold"),
    [
        (
            "malformed (format gate)",
            "<answer1> flu </answer1> <confidence1> 0.8 </confidence1> <answer2> cold </answer2> "
            "<confidence2> 0.1 </confidence2>",
            [["flu"]],
        ),
        (
            "duplicate answers (uniqueness gate)",
            "<think> x </think> <answer1> flu </answer1> <confidence1> 0.8 </confidence1> "
            "<answer2> Flu </answer2> <confidence2> 0.1 </confidence2>",
            [["flu"]],
        ),
        (
            "confidences sum above 1 (sum gate)",
            "<think> x </think> <answer1> flu </answer1> <confidence1> 0.8 </confidence1> "
            "<answer2> cold </answer2> <confidence2> 0.7 </confidence2>",
            [["flu"]],
        ),
    ],
)
def test_slot_brier_follows_the_brier_gates(name: str, text: str, gold: list) -> None:
    scored = Scorer.for_method("multi_rlcr", 2).score(text, gold)
    assert scored.breakdown.terms["brier"] > 0  # the ungated term is positive ...
    assert slot_brier(scored, 2) == [0.0, 0.0], name  # ... and gated to 0, as in the sequence reward


def test_spans_come_from_the_parse_in_linear_time() -> None:
    """The lazy regex took 16 s on 4,000 spaces after an unclosed `<confidence2>`; the parse is linear
    (without the `max_chars` limit, which would cut this text)."""
    fmt = AnswerFormat(num_candidates=3, max_chars=0)
    text = "<think> t </think> <answer2> b </answer2> <confidence2>" + " " * 200_000
    assert confidence_spans(fmt.parse(text)) == {}
    closed = text + "0.25 </confidence2>"
    assert [closed[slice(*span)] for span in confidence_spans(fmt.parse(closed)).values()] == ["0.25"]


@pytest.mark.parametrize("k", [1, 3])
def test_fast_and_general_parsers_give_the_same_spans(k: int) -> None:
    fmt = AnswerFormat(num_candidates=k, with_analysis=True)
    text = fmt.render([Candidate(f"d{i}", 0.1 * (i + 1)) for i in range(k)], think="t", analysis="a")
    text = text.replace("<confidence", "  <confidence").replace("</confidence", "\n </confidence")
    fast, general = fmt.parse(text), fmt.parse_general(text)
    assert fast.format_ok and confidence_spans(fast) == confidence_spans(general)
    assert [text[slice(*span)] for span in confidence_spans(fast).values()] == [
        f"{0.1 * (i + 1):.2f}" for i in range(k)
    ]


class _TwoRanks:
    """An accelerator stand-in for rank 0 of two: `gather` appends rank 1's tensor (ones, or `other`)."""

    process_index = 0

    def __init__(self, other: torch.Tensor | None = None) -> None:
        self.other = other

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        other = self.other if self.other is not None and self.other.shape == tensor.shape else tensor
        return torch.cat([tensor, other])


def test_slot_metrics_are_gathered_across_ranks() -> None:
    from collections import defaultdict
    from types import SimpleNamespace

    from beyondmode.train.token_credit import TokenCreditGRPOTrainer

    local = torch.tensor([[1.0, math.nan], [0.0, 0.5]])  # rank 0: slot 1 mean 0.5, slot 2 mean 0.5
    other = torch.tensor([1.0, 0.0, 2.0, 0.0, 0.0, 4.0])  # rank 1's stats: slot sums, counts, located, total
    fake = SimpleNamespace(
        accelerator=_TwoRanks(other),
        model=SimpleNamespace(training=True),
        _metrics={"train": defaultdict(list)},
    )
    TokenCreditGRPOTrainer._log_slot_metrics(fake, local, [{1: [3]}, {1: [4], 2: [6]}], 2)  # type: ignore[arg-type]
    metrics = fake._metrics["train"]
    assert metrics["token_credit/slot1_brier"] == [pytest.approx((1.0 + 1.0) / (2 + 2))]
    assert metrics["token_credit/slot2_brier"] == [pytest.approx(0.5 / 1)]
    assert metrics["token_credit/confidences_located"] == [pytest.approx((3 + 0) / (4 + 4))]
