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

    positions = token_positions(ids, decode, confidence_spans(decode(ids), fmt))
    assert sorted(positions) == list(range(1, k + 1))
    for slot, value in enumerate(values, start=1):
        assert [tokenizer.convert_ids_to_tokens(ids[i]) for i in positions[slot]] == [f"{value:.2f}"]


def test_no_spans_without_confidences() -> None:
    fmt = AnswerFormat(num_candidates=2)
    assert confidence_spans("<answer1> a </answer1> <confidence1> </confidence1>", fmt) == {}
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
    assert scaled[0, 0] == pytest.approx(0.5 / (0.5 + 1e-4)) and scaled[2, 1] == 0.0
    batch = group_center(values, num_generations=2, scale="batch")
    assert batch[0, 0] == pytest.approx(0.5 / (torch.tensor([1.0, 0.0, 0.5, 0.5]).std(unbiased=False) + 1e-4))
    with pytest.raises(ValueError, match="scale_rewards"):
        group_center(values, num_generations=2, scale="per_token")


def test_slot_brier_label_and_expected() -> None:
    text = (
        "<think> x </think> <answer1> flu </answer1> <confidence1> 0.8 </confidence1> "
        "<answer2> cold </answer2> <confidence2> 0.4 </confidence2>"
    )
    label = Scorer.for_method("multi_rlcr", 2).score(text, [["flu"]])
    assert slot_brier(label, 2) == pytest.approx([1 - 0.04, 1 - 0.16])
    expected = Scorer.for_method("multi_rlcr", 2, mode="expected").score(
        text, [["flu"]], {"flu": 0.6, "cold": 0.4}
    )
    assert slot_brier(expected, 2) == pytest.approx([1 - (0.04 + 0.24), 1 - (0.0 + 0.24)])
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

    positions = token_positions(ids, decode, confidence_spans(decode(ids), fmt))
    for slot, value in enumerate(values, start=1):
        assert decode([ids[i] for i in positions[slot]]) == f"{value / 100:.2f}"
