"""`beyondmode conformal RUN_DIR --alpha A` on evaluation runs made with scripted backends."""

from __future__ import annotations

import json
import re

import pytest
from conformal_runs import calibrated_ddx_run
from eval_toy import SCRIPT, FakeBackend, ToyTask

from beyondmode.cli import main
from beyondmode.commands.conformal import headline
from beyondmode.evaluate.conformal_sets import equal_token_samples, load_rows, run_pools
from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.settings import EvalSettings

HEADLINE = re.compile(
    r"^conformal: alpha (\S+), coverage (\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\] on (\d+) test cases, "
    r"mean set size (\d+\.\d{2})$"
)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory):
    settings = EvalSettings(
        methods=("multi_answer", "best_of_k", "greedy"),
        num_candidates=2,
        require_think=False,
        max_answers=4,
        recall_ks=(1, 2, 4),
        bootstrap_resamples=20,
        batch_size=1,
    )
    run_dir = tmp_path_factory.mktemp("toy_run")
    run_evaluation(ToyTask(), FakeBackend(SCRIPT), settings, run_dir, model="fake")
    return run_dir


@pytest.fixture(scope="module")
def ddx_run(tmp_path_factory: pytest.TempPathFactory):
    return calibrated_ddx_run(tmp_path_factory.mktemp("ddx_run"))


def test_pools_from_the_toy_rows(toy_run) -> None:
    rows = load_rows(toy_run)
    multi = run_pools(rows, "multi_answer")
    # e1: [dog .5, cat .4] [cat .9, cow .2] -> cat (0.4 + 0.9) / 2, dog .5 / 2, cow .2 / 2
    assert multi["e1"].scores == pytest.approx((0.65, 0.25, 0.1))
    assert (multi["e1"].gold, multi["e1"].num_gold) == (("cat", None, None), 1)
    # e2: [puppy .7 (gold "dog"), wolf .2] [fox .6] -> dog .35, fox .3, wolf .1; two gold elements
    assert multi["e2"].gold == ("dog", "fox", None) and multi["e2"].num_gold == 2
    assert multi["e2"].scores == pytest.approx((0.35, 0.3, 0.1))
    # best of k by frequency: e1 cat, dog, cat, (nothing recoverable) -> cat 2/4, dog 1/4
    frequency = run_pools(rows, "best_of_k", frequency=True)
    assert frequency["e1"].scores == pytest.approx((0.5, 0.25)) and frequency["e1"].gold == ("cat", None)
    # tokens: multi (12 + 12) and (12 + 6) per example -> 21; best-of-k 43 tokens over 8 samples
    match = equal_token_samples(rows, "multi_answer", "best_of_k")
    assert (match.samples, match.matched) == (4, True)
    assert match.reference_tokens == pytest.approx(21) and match.tokens_per_sample == pytest.approx(43 / 8)
    assert run_pools(rows, "best_of_k", frequency=True, max_generations=1)["e1"].scores == (1.0,)


def test_cli_on_a_calibrated_model(ddx_run, capsys) -> None:
    assert main(["conformal", str(ddx_run), "--alpha", "0.1", "--seed", "0"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    match = HEADLINE.match(last)
    assert match, last
    alpha, coverage, low, high, num_test, size = match.groups()
    result = json.loads((ddx_run / "conformal.json").read_text())
    split = result["methods"]["multi_answer"]["split_conformal"]
    assert alpha == "0.1" and int(num_test) == split["num_test"] == 100
    assert float(coverage) == pytest.approx(split["coverage"], abs=5e-4)
    assert float(size) == pytest.approx(split["mean_set_size"], abs=5e-3)
    assert float(low) <= float(coverage) <= float(high)
    assert float(high) >= 0.9  # the interval contains 0.9 or lies above it
    assert split["attainable"] and 1 <= split["mean_set_size"] < split["mean_pool_size"]
    assert set(result["methods"]) == {"multi_answer", "best_of_k", "best_of_k@equal_tokens", "oracle"}
    tokens = result["methods"]["best_of_k@equal_tokens"]["equal_tokens"]
    assert tokens["samples"] >= 1 and tokens["tokens_per_example"] == pytest.approx(
        tokens["samples"] * tokens["tokens_per_sample"]
    )
    assert result["methods"]["oracle"]["scoring"] == "posterior"
    assert result["methods"]["multi_answer"]["risk_control"]["target_recall"] == pytest.approx(0.9)


def test_same_seed_same_result_other_seed_other_split(ddx_run, tmp_path) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        assert (
            main(
                [
                    "conformal",
                    str(ddx_run),
                    "--alpha",
                    "0.2",
                    "--seed",
                    str(seed),
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    a, b, c = (json.loads((tmp_path / n).read_text())["methods"]["multi_answer"] for n in "abc")
    assert a == b and a["split_conformal"]["seed"] == 1 and c["split_conformal"]["seed"] == 2


def test_bad_inputs_are_named(toy_run, tmp_path, capsys, caplog) -> None:
    assert main(["conformal", str(tmp_path), "--alpha", "0.1"]) == 2
    assert "summary.json" in capsys.readouterr().err
    assert main(["conformal", str(toy_run), "--alpha", "1.5"]) == 2
    assert "alpha" in caplog.text
    assert main(["conformal", str(toy_run), "--alpha", "0.1", "--method", "nope"]) == 2
    assert "nope" in caplog.text
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text((toy_run / "summary.json").read_text())
    (broken / "rows.jsonl").write_text('{"example_id": "e1"}\n')
    assert main(["conformal", str(broken), "--alpha", "0.1"]) == 2
    assert "rows.jsonl:1: missing column(s)" in caplog.text


def test_headline_format() -> None:
    split = {"coverage": 0.9, "coverage_interval": [0.85, 0.95], "num_test": 7, "mean_set_size": 1.0}
    assert HEADLINE.match(headline(0.05, split))


def test_doctests() -> None:
    import doctest

    from beyondmode.commands import conformal as command
    from beyondmode.evaluate import conformal_sets

    assert doctest.testmod(conformal_sets).failed == 0 and doctest.testmod(command).failed == 0


def test_best_of_k_of_another_run_as_baseline(ddx_run, tmp_path_factory, tmp_path, capsys, caplog) -> None:
    """The same scripted sampler in a run of its own gives the same best-of-k sets as inside the run."""
    single = calibrated_ddx_run(tmp_path_factory.mktemp("single"), methods=("best_of_k",))
    out = tmp_path / "result.json"
    args = ["conformal", str(ddx_run), "--alpha", "0.2", "--baseline", str(single), "--out", str(out)]
    assert main(args) == 0
    methods = json.loads(out.read_text())["methods"]
    label = single.resolve().name
    assert methods[f"{label}/best_of_k@equal_tokens"] == methods["best_of_k@equal_tokens"]
    assert methods[f"{label}/best_of_k"]["split_conformal"] == methods["best_of_k"]["split_conformal"]
    assert f"{label}/best_of_k@equal_tokens (frequency)" in capsys.readouterr().out
    other = calibrated_ddx_run(tmp_path_factory.mktemp("other"), num_examples=30, methods=("best_of_k",))
    args = ["conformal", str(ddx_run), "--alpha", "0.2", "--baseline", str(other), "--out", str(out)]
    assert main(args) == 2  # other examples: named, not silently compared
    assert f"baseline {other.resolve().name}/best_of_k: 170 of the reported method's examples" in caplog.text
