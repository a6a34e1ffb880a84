"""verl's `compute_score` against `Scorer.score`: identical totals and terms; settings decoding; errors."""

from __future__ import annotations

import importlib.util
import math
import pickle
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from beyondmode.formats import AnswerFormat
from beyondmode.grading import get_grader
from beyondmode.integrations.verl import (
    SCORE_KEYS,
    VerlSettings,
    compute_score,
    compute_score_batch,
    verl_row,
)
from beyondmode.integrations.verl.reward import decode_gold
from beyondmode.methods import Method, method_format, method_spec
from beyondmode.posterior import decode_posterior
from beyondmode.rewards import TERM_NAMES
from beyondmode.scoring import RewardMode, Scorer
from beyondmode.types import Candidate, Example

REPO_ROOT = Path(__file__).resolve().parents[1]
SINGLE_GOLD = (("influenza", "flu"),)
MULTI_GOLD = (("influenza", "flu"), ("measles",), ("common cold", "cold"))
POSTERIOR = {"influenza": 0.5, "measles": 0.3, "covid": 0.2}
VOCAB = ["flu", "influenza", "Flu.", "the flu", "measles", "cold", "common cold", "covid", "asthma", ""]
CONFIDENCES = ["0.5", ".3", "40%", "0.05", "1", "0", "1.5", "-0.1", "nan", "abc", "0.333"]


def random_completion(answer_format: AnswerFormat, rng: random.Random) -> str:
    """A well-formed completion from the vocabulary, or one of several kinds of malformed one."""
    candidates = [
        Candidate(rng.choice(VOCAB), round(rng.random(), 2) if answer_format.with_confidence else None)
        for _ in range(answer_format.num_candidates)
    ]
    text = answer_format.render(candidates, think="reasoning")
    kind = rng.randrange(8)
    if kind == 0:
        return text[: rng.randrange(len(text) + 1)]  # truncated
    if kind == 1:
        tag = rng.choice(["<think>", "</think>", "<answer1>", "</answer2>", "<answer>", "<confidence1>"])
        return text.replace(tag, "", 1)  # a tag dropped
    if kind == 2:
        return text.replace("0.", rng.choice(CONFIDENCES) + " ", 1)  # a bad or odd confidence
    if kind == 3:
        return "Sure! " + text + " Hope this helps."
    if kind == 4:
        return rng.choice(["", "I don't know.", "<answer1> flu </answer1>" * 4, "<think> x"])
    return text


def settings_matrix() -> list[VerlSettings]:
    cases = []
    for method in Method:
        for multi_gold in (False, True):
            for mode in ("label", "expected"):
                cases.append(VerlSettings(method.value, 3, multi_gold, "exact_match", mode))
    cases.append(VerlSettings("multi_rlcr", 2, True, "exact_match", "label"))
    cases.append(
        VerlSettings("multi_rlcr", 3, False, reward_overrides=(("top1_weight", 0.5), ("brier_weight", 0.0)))
    )
    cases.append(VerlSettings("rlcr", 3, format_options=(("require_think", False),)))
    return cases


def reference_scorer(settings: VerlSettings) -> Scorer:
    """The engine-neutral path, built without the verl module's decoding or cache."""
    overrides = dict(settings.reward_overrides)
    options = dict(settings.format_options)
    if not overrides and not options:
        return Scorer.for_method(
            settings.method,
            settings.num_candidates,
            multi_gold=settings.multi_gold,
            grader=settings.grader,
            mode=settings.reward_mode,
        )
    return Scorer(
        method_format(settings.method, settings.num_candidates, **options),
        method_spec(settings.method, multi_gold=settings.multi_gold, **overrides),
        get_grader(settings.grader),
        RewardMode(settings.reward_mode),
    )


def parity_rows() -> list[tuple[VerlSettings, dict[str, Any], str]]:
    rng = random.Random(20260)
    rows = []
    for settings in settings_matrix():
        answer_format = reference_scorer(settings).answer_format
        gold = MULTI_GOLD if settings.multi_gold else SINGLE_GOLD
        example = Example(f"ex-{len(rows)}", ({"role": "user", "content": "?"},), gold, posterior=POSTERIOR)
        row = verl_row(example, settings, split="train", index=0, data_source="beyondmode/test")
        for _ in range(24):
            rows.append((settings, row, random_completion(answer_format, rng)))
    return rows


PARITY_ROWS = parity_rows()


def test_parity_covers_hundreds_of_varied_completions() -> None:
    assert len(PARITY_ROWS) >= 300
    formats_ok = [reference_scorer(s).answer_format.parse(text).format_ok for s, _, text in PARITY_ROWS]
    assert 0.2 < sum(formats_ok) / len(formats_ok) < 0.8  # both well-formed and malformed ones


@pytest.mark.parametrize("index", range(0, len(PARITY_ROWS), 1), ids=lambda i: f"row{i}")
def test_compute_score_equals_scorer(index: int) -> None:
    settings, row, text = PARITY_ROWS[index]
    gold = row["reward_model"]["ground_truth"]
    result = compute_score(row["data_source"], text, gold, row["extra_info"])
    expected = reference_scorer(settings).score(text, gold, POSTERIOR)
    assert list(result) == list(SCORE_KEYS)
    assert result["score"] == expected.breakdown.total
    assert {name: result[name] for name in TERM_NAMES} == dict(expected.breakdown.terms)
    assert result["acc"] == expected.breakdown.terms[expected_accuracy(settings)]
    assert result["violations"] == len(expected.parsed.violations)
    assert all(type(value) is float for value in result.values())


def expected_accuracy(settings: VerlSettings) -> str:
    return "coverage" if Method(settings.method).is_multi else "any_hit"


def test_batch_form_equals_single_form() -> None:
    chosen = PARITY_ROWS[::7]
    batch = compute_score_batch(
        [row["data_source"] for _, row, _ in chosen],
        [text for _, _, text in chosen],
        [row["reward_model"]["ground_truth"] for _, row, _ in chosen],
        [row["extra_info"] for _, row, _ in chosen],
    )
    single = [
        compute_score(r["data_source"], t, r["reward_model"]["ground_truth"], r["extra_info"])
        for _, r, t in chosen
    ]
    assert batch == single


GOOD_K3 = (
    "<think> t </think> <answer1> flu </answer1> <confidence1> 0.6 </confidence1> "
    "<answer2> measles </answer2> <confidence2> 0.3 </confidence2> <answer3> cold </answer3> "
    "<confidence3> 0.1 </confidence3>"
)


RLVR_K3 = "<think> t </think> <answer1> flu </answer1> <answer2> measles </answer2> <answer3> cold </answer3>"
MULTI_RLVR = {"beyondmode": {"method": "multi_rlvr"}}

# name, completion, ground_truth, extra_info, run kwargs (verl's reward_kwargs), expected score
DECODING_CASES = [
    (
        "numpy gold (pandas-read parquet)",
        GOOD_K3,
        np.array([np.array(["influenza", "flu"], dtype=object)], dtype=object),
        {"beyondmode": {"method": "multi_rlcr"}},
        {},
        0.5 + 0.5 + 0.5 * (1 - (0.16 + 0.09 + 0.01) / 3),
    ),
    ("string gold", RLVR_K3, "flu", MULTI_RLVR, {}, 1.0),
    ("method from reward_kwargs only", RLVR_K3, ["flu"], None, {"method": "multi_rlvr"}, 1.0),
    ("verl's extra keys ignored", RLVR_K3, ["flu"], {"index": 3, "num_turns": None, **MULTI_RLVR}, {}, 1.0),
    (
        "overrides as JSON",
        RLVR_K3,
        ["flu"],
        {"beyondmode": {"method": "multi_rlvr", "reward_overrides": '{"format_weight": 0.0}'}},
        {},
        0.5,
    ),
    (
        "overrides from reward_kwargs win",
        RLVR_K3,
        ["flu"],
        {"beyondmode": {"method": "multi_rlvr", "reward_overrides": "{}"}},
        {"reward_overrides": {"accuracy_weight": 2.0}},
        2.5,
    ),
    (
        "reward_kwargs agreeing with the row",
        RLVR_K3,
        ["flu"],
        {"beyondmode": {"method": "multi_rlvr", "num_candidates": 3}},
        {"method": "multi_rlvr", "num_candidates": 3},
        1.0,
    ),
    (
        "multi-gold coverage",
        RLVR_K3,
        [["influenza", "flu"], ["measles"], ["asthma"], ["covid"]],
        {"beyondmode": {"method": "multi_rlvr", "multi_gold": True}},
        {},
        0.5 + 0.5 * 2 / 3,
    ),
]


@pytest.mark.parametrize(
    ("completion", "ground_truth", "extra_info", "run", "expected"),
    [case[1:] for case in DECODING_CASES],
    ids=[case[0] for case in DECODING_CASES],
)
def test_decoding(
    completion: str, ground_truth: Any, extra_info: Any, run: dict[str, Any], expected: float
) -> None:
    result = compute_score("beyondmode/test", completion, ground_truth, extra_info, **run)
    assert result["score"] == pytest.approx(expected)


def test_expected_mode_uses_the_row_posterior() -> None:
    text = "<think> t </think> <answer> flu </answer> <confidence> 0.5 </confidence>"
    info = {
        "beyondmode": {
            "method": "rlcr",
            "reward_mode": "expected",
            "posterior": [
                {"answer": "influenza", "probability": 0.5},
                {"answer": "cold", "probability": 0.5},
            ],
        }
    }
    result = compute_score("s", text, [["influenza", "flu"]], info)
    assert result["any_hit"] == 0.5
    assert result["brier"] == pytest.approx(1 - (0.0 + 0.25))


# name, ground_truth, extra_info, run kwargs, exception, message fragment
ERROR_CASES = [
    ("no method anywhere", ["flu"], {"index": 0}, {}, ValueError, "no method"),
    ("unknown method", ["flu"], {"beyondmode": {"method": "ppo"}}, {}, ValueError, "unknown method 'ppo'"),
    (
        "typo in our keys",
        ["flu"],
        {"beyondmode": {"method": "rlvr", "num_candiates": 3}},
        {},
        ValueError,
        "num_candiates",
    ),
    (
        "reward_kwargs contradict the prompt",
        ["flu"],
        {"beyondmode": {"method": "multi_rlcr", "num_candidates": 3}},
        {"num_candidates": 5},
        ValueError,
        "contradicts",
    ),
    (
        "reward_kwargs change the method",
        ["flu"],
        {"beyondmode": {"method": "multi_rlcr"}},
        {"method": "rlvr"},
        ValueError,
        "contradicts",
    ),
    ("empty ground truth", [], {"beyondmode": {"method": "rlvr"}}, {}, ValueError, "ground_truth"),
    ("numeric ground truth", [3], {"beyondmode": {"method": "rlvr"}}, {}, TypeError, "ground_truth"),
    (
        "expected mode without posterior",
        ["flu"],
        {"beyondmode": {"method": "rlvr", "reward_mode": "expected"}},
        {},
        ValueError,
        "posterior",
    ),
    (
        "unknown RewardSpec field",
        ["flu"],
        {"beyondmode": {"method": "rlvr", "reward_overrides": '{"bonus": 1}'}},
        {},
        ValueError,
        "reward_overrides",
    ),
    (
        "broken JSON",
        ["flu"],
        {"beyondmode": {"method": "rlvr", "format_options": "{oops"}},
        {},
        ValueError,
        "format_options",
    ),
    ("extra_info not a mapping", ["flu"], ["rlvr"], {}, TypeError, "extra_info"),
]


@pytest.mark.parametrize(
    ("ground_truth", "extra_info", "run", "error", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_bad_rows_raise_clearly(
    ground_truth: Any, extra_info: Any, run: dict[str, Any], error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        compute_score("beyondmode/test", "<answer> flu </answer>", ground_truth, extra_info, **run)


def test_malformed_output_is_data_not_an_error() -> None:
    for text in ["", "<answer1>", "\x00" * 5, "<think>" * 100, "<confidence1> 2 </confidence1>"]:
        result = compute_score("s", text, ["flu"], {"beyondmode": {"method": "multi_rlcr"}})
        assert result["score"] == 0.0 and result["format"] == 0.0 and result["violations"] >= 1


def test_scorers_are_cached_per_settings() -> None:
    assert VerlSettings("multi_rlcr").scorer() is VerlSettings("multi_rlcr", 3).scorer()
    assert VerlSettings("rlvr", 3).scorer() is VerlSettings("rlvr", 7).scorer()  # K is 1 for rlvr anyway
    assert VerlSettings("multi_rlcr", 2).scorer() is not VerlSettings("multi_rlcr", 3).scorer()


def test_decoders_accept_numpy_and_records() -> None:
    assert decode_gold(np.array(["a", "b"], dtype=object)) == (("a",), ("b",))
    records = np.array([{"answer": "a", "probability": np.float64(0.25)}], dtype=object)
    assert decode_posterior(records) == {"a": 0.25}
    assert decode_posterior([]) is None and decode_posterior(None) is None


def load_like_verl(path: Path) -> Any:
    """What verl's `get_custom_reward_fn` does: exec the file as module `custom_module`."""
    spec = importlib.util.spec_from_file_location("custom_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_module"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("custom_module", None)
    return module


def test_file_loaded_by_path_pickles_by_reference() -> None:
    import beyondmode.integrations.verl as package

    module = load_like_verl(Path(package.__file__))
    function = module.compute_score
    assert function is compute_score  # re-exported from the importable module
    assert pickle.loads(pickle.dumps(function)) is compute_score  # Ray workers can unpickle it


@pytest.mark.parametrize(
    "module",
    [
        "beyondmode.integrations.verl",
        "beyondmode.integrations.verl.reward",
        "beyondmode.integrations.verl.dataset",
        "beyondmode.commands.export",
    ],
)
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_reward_kwargs_from_omegaconf() -> None:
    """verl hands `dict(reward_kwargs)`: nested sections stay DictConfig objects."""
    from omegaconf import OmegaConf

    kwargs = dict(OmegaConf.create({"method": "multi_rlvr", "reward_overrides": {"top1_weight": 0.5}}))
    result = compute_score("s", RLVR_K3, ["flu"], {"index": 0}, **kwargs)
    assert result["score"] == 0.5 + 0.5 + 0.5  # format + coverage + top1


PIECES = [*"<>/ 0123456789.%abcflu", "<answer1>", "</answer1>", "<confidence1>", "</confidence1>", "<think>"]
PIECES += ["</think>", "<answer2>", "</answer2>", "<confidence2>", "</confidence2>", "<answer>", "</answer>"]


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    method=st.sampled_from([m.value for m in Method]),
    multi_gold=st.booleans(),
)
def test_any_text_scores_like_the_scorer(text: str, method: str, multi_gold: bool) -> None:
    gold = [["flu"], ["abc"]] if multi_gold else [["flu"]]
    info = {"beyondmode": {"method": method, "num_candidates": 2, "multi_gold": multi_gold}}
    result = compute_score("s", text, gold, info)
    expected = Scorer.for_method(method, 2, multi_gold=multi_gold).score(text, gold)
    assert result["score"] == expected.breakdown.total
    assert all(math.isfinite(value) for value in result.values())


def test_importing_the_reward_module_stays_light() -> None:
    """verl imports this module in every reward worker: no torch, pyarrow, verl or datasets."""
    code = (
        "import sys, beyondmode.integrations.verl\n"
        "print(','.join(sorted(m for m in ('torch', 'pyarrow', 'verl', 'datasets', 'trl') if m in sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_threads_score_like_one_thread() -> None:
    """verl 0.9's reward loop runs compute_score in a thread pool: the caches must not mix rows up."""
    from concurrent.futures import ThreadPoolExecutor

    def score(item: tuple[VerlSettings, dict[str, Any], str]) -> dict[str, float]:
        _, row, text = item
        return compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])

    sequential = [score(item) for item in PARITY_ROWS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(score, PARITY_ROWS)) == sequential


def test_rows_from_another_reward_version_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    info = {"beyondmode": {"method": "multi_rlvr", "reward_version": 999}}
    for _ in range(3):
        compute_score("s", RLVR_K3, ["flu"], info)
    warnings = [r for r in caplog.records if "reward_version 999" in r.getMessage()]
    assert len(warnings) == 1 and "re-export" in warnings[0].getMessage()
