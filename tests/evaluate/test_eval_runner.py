"""End-to-end metric tests: a hand-built run through the runner with a scripted backend.

Every expected value below is computed by hand from `toy.SCRIPT` (see the comments).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from eval_toy import SCRIPT, TOY_ITEMS, FakeBackend, ToyTask

from beyondmode.evaluate.backends.scripted import whitespace_tokens
from beyondmode.evaluate.methods import build_methods
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.formats import FORMAT_VERSION
from beyondmode.metrics import oracle_answer_set
from beyondmode.rewards import REWARD_VERSION
from beyondmode.types import Candidate

SETTINGS = EvalSettings(
    methods=("multi_answer", "best_of_k", "greedy"),
    num_candidates=2,
    require_think=False,
    max_answers=4,
    recall_ks=(1, 2, 4),
    bootstrap_resamples=200,
    batch_size=1,
)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict:
    run_dir = tmp_path_factory.mktemp("run")
    result = run_evaluation(ToyTask(), FakeBackend(SCRIPT), SETTINGS, run_dir, model="fake")
    result["_dir"] = run_dir
    return result


def _mean(summary: dict, method: str, key: str) -> float | None:
    value = summary["methods"][method]["metrics"][key]
    return None if value is None else value["mean"]


# multi_answer, answers in confidence order, K = 2, two generations per example:
#   e1 (gold cat): [dog .5 miss, cat .4 hit] [cat .9 hit again (counted once), cow .2 miss]
#   e2 (gold dog|puppy, fox): [puppy .7 hit, wolf .2 miss] [fox .6 alone: malformed, strict miss]
# best_of_k, four single answers: e1 cat .8, dog .3, cat .7, "cat" (no tags: malformed)
#                                 e2 fox .5, fox .5, dog .6, hen .1
# greedy: e1 cat .6, e2 hen .4. Oracle (e1 only): cat .6, dog .3 | cow .1
MULTI = {
    "recall@1": 0.5,
    "recall@2": 1.0,
    "recall@4": 1.0,
    "coverage@1": 0.5,
    "coverage@2": 1.0,
    "coverage@4": 1.0,
    "top1": 0.5,
    "distinct@4": 2.5,
    "format_rate": 0.75,
    "set_brier": (0.165 + 0.065) / 2,  # e1: (.305 + .025)/2, e2: (.09 + .04)/2
    "ece": 1.9 / 6,  # bins .2 (two misses): .4, .4: .6, .5: .5, .7: .3, .9: .1
    "auroc": 8 / 9,  # hits .4 .9 .7 vs misses .5 .2 .2
    "oracle_gap": 0.2,  # e1: |.5-.3|, |.4-.6|, |.9-.6|, |.2-.1|
}
BEST_OF_K = {
    "recall@1": 1.0,
    "recall@2": 1.0,
    "recall@4": 1.5,
    "coverage@1": 1.0,
    "pass@1": (0.5 + 0.75) / 2,
    "pass@2": (5 / 6 + 1.0) / 2,
    "pass@4": 1.0,
    "top1": 1.0,
    "distinct@4": 2.5,
    "set_brier": ((0.04 + 0.09 + 0.09) / 3 + (0.25 + 0.25 + 0.16 + 0.01) / 4) / 2,
}
GREEDY = {"recall@1": 0.5, "recall@4": 0.5, "top1": 0.5, "coverage@4": 0.5}
ORACLE = {
    "recall@1": 1.0,
    "recall@4": 1.0,
    "top1": 1.0,
    "distinct@4": 3.0,
    "set_brier": 0.125,
    "ece": 0.35,
    "auroc": 1.0,
    "oracle_gap": 0.0,
    "tokens_per_example": 0.0,
}
CASES = [("multi_answer", MULTI), ("best_of_k", BEST_OF_K), ("greedy", GREEDY), ("oracle", ORACLE)]


@pytest.mark.parametrize(("method", "key", "expected"), [(m, k, v) for m, t in CASES for k, v in t.items()])
def test_metric_matches_hand_computation(summary: dict, method: str, key: str, expected: float) -> None:
    assert _mean(summary, method, key) == pytest.approx(expected, abs=1e-9)


def test_pass_at_k_only_for_iid_samples(summary: dict) -> None:
    assert "pass@2" not in summary["methods"]["multi_answer"]["metrics"]
    assert "pass@1" not in summary["methods"]["greedy"]["metrics"]


def test_strict_and_lenient_side_by_side(summary: dict) -> None:
    parsing = summary["methods"]["multi_answer"]["parsing"]
    assert parsing["strict"]["recall@4"] == pytest.approx(1.0)
    assert parsing["lenient"]["recall@4"] == pytest.approx(1.5)  # the malformed "fox" counts leniently


def test_cost_uses_tokens_of_every_generation(summary: dict) -> None:
    tokens = [
        sum(whitespace_tokens(t) for t in SCRIPT[q, "multi"]) for q in ("Which pet meows?", "Name a canid.")
    ]
    assert _mean(summary, "multi_answer", "tokens_per_example") == pytest.approx(sum(tokens) / 2)
    # distinct correct answers (strict, k = 4): e1 1, e2 1
    assert _mean(summary, "multi_answer", "tokens_per_distinct_correct") == pytest.approx(sum(tokens) / 2)
    assert _mean(summary, "multi_answer", "seconds_per_distinct_correct") == pytest.approx(
        sum(tokens) / 2 * 0.001
    )


def test_intervals_bracket_the_mean(summary: dict) -> None:
    for block in summary["methods"].values():
        for key, value in block["metrics"].items():
            if value is not None:
                assert value["ci_low"] - 1e-9 <= value["mean"] <= value["ci_high"] + 1e-9, key


def test_versions_and_files(summary: dict) -> None:
    run_dir = summary["_dir"]
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["reward_version"] == REWARD_VERSION and on_disk["format_version"] == FORMAT_VERSION
    rows = [json.loads(line) for line in (run_dir / "rows.jsonl").read_text().splitlines()]
    puppy = next(r for r in rows if r["method"] == "multi_answer" and r["text"] == "puppy")
    assert puppy["matched_gold"] == "dog" and puppy["hit"] == 1.0 and puppy["confidence"] == 0.7
    assert puppy["generation_tokens"] == whitespace_tokens(SCRIPT["Name a canid.", "multi"][0])
    malformed = next(
        r for r in rows if r["method"] == "best_of_k" and r["example_id"] == "e1" and r["sample"] == 3
    )
    assert malformed["text"] is None and malformed["format_ok"] is False


def test_oracle_only_on_examples_with_posterior(summary: dict) -> None:
    assert summary["methods"]["oracle"]["num_examples"] == 1
    assert summary["methods"]["multi_answer"]["num_examples"] == 2


def test_interrupted_run_resumes_without_regenerating(tmp_path) -> None:
    crashing = FakeBackend(SCRIPT, fail_after=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_evaluation(ToyTask(), crashing, SETTINGS, tmp_path, model="fake")
    cached = (tmp_path / "generations.jsonl").read_text().splitlines()
    assert len(cached) == 8  # three calls of one prompt each: multi e1 (2), multi e2 (2), best_of_k e1 (4)
    resumed = FakeBackend(SCRIPT)
    resumed.drawn = dict(crashing.drawn)
    summary = run_evaluation(ToyTask(), resumed, SETTINGS, tmp_path, model="fake")
    assert resumed.calls == 3  # e2 of best_of_k, then greedy e1 and e2
    assert summary["methods"]["best_of_k"]["metrics"]["pass@2"]["mean"] == pytest.approx(BEST_OF_K["pass@2"])


def test_torn_cache_line_is_dropped(tmp_path) -> None:
    run_evaluation(ToyTask(), FakeBackend(SCRIPT), SETTINGS, tmp_path, model="fake")
    path = tmp_path / "generations.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])
    backend = FakeBackend(SCRIPT)
    backend.drawn = {("Name a canid.", "greedy"): 0}
    summary = run_evaluation(ToyTask(), backend, SETTINGS, tmp_path, model="fake")
    assert backend.calls == 1 and summary["methods"]["greedy"]["metrics"]["top1"]["mean"] == 0.5


def test_resume_with_other_generation_settings_is_refused(tmp_path) -> None:
    run_evaluation(ToyTask(), FakeBackend(SCRIPT), SETTINGS, tmp_path, model="fake")
    hotter = dataclasses.replace(SETTINGS, temperature=1.0)
    with pytest.raises(ValueError, match=r"methods\.multi_answer"):
        run_evaluation(ToyTask(), FakeBackend(SCRIPT), hotter, tmp_path, model="fake")
    with pytest.raises(ValueError, match="model"):
        run_evaluation(ToyTask(), FakeBackend(SCRIPT), SETTINGS, tmp_path, model="another")
    script = {**SCRIPT, ("Which pet meows?", "multi"): SCRIPT["Which pet meows?", "multi"] * 2}
    script[("Name a canid.", "multi")] = SCRIPT["Name a canid.", "multi"] * 2
    more = dataclasses.replace(SETTINGS, methods=(*SETTINGS.methods, "verbalized"))
    backend = FakeBackend(script)
    summary = run_evaluation(ToyTask(), backend, more, tmp_path, model="fake")  # adding a method is fine
    assert backend.calls == 2 and "verbalized" in summary["methods"]


def test_scripted_bayes_optimal_answers_score_like_the_oracle(tmp_path) -> None:
    """A backend that answers the oracle's sets gets the oracle's recall, top1 and calibration."""
    task = ToyTask(TOY_ITEMS[:1])
    fmt = build_methods(SETTINGS)[0].answer_format
    example = next(task.examples(fmt))
    ranked = oracle_answer_set(example.posterior, SETTINGS.max_answers)
    chunks = [ranked[i : i + 2] for i in range(0, len(ranked), 2)]
    completions = [
        fmt.render([Candidate(t, q) for t, q in c] + [Candidate("zebra", 0.0)] * (2 - len(c))) for c in chunks
    ]
    backend = FakeBackend({("Which pet meows?", "multi"): completions})
    settings = dataclasses.replace(SETTINGS, methods=("multi_answer",))
    summary = run_evaluation(task, backend, settings, tmp_path, model="oracle-like")
    model, oracle = summary["methods"]["multi_answer"]["metrics"], summary["methods"]["oracle"]["metrics"]
    for key in ("recall@1", "recall@2", "recall@4", "top1", "coverage@2"):
        assert model[key]["mean"] == pytest.approx(oracle[key]["mean"]), key
    assert model["oracle_gap"]["mean"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("method", "num_generations", "candidates", "extra"),
    [
        ("multi_answer", 2, 2, False),
        ("prompt_multi", 2, 2, False),
        ("verbalized", 2, 2, True),
        ("best_of_k", 4, 1, False),
        ("greedy", 1, 1, False),
    ],
)
def test_method_catalogue(method, num_generations, candidates, extra) -> None:
    (built,) = build_methods(dataclasses.replace(SETTINGS, methods=(method,)))
    assert built.num_generations == num_generations and built.answer_format.num_candidates == candidates
    example = next(ToyTask().examples(built.answer_format))
    prompt = built.prompt(example)
    assert prompt[0] == dict(example.prompt[0])
    assert ("full distribution" in prompt[-1]["content"]) is extra
    assert built.iid is (method == "best_of_k")
