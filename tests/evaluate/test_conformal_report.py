"""The report's conformal section on a calibrated ddx_sim run (scripted backend)."""

from __future__ import annotations

import pytest
from conformal_runs import calibrated_ddx_run

from beyondmode.report import build_report
from beyondmode.report.collect import load_runs
from beyondmode.report.conformal_section import ALPHAS, TABLE_ALPHA, run_sweeps


@pytest.fixture(scope="module")
def ddx_run(tmp_path_factory: pytest.TempPathFactory):
    return calibrated_ddx_run(tmp_path_factory.mktemp("ddx_run"), num_examples=120)


def test_sweeps_compare_the_methods_at_equal_tokens(ddx_run) -> None:
    sweeps = {s.method: s for s in run_sweeps(load_runs([ddx_run]))}
    assert set(sweeps) == {"multi_answer", "best_of_k@equal_tokens", "oracle"}
    assert sweeps["best_of_k@equal_tokens"].scoring == "frequency"
    assert sweeps["oracle"].tokens_per_example is None
    multi = sweeps["multi_answer"]
    assert [p.alpha for p in multi.points] == list(ALPHAS)
    sizes = [p.mean_set_size for p in multi.points]
    assert sizes == sorted(sizes, reverse=True)  # a larger alpha never needs a larger set
    # at equal tokens: the best-of-k samples cost what the multi-answer generations cost, within one sample
    bok = sweeps["best_of_k@equal_tokens"]
    per_sample = bok.tokens_per_example / max(1, round(bok.tokens_per_example / multi.tokens_per_example))
    assert abs(bok.tokens_per_example - multi.tokens_per_example) <= per_sample


def test_report_has_the_conformal_plot_and_table(ddx_run, tmp_path) -> None:
    files = build_report([ddx_run], tmp_path / "out")
    assert any(p.name == "conformal.png" for p in files.plots)
    assert (tmp_path / "out" / "plots" / "conformal.png").read_bytes().startswith(b"\x89PNG")
    text = files.markdown.read_text()
    assert f"## Conformal answer sets at alpha = {TABLE_ALPHA}" in text
    assert "| best_of_k@equal_tokens | frequency |" in text


def test_a_single_answer_run_is_compared_at_the_multi_runs_tokens(ddx_run, tmp_path_factory) -> None:
    single = calibrated_ddx_run(tmp_path_factory.mktemp("single"), num_examples=120, methods=("best_of_k",))
    sweeps = {s.label: s for s in run_sweeps(load_runs([ddx_run, single]))}
    label = f"{single.resolve().name}/best_of_k@equal_tokens"
    assert label in sweeps and sweeps[label].scoring == "frequency"
    own = sweeps[f"{ddx_run.resolve().name} / best_of_k@equal_tokens"]
    assert sweeps[label].points == own.points  # the same sampler: the same curve
