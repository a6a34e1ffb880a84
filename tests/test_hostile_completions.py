"""Hostile completions (the shapes of `bench/bench_parse_hostile.py`, at small sizes) never raise.

The bench times these shapes up to 1 MB; here Hypothesis feeds them, and splices of them, to the parser,
the scorer and the token-credit span finder, and checks that nothing raises and that the results stay
coherent (fast path equals the general parser; every confidence span points at its confidence text).
No timing is asserted: that is the bench's job.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench_module import load_bench
from beyondmode.formats import AnswerFormat, Layout, parse_confidence
from beyondmode.scoring import Scorer
from beyondmode.types import ParsedResponse

hostile_shapes = load_bench("bench_parse_hostile").hostile_shapes
SHAPE_NAMES = sorted(hostile_shapes(10))
FORMATS = [
    AnswerFormat(num_candidates=3),
    AnswerFormat(num_candidates=3, with_analysis=True, layout=Layout.SPLIT),
    AnswerFormat(num_candidates=1, with_analysis=True),
    AnswerFormat(num_candidates=12, with_confidence=False, require_think=False, allow_text_outside=True),
]
SCORERS = [Scorer.for_method("multi_rlcr", 3), Scorer.for_method("rlcr"), Scorer.for_method("multi_rlvr", 2)]


def _confidence_spans(parsed: ParsedResponse) -> dict[int, tuple[int, int]]:
    """The span finder of per-token credit, without importing torch into this core test."""
    return {c.slot: c.confidence_span for c in parsed.candidates if c.slot and c.confidence_span}


def _check(text: str) -> None:
    for fmt in FORMATS:
        parsed = fmt.parse(text)
        assert parsed == fmt.parse_general(text)
        for candidate in parsed.candidates:
            if candidate.confidence_span is not None:
                start, end = candidate.confidence_span
                assert text[start:end] == candidate.confidence_raw
                assert parse_confidence(text[start:end])[0] == candidate.confidence
        _confidence_spans(parsed)
    for scorer in SCORERS:
        scored = scorer.score(text, [["influenza", "flu"], ["common cold"]])
        assert 0.0 <= scored.breakdown.total <= 2.0


@pytest.mark.parametrize("name", SHAPE_NAMES)
@pytest.mark.parametrize("size", [0, 1, 7, 100, 5_000])
def test_each_shape_never_raises(name: str, size: int) -> None:
    _check(hostile_shapes(size)[name])


@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(SHAPE_NAMES), st.integers(0, 300), st.integers(0, 400), st.integers(0, 400)
        ),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_splices_of_shapes_never_raise(parts: list[tuple[str, int, int, int]]) -> None:
    """Pieces of several shapes, cut anywhere, glued together."""
    text = ""
    for name, size, start, length in parts:
        shape = hostile_shapes(size)[name]
        text += shape[start : start + length]
    _check(text)


SOUP = [
    *"<>/ \n\t0123456789.%e-\u0661`",
    "answer",
    "confidence",
    "think",
    "analysis",
    "</answer2>",
    "<confidence3>",
]
SOUP += ["```", "```py\n", "<answer1>", "</answer1>", "<confidence1>", "</confidence1>", "<analysis>"]


@given(st.lists(st.sampled_from(SOUP), max_size=60).map("".join))
@settings(max_examples=300, deadline=None)
def test_tag_soup_never_raises(text: str) -> None:
    _check(text)
