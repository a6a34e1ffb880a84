"""Property tests of the run summary on random graded generations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode.evaluate.scored import ScoredGeneration
from beyondmode.evaluate.summary import answer_matches, summarize_method

K = 2
MAX_ANSWERS = 6


@st.composite
def generations(draw) -> list[ScoredGeneration]:
    result = []
    for sample in range(MAX_ANSWERS // K):
        size = draw(st.integers(0, K))
        matched = tuple(draw(st.sampled_from([None, 0, 1, 2])) for _ in range(size))
        confidences = tuple(draw(st.floats(0, 1)) for _ in range(size))
        result.append(
            ScoredGeneration(
                sample=sample,
                texts=tuple(f"a{i}" for i in range(size)),
                confidences=confidences,
                hits=tuple(0.0 if m is None else 1.0 for m in matched),
                matched=matched,
                keys=tuple(draw(st.sampled_from(["x", "y", "z", "w"])) for _ in range(size)),
                slots=tuple(range(1, size + 1)),
                true_probabilities=None,
                format_ok=size == K and draw(st.booleans()),
                violations=(),
                num_tokens=draw(st.integers(1, 50)),
                seconds=0.01,
                num_candidates=K,
            )
        )
    return result


@settings(max_examples=40, deadline=None)
@given(st.lists(generations(), min_size=1, max_size=4))
def test_curves_are_monotone_and_bounded(per_example) -> None:
    block = summarize_method(
        per_example, recall_ks=(1, 2, 6), max_answers=MAX_ANSWERS, iid=False, resamples=20
    )
    curves = block["curves"]
    for name in ("recall", "coverage", "recall_lenient"):
        assert all(a <= b + 1e-12 for a, b in zip(curves[name], curves[name][1:], strict=False)), name
    assert all(c <= 1.0 for c in curves["coverage"])
    assert all(
        s <= lenient + 1e-12 for s, lenient in zip(curves["recall"], curves["recall_lenient"], strict=True)
    )
    assert all(0 <= d <= MAX_ANSWERS for d in block["distinct_per_example"])
    ece = block["metrics"]["ece"]
    assert ece is None or 0.0 <= ece["mean"] <= 1.0


@settings(max_examples=40, deadline=None)
@given(generations())
def test_answers_are_laid_out_k_per_generation(gens) -> None:
    for strict in (True, False):
        answers = answer_matches(gens, strict=strict)
        assert len(answers) == K * len(gens)
        for number, generation in enumerate(gens):
            block = answers[number * K : (number + 1) * K]
            kept = generation.format_ok or not strict
            expected = list(generation.matched) if kept else []
            assert block == expected + [None] * (K - len(expected)), (number, strict)
