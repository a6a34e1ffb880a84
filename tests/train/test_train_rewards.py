"""TRL reward callables: values, None for unscorable examples, one scoring per batch, logging, pickling."""

from __future__ import annotations

import json
import pickle

import pytest

from beyondmode.scoring import Scorer
from beyondmode.train.trl_rewards import (
    ScoreCache,
    TermReward,
    TotalReward,
    batch_metrics,
    build_reward_functions,
    completion_text,
)

GOOD = (
    "<think> fever </think> <answer1> flu </answer1> <confidence1> 0.7 </confidence1> "
    "<answer2> cold </answer2> <confidence2> 0.2 </confidence2>"
)
DUPLICATE = GOOD.replace("cold", "flu")
BROKEN = "<answer1> flu"


def multi_rlcr() -> Scorer:
    return Scorer.for_method("multi_rlcr", num_candidates=2)


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        (GOOD, [["flu"]], 0.5 + 0.5 + 0.5 * (1 - (0.3**2 + 0.2**2) / 2)),
        (GOOD, [["measles"]], 0.5 + 0.0 + 0.5 * (1 - (0.7**2 + 0.2**2) / 2)),
        (DUPLICATE, [["flu"]], 0.5),  # uniqueness gates coverage and Brier
        (BROKEN, [["flu"]], 0.0),
    ],
    ids=["hit", "miss", "duplicate", "malformed"],
)
def test_total_matches_scorer(completion: str, gold: list[list[str]], expected: float) -> None:
    reward = TotalReward(ScoreCache(multi_rlcr()))
    assert reward(completions=[completion], gold=[gold]) == [pytest.approx(expected)]


def test_chat_completions_are_read() -> None:
    assert completion_text([{"role": "assistant", "content": "x"}]) == "x"
    reward = TotalReward(ScoreCache(multi_rlcr()))
    assert reward(completions=[[{"role": "assistant", "content": GOOD}]], gold=[[["flu"]]])[0] > 1.0


def test_unscorable_examples_get_none_and_are_counted() -> None:
    logged: dict[str, float] = {}
    reward = TotalReward(ScoreCache(multi_rlcr()))
    values = reward(completions=[GOOD, GOOD], gold=[[], [["flu"]]], log_metric=logged.__setitem__)
    assert values[0] is None and values[1] is not None
    assert logged["reward/unscorable"] == 1.0
    expected = TotalReward(ScoreCache(Scorer.for_method("multi_rlcr", 2, mode="expected")))
    assert expected(completions=[GOOD], gold=[[["flu"]]], posterior=[""]) == [None]


def test_expected_mode_reads_posterior_column() -> None:
    reward = TotalReward(ScoreCache(Scorer.for_method("multi_rlcr", 2, mode="expected")))
    posterior = json.dumps({"flu": 0.7, "cold": 0.2, "asthma": 0.1})
    (value,) = reward(completions=[GOOD], gold=[[["asthma"]]], posterior=[posterior])
    brier = 1 - ((0.7 - 0.7) ** 2 + 0.7 * 0.3 + (0.2 - 0.2) ** 2 + 0.2 * 0.8) / 2
    assert value == pytest.approx(0.5 + 0.5 * 0.9 + 0.5 * brier)


def test_each_batch_scored_once_across_functions() -> None:
    functions, weights = build_reward_functions(multi_rlcr())
    assert weights[0] == 1.0 and set(weights[1:]) == {0.0}
    assert [f.__name__ for f in functions][:3] == ["total", "format", "coverage"]
    batch = {"completions": [GOOD, DUPLICATE, BROKEN], "gold": [[["flu"]]] * 3}
    results = {f.__name__: f(**batch) for f in functions}
    cache = functions[0].cache
    assert (cache.scored_batches, cache.scored_completions) == (1, 3)
    assert results["uniqueness"] == [1.0, 0.0, 0.0] and results["format"] == [1.0, 1.0, 0.0]
    functions[0](completions=[GOOD], gold=[[["flu"]]])
    assert cache.scored_batches == 2


def test_logs_terms_violations_and_extra_column() -> None:
    logged: dict[str, float] = {}
    extra: dict[str, list] = {}
    reward = TotalReward(ScoreCache(multi_rlcr()))
    reward(
        completions=[GOOD, BROKEN],
        gold=[[["flu"]]] * 2,
        log_metric=logged.__setitem__,
        log_extra=extra.__setitem__,
    )
    assert logged["format/parse_failure"] == 0.5
    assert logged["format/violation/missing_think"] == 0.5 and logged["format/violation/extra_slot"] == 0.0
    assert logged["terms/coverage"] == 1.0 and "gates/uniqueness" in logged
    assert extra["violations"][0] == "" and "missing_think" in extra["violations"][1]
    assert batch_metrics([]) == {"reward/unscorable": 0.0}


def test_reward_functions_pickle() -> None:
    functions, _ = build_reward_functions(multi_rlcr())
    batch = {"completions": [GOOD, DUPLICATE], "gold": [[["flu"]]] * 2}
    before = [f(**batch) for f in functions]
    clones = pickle.loads(pickle.dumps(functions))
    assert [f.__name__ for f in clones] == [f.__name__ for f in functions]
    assert [f(**batch) for f in clones] == before
    assert TermReward(ScoreCache(multi_rlcr()), "brier").__name__ == "brier"
    with pytest.raises(ValueError, match="unknown reward term"):
        TermReward(ScoreCache(multi_rlcr()), "accuracy")
