"""Hypothesis properties of the parser, the reward terms and the metrics."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode.formats import AnswerFormat, Layout
from beyondmode.metrics import pass_at_k
from beyondmode.rewards import TERM_NAMES, brier
from beyondmode.scoring import RewardMode, Scorer
from beyondmode.types import Candidate

FORMATS = st.builds(
    AnswerFormat,
    num_candidates=st.integers(1, 5),
    with_confidence=st.booleans(),
    require_think=st.booleans(),
    with_analysis=st.booleans(),
    layout=st.sampled_from(list(Layout)),
    allow_text_outside=st.booleans(),
)
TAGGY_TEXT = st.lists(
    st.sampled_from(
        [
            *"<>/ .%0123456789abe",
            "\n",
            "answer",
            "confidence",
            "think",
            "analysis",
            "nan",
            "<answer1>",
            "</answer1>",
            "<confidence1>",
            "</confidence1>",
            "<think>",
            "</think>",
            "<answer>",
        ]
    ),
    max_size=80,
).map("".join)
WORDS = st.text(alphabet="abcdefghij -", min_size=1, max_size=12).filter(lambda s: s.strip())


@given(FORMATS, st.one_of(st.text(max_size=300), TAGGY_TEXT))
@settings(max_examples=300, deadline=None)
def test_parser_never_raises_on_arbitrary_text(fmt: AnswerFormat, text: str) -> None:
    parsed = fmt.parse(text)
    assert parsed.format_ok == (not parsed.violations)
    assert len(parsed.candidates) <= fmt.num_candidates
    for candidate in parsed.candidates:
        assert candidate.confidence is None or 0.0 <= candidate.confidence <= 1.0


@st.composite
def answer_sets(draw, fmt_strategy=FORMATS):
    fmt = draw(fmt_strategy)
    texts = draw(st.lists(WORDS, min_size=fmt.num_candidates, max_size=fmt.num_candidates))
    confidences = draw(
        st.lists(st.integers(0, 100), min_size=fmt.num_candidates, max_size=fmt.num_candidates)
    )
    candidates = [
        Candidate(t.strip(), q / 100 if fmt.with_confidence else None)
        for t, q in zip(texts, confidences, strict=True)
    ]
    return fmt, candidates


@given(answer_sets(), st.text(alphabet="abc ", max_size=20))
@settings(max_examples=200, deadline=None)
def test_render_parse_round_trip(fmt_and_candidates, think: str) -> None:
    fmt, candidates = fmt_and_candidates
    parsed = fmt.parse(fmt.render(candidates, think=think.strip() or None))
    assert parsed.format_ok, parsed.violations
    assert parsed.texts == tuple(c.text for c in candidates)
    assert parsed.confidences == tuple(c.confidence for c in candidates)


@given(answer_sets(), st.data())
@settings(max_examples=200, deadline=None)
def test_parser_never_raises_on_mutations(fmt_and_candidates, data) -> None:
    fmt, candidates = fmt_and_candidates
    text = fmt.render(candidates, think="x")
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            text = text[:position] + text[position + 5 :]
        elif action == "insert":
            text = (
                text[:position]
                + data.draw(st.sampled_from(["<", ">", "</answer1>", "<think>", "%", "1.5"]))
                + text[position:]
            )
        else:
            text = text[:position] + text[max(0, position - 20) : position] + text[position:]
    parsed = fmt.parse(text)
    assert parsed.raw == text
    assert parsed.format_ok == (not parsed.violations)
    assert len(parsed.candidates) <= fmt.num_candidates
    for candidate in parsed.candidates:
        assert candidate.confidence is None or 0.0 <= candidate.confidence <= 1.0
        assert fmt.with_confidence or candidate.confidence is None
    assert parsed == fmt.parse_general(text)  # the fast path never decides a mutated text differently


GOLD_NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]
METHODS = ["rlvr", "rlcr", "multi_rlvr", "multi_rlcr"]


@st.composite
def scored_cases(draw):
    method = draw(st.sampled_from(METHODS))
    k = draw(st.integers(1, 4))
    scorer = Scorer.for_method(method, k)
    fmt = scorer.answer_format
    texts = draw(
        st.lists(
            st.sampled_from([*GOLD_NAMES, "Alpha.", "zeta", "eta"]),
            min_size=fmt.num_candidates,
            max_size=fmt.num_candidates,
        )
    )
    confidences = draw(st.lists(st.floats(0, 1), min_size=fmt.num_candidates, max_size=fmt.num_candidates))
    gold = draw(st.lists(st.sampled_from(GOLD_NAMES), min_size=1, max_size=4, unique=True))
    candidates = [
        Candidate(t, round(q, 3) if fmt.with_confidence else None)
        for t, q in zip(texts, confidences, strict=True)
    ]
    return scorer, candidates, gold


@given(answer_sets(), st.data())
@settings(max_examples=300, deadline=None)
def test_fast_path_agrees_with_the_general_parser(fmt_and_candidates, data) -> None:
    """`parse` takes a regex fast path for well-formed text; it must equal the general parser."""
    fmt, candidates = fmt_and_candidates
    text = fmt.render(candidates, think=data.draw(st.sampled_from([None, "x", " a b "])))
    if data.draw(st.booleans()):
        position = data.draw(st.integers(0, len(text)))
        text = (
            text[:position]
            + data.draw(st.sampled_from(["", " ", "\n", "x", "<", "%", "1"]))
            + text[position:]
        )
    assert fmt.parse(text) == fmt.parse_general(text)


@given(scored_cases())
@settings(max_examples=300, deadline=None)
def test_every_term_finite_and_in_range(case) -> None:
    scorer, candidates, gold = case
    scored = scorer.score(scorer.answer_format.render(candidates, think="t"), gold)
    for name in TERM_NAMES:
        value = scored.breakdown.terms[name]
        top = scorer.answer_format.num_candidates if name == "listed" else 1.0  # a count of candidates
        assert math.isfinite(value) and 0.0 <= value <= top, (name, value)
    assert scored.breakdown.terms["listed"] == len(scored.parsed.candidates)
    assert 0.0 <= scored.breakdown.total <= 1.5


@given(scored_cases(), st.randoms(use_true_random=False))
@settings(max_examples=200, deadline=None)
def test_coverage_is_invariant_to_candidate_order(case, rng) -> None:
    scorer, candidates, gold = case
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    render = scorer.answer_format.render
    first = scorer.score(render(candidates, think="t"), gold).breakdown.terms
    second = scorer.score(render(shuffled, think="t"), gold).breakdown.terms
    for name in ("coverage", "any_hit", "uniqueness", "sum_le_1"):
        assert first[name] == second[name], name


@given(scored_cases(), st.integers(0, 10))
@settings(max_examples=200, deadline=None)
def test_adding_a_duplicate_never_raises_coverage(case, position) -> None:
    scorer, candidates, gold = case
    k = len(candidates)
    if k < 2:
        return
    duplicated = list(candidates)
    duplicated[position % k] = Candidate(
        candidates[(position + 1) % k].text.upper(), candidates[position % k].confidence
    )
    render = scorer.answer_format.render
    before = scorer.score(render(candidates, think="t"), gold).breakdown.terms["coverage"]
    after = scorer.score(render(duplicated, think="t"), gold).breakdown.terms["coverage"]
    assert after <= before + 1e-12


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4))
@settings(max_examples=100, deadline=None)
def test_expected_brier_is_maximized_at_the_true_probability(probabilities) -> None:
    k = len(probabilities)
    grid = np.linspace(0.0, 1.0, 101)
    for slot, p in enumerate(probabilities):
        # Expected label-mode Brier over y ~ Bernoulli(p), as a function of q_slot (others at their p).
        def expected(q: float, slot: int = slot, p: float = p) -> float:
            base = list(probabilities)
            base[slot] = q
            hit = list(probabilities)
            miss = list(probabilities)
            hit[slot], miss[slot] = 1.0, 0.0
            others = [probabilities[i] for i in range(k)]
            return p * brier(_round(hit, slot, others), base, k) + (1 - p) * brier(
                _round(miss, slot, others), base, k
            )

        best = grid[int(np.argmax([expected(q) for q in grid]))]
        assert abs(best - p) <= 0.005 + 1e-9, (slot, p, best)
        # The expected-mode term is exactly that expectation.
        confidences = list(probabilities)
        assert brier(probabilities, confidences, k) == _approx(expected(p))


def _round(values: list[float], slot: int, others: list[float]) -> list[float]:
    return [values[i] if i == slot else others[i] for i in range(len(values))]


def _approx(value: float):
    import pytest

    return pytest.approx(value, abs=1e-9)


@given(st.integers(1, 12), st.data())
@settings(max_examples=100, deadline=None)
def test_pass_at_k_matches_brute_force(n: int, data) -> None:
    from itertools import combinations

    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    outcomes = [1] * c + [0] * (n - c)
    subsets = list(combinations(range(n), k))
    brute = sum(any(outcomes[i] for i in subset) for subset in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == _approx(brute)


def test_expected_mode_term_equals_average_of_label_mode() -> None:
    """Expected-mode coverage/brier equal the posterior-average of label-mode rewards (single gold)."""
    posterior = {"alpha": 0.5, "beta": 0.3, "gamma": 0.2}
    completion = AnswerFormat(3).render(
        [Candidate("alpha", 0.5), Candidate("beta", 0.2), Candidate("zeta", 0.1)], think="t"
    )
    expected_scorer = Scorer.for_method("multi_rlcr", 3, mode=RewardMode.EXPECTED)
    label_scorer = Scorer.for_method("multi_rlcr", 3)
    expected_terms = expected_scorer.score(completion, [["alpha"]], posterior=posterior).breakdown.terms
    for name in ("coverage", "any_hit", "brier"):
        average = sum(
            p * label_scorer.score(completion, [[truth]]).breakdown.terms[name]
            for truth, p in posterior.items()
        )
        assert expected_terms[name] == _approx(average), name


@given(scored_cases(), st.booleans())
@settings(max_examples=300, deadline=None)
def test_one_pass_terms_equal_the_reference_terms(case, truncate) -> None:
    """`compute_terms` (the hot path) agrees with one call per documented term function."""
    from beyondmode.rewards import compute_terms, reference_terms

    scorer, candidates, gold = case
    text = scorer.answer_format.render(candidates, think="t")
    if truncate:
        text = text[: len(text) * 2 // 3]
    parsed = scorer.answer_format.parse(text)
    grades = scorer.grade(parsed, gold)
    k = scorer.answer_format.num_candidates
    fast = compute_terms(parsed, grades, k, 0.01)
    slow = reference_terms(parsed, grades, k, 0.01)
    assert fast.keys() == slow.keys()
    for name in fast:
        assert fast[name] == _approx(slow[name]), name
