"""Reward terms and method presets, table-driven, on hand-computed values."""

from __future__ import annotations

import pickle

import pytest

from beyondmode.grading import Grades
from beyondmode.methods import Method, method_format, method_spec, preset
from beyondmode.rewards import RewardSpec, brier, combine, coverage, sum_le_1, top1, uniqueness
from beyondmode.scoring import RewardMode, Scorer


def multi(answers: list[tuple[str, str]], think: str = "t") -> str:
    slots = " ".join(
        f"<answer{i}> {a} </answer{i}> <confidence{i}> {q} </confidence{i}>"
        for i, (a, q) in enumerate(answers, 1)
    )
    return f"<think> {think} </think> {slots}"


SINGLE_GOLD = [["influenza", "flu"]]
MULTI_GOLD = [["influenza"], ["common cold"], ["covid-19"], ["bronchitis"]]


@pytest.mark.parametrize(
    ("name", "completion", "gold", "expected"),
    [
        (
            "single gold, hit first",
            multi([("flu", "0.6"), ("cold", "0.3"), ("covid", "0.1")]),
            SINGLE_GOLD,
            {
                "format": 1,
                "coverage": 1,
                "any_hit": 1,
                "uniqueness": 1,
                "top1": 1,
                "sum_le_1": 1,
                "brier": 1 - ((0.4**2) + 0.3**2 + 0.1**2) / 3,
            },
        ),
        (
            "single gold, miss",
            multi([("cold", "0.5"), ("covid", "0.3"), ("asthma", "0.1")]),
            SINGLE_GOLD,
            {"coverage": 0, "any_hit": 0, "top1": 0, "uniqueness": 1, "brier": 1 - (0.25 + 0.09 + 0.01) / 3},
        ),
        (
            "single gold, hit by the lower-confidence candidate",
            multi([("cold", "0.5"), ("flu", "0.3"), ("covid", "0.1")]),
            SINGLE_GOLD,
            {"coverage": 1, "top1": 0},
        ),
        (
            "top1 follows the highest confidence, not slot order",
            multi([("cold", "0.2"), ("flu", "0.7"), ("covid", "0.1")]),
            SINGLE_GOLD,
            {"top1": 1},
        ),
        (
            "two candidates hitting the same gold element",
            multi([("flu", "0.5"), ("influenza", "0.4"), ("covid", "0.1")]),
            SINGLE_GOLD,
            {"coverage": 1, "uniqueness": 0, "brier": 1 - (0.25 + 0.16 + 0.01) / 3},
        ),
        (
            "duplicates differing in case and punctuation",
            multi([("Common cold", "0.3"), ("common cold.", "0.3"), ("covid-19", "0.3")]),
            MULTI_GOLD,
            {"coverage": 2 / 3, "uniqueness": 0},
        ),
        (
            "multi gold, two of three hit, more gold than K",
            multi([("influenza", "0.9"), ("asthma", "0.2"), ("bronchitis", "0.6")]),
            MULTI_GOLD,
            {"coverage": 2 / 3, "any_hit": 1, "uniqueness": 1, "sum_le_1": 0},
        ),
        (
            "confidences sum above one",
            multi([("flu", "0.6"), ("cold", "0.5"), ("covid", "0.1")]),
            SINGLE_GOLD,
            {"sum_le_1": 0},
        ),
        (
            "malformed: terms still computed leniently, format 0",
            multi([("flu", "0.6"), ("cold", "0.3")]),
            SINGLE_GOLD,
            {"format": 0, "coverage": 1, "uniqueness": 0},
        ),
    ],
)
def test_terms(name: str, completion: str, gold: list, expected: dict[str, float]) -> None:
    scored = Scorer.for_method("multi_rlcr", 3).score(completion, gold)
    for term, value in expected.items():
        assert scored.breakdown.terms[term] == pytest.approx(value), (name, term)


def test_coverage_normalizes_by_min_k_and_gold() -> None:
    assert coverage([1, 1, 0], num_candidates=3, num_gold=2) == 1.0
    assert coverage([1, 0, 0], num_candidates=3, num_gold=1) == 1.0
    assert coverage([1, 1, 0], num_candidates=3, num_gold=5) == pytest.approx(2 / 3)
    assert coverage([0, 0, 0], num_candidates=3, num_gold=0) == 0.0


def test_brier_expected_form_reduces_to_label_form() -> None:
    assert brier([1.0, 0.0], [0.7, 0.2], 2) == pytest.approx(1 - (0.09 + 0.04) / 2)
    # y = 0.5, q = 0.5: (q - y)^2 = 0, label noise y(1 - y) = 0.25
    assert brier([0.5], [0.5], 1) == pytest.approx(0.75)
    assert brier([1.0], [None], 1) == 0.0


def test_uniqueness_needs_k_candidates() -> None:
    assert uniqueness(Grades((1.0,), (0,), True, 1), num_candidates=3) == 0.0


def test_top1_and_sum_without_confidences() -> None:
    assert top1([1.0, 0.0], [None, None]) == 1.0
    assert top1([], []) == 0.0
    assert sum_le_1([0.5, 0.505], tolerance=0.01) == 1.0


@pytest.mark.parametrize(
    ("method", "k", "with_confidence", "accuracy", "brier_weight", "gate_unique", "gate_sum"),
    [
        ("rlvr", 1, False, "any_hit", 0.0, False, False),
        ("rlcr", 1, True, "any_hit", 0.5, False, False),
        ("multi_rlvr", 3, False, "coverage", 0.0, True, False),
        ("multi_rlcr", 3, True, "coverage", 0.5, True, True),
    ],
)
def test_method_presets(method, k, with_confidence, accuracy, brier_weight, gate_unique, gate_sum) -> None:
    fmt, spec = preset(method, num_candidates=3)
    assert fmt.num_candidates == k and fmt.with_confidence == with_confidence
    assert spec.accuracy == accuracy and spec.brier_weight == brier_weight
    assert spec.format_weight == 0.5 and spec.accuracy_weight == 0.5
    assert spec.gate_uniqueness == gate_unique and spec.gate_sum_le_1 == gate_sum


def test_multi_gold_turns_off_sum_gate() -> None:
    assert not method_spec("multi_rlcr", multi_gold=True).gate_sum_le_1


def test_unknown_method_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="multi_rlcr"):
        method_format("multi_rlhf")
    assert Method("rlvr").is_multi is False


@pytest.mark.parametrize(
    ("name", "completion", "total"),
    [
        ("perfect distinct set", multi([("flu", "1.0"), ("cold", "0"), ("covid", "0")]), 0.5 + 0.5 + 0.5),
        ("duplicate gates coverage and brier", multi([("flu", "1.0"), ("flu", "0"), ("covid", "0")]), 0.5),
        ("sum above one gates brier only", multi([("flu", "1.0"), ("cold", "0.5"), ("covid", "0")]), 1.0),
        ("malformed earns nothing", multi([("flu", "1.0"), ("cold", "0")]), 0.0),
    ],
)
def test_multi_rlcr_totals(name: str, completion: str, total: float) -> None:
    assert Scorer.for_method("multi_rlcr", 3).score(completion, SINGLE_GOLD).breakdown.total == pytest.approx(
        total
    )


def test_rlvr_and_rlcr_totals() -> None:
    rlvr = Scorer.for_method("rlvr").score("<think> t </think> <answer> Flu </answer>", SINGLE_GOLD)
    assert rlvr.breakdown.total == 1.0
    rlcr = Scorer.for_method("rlcr").score(
        "<think> t </think> <answer> Flu </answer> <confidence> 0.8 </confidence>", SINGLE_GOLD
    )
    assert rlcr.breakdown.total == pytest.approx(0.5 + 0.5 + 0.5 * (1 - 0.04))


def test_expected_mode_scores_probabilities() -> None:
    scorer = Scorer.for_method("multi_rlcr", 2, mode=RewardMode.EXPECTED)
    posterior = {"influenza": 0.7, "common cold": 0.2, "covid-19": 0.1}
    scored = scorer.score(multi([("flu", "0.7"), ("common cold", "0.2")]), SINGLE_GOLD, posterior=posterior)
    assert scored.grades.hits == (0.7, 0.2)  # "flu" is an alias of the gold element "influenza"
    scored = scorer.score(
        multi([("influenza", "0.7"), ("common cold", "0.2")]), SINGLE_GOLD, posterior=posterior
    )
    assert scored.breakdown.terms["coverage"] == pytest.approx(0.9)
    assert scored.breakdown.terms["brier"] == pytest.approx(1 - (0.7 * 0.3 + 0.2 * 0.8) / 2)
    with pytest.raises(ValueError, match="posterior"):
        scorer.score(multi([("a", "0.5"), ("b", "0.5")]), SINGLE_GOLD)


def test_weight_overrides_and_validation() -> None:
    spec = method_spec("multi_rlvr", accuracy_weight=1.0, gate_uniqueness=False)
    terms = {
        "format": 1.0,
        "coverage": 0.5,
        "any_hit": 1.0,
        "brier": 0.0,
        "uniqueness": 0.0,
        "top1": 0.0,
        "sum_le_1": 1.0,
    }
    assert combine(terms, spec).total == pytest.approx(1.0)
    with pytest.raises(ValueError, match="brier_weight"):
        RewardSpec(brier_weight=-1.0)


def test_scorer_pickles() -> None:
    scorer = Scorer.for_method("multi_rlcr", 3)
    clone = pickle.loads(pickle.dumps(scorer))
    completion = multi([("flu", "0.6"), ("cold", "0.3"), ("covid", "0.1")])
    assert clone.score(completion, SINGLE_GOLD).breakdown == scorer.score(completion, SINGLE_GOLD).breakdown


@pytest.mark.parametrize("mode", ["label", "expected"])
def test_duplicates_are_resolved_in_confidence_order(mode: str) -> None:
    """["flu" 0.2, "flu" 0.7] with truth flu: the ranked-first copy is the hit, so top1 is 1."""
    scorer = Scorer.for_method("multi_rlcr", 2, mode=mode)
    completion = (
        "<think> x </think> <answer1> flu </answer1> <confidence1> 0.2 </confidence1>"
        " <answer2> flu </answer2> <confidence2> 0.7 </confidence2>"
    )
    scored = scorer.score(completion, [["flu"]], {"flu": 1.0, "cold": 0.0})
    assert scored.grades.hits == (0.0, 1.0)
    assert scored.breakdown.terms["top1"] == 1.0
    assert scored.breakdown.terms["brier"] == pytest.approx(1 - (0.2**2 + 0.3**2) / 2)


def test_eval_ranks_before_resolving_duplicates() -> None:
    from beyondmode.evaluate.backends.base import Generation
    from beyondmode.evaluate.methods import build_methods
    from beyondmode.evaluate.scored import score_generation
    from beyondmode.evaluate.settings import EvalSettings
    from beyondmode.metrics import top1_per_example
    from beyondmode.types import Example

    method = build_methods(EvalSettings(methods=("multi_answer",), num_candidates=2, require_think=False))[0]
    example = Example(
        "e", ({"role": "user", "content": "?"},), (("flu",),), posterior={"flu": 0.6, "cold": 0.4}
    )
    text = "<answer1> flu </answer1> <confidence1> 0.2 </confidence1> <answer2> flu </answer2> <confidence2> 0.7 </confidence2>"
    scored = score_generation(method, example, 0, Generation(text, 4, 0.0))
    assert scored.confidences == (0.7, 0.2) and scored.hits == (1.0, 0.0)
    assert scored.true_probabilities == (0.6, 0.0)
    assert top1_per_example([scored.matched]).tolist() == [1.0]
