"""Report: renders from a small run; every plot is a valid PNG; the HTML opens headless without errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from eval_toy import SCRIPT, FakeBackend, ToyTask

from beyondmode.evaluate.runner import run_evaluation
from beyondmode.evaluate.settings import EvalSettings
from beyondmode.report import build_report
from beyondmode.report.collect import find_trainer_state, training_curves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SETTINGS = EvalSettings(
    methods=("multi_answer", "verbalized", "best_of_k", "greedy"),
    num_candidates=2,
    require_think=False,
    max_answers=4,
    recall_ks=(1, 2, 4),
    bootstrap_resamples=100,
)
TRAINER_STATE = {
    "global_step": 20,
    "log_history": [
        {
            "step": step,
            "reward": 0.3 + 0.02 * step,
            "rewards/format/mean": min(1.0, 0.5 + 0.05 * step),
            "rewards/coverage/mean": 0.1 + 0.01 * step,
            "terms/brier": 0.7,
            "loss": 0.1,
        }
        for step in range(0, 21, 5)
    ]
    + [{"step": 20, "train_runtime": 12.0}],
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("report")
    run_dir = root / "tiny-multi"
    (run_dir / "checkpoint-10").mkdir(parents=True)
    (run_dir / "checkpoint-20").mkdir()
    (run_dir / "checkpoint-10" / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    (run_dir / "checkpoint-20" / "trainer_state.json").write_text(json.dumps(TRAINER_STATE))
    # multi_answer and verbalized both read the "multi" script: give it twice as many completions
    backend = FakeBackend({**SCRIPT, **{k: v * 2 for k, v in SCRIPT.items() if k[1] == "multi"}})
    run_evaluation(ToyTask(), backend, SETTINGS, run_dir, model="fake")
    return build_report([run_dir], root / "out")


def test_every_plot_is_a_valid_png(report) -> None:
    import matplotlib.image

    names = sorted(p.name for p in report.plots)
    assert names == [
        "cost.png",
        "distinct.png",
        "recall_at_k.png",
        "reliability.png",
        "training_tiny-multi.png",
    ]
    for path in report.plots:
        assert path.read_bytes()[:8] == PNG_SIGNATURE, path
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0.01, path


def test_markdown_has_tables_with_intervals_and_oracle(report) -> None:
    text = report.markdown.read_text()
    assert "| tiny-multi / multi_answer |" in text and "oracle (Bayes-optimal set)" in text
    assert "1.000 [" in text  # e.g. greedy-free oracle recall with its interval
    assert "Strict vs lenient parsing" in text
    for path in report.plots:
        assert f"](plots/{path.name})" in text


def test_html_embeds_the_plots(report) -> None:
    page = report.html.read_text()
    assert page.count("data:image/png;base64,") == len(report.plots)
    assert "<script" not in page


def test_latest_checkpoint_trainer_state_gives_the_curves(tmp_path) -> None:
    for step in (5, 40):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps(TRAINER_STATE))
    found = find_trainer_state(tmp_path)
    assert found is not None and found.parent.name == "checkpoint-40"
    curves = training_curves(found)
    assert set(curves) == {"reward", "rewards/format", "rewards/coverage", "terms/brier", "loss"}
    assert curves["rewards/coverage"][-1] == (20.0, pytest.approx(0.3))


def test_two_runs_side_by_side(report, tmp_path) -> None:
    run_dir = report.markdown.parent.parent / "tiny-multi"
    files = build_report([run_dir, run_dir], tmp_path / "two")
    text = files.markdown.read_text()
    assert "| tiny-multi / best_of_k |" in text and "| tiny-multi-2 / best_of_k |" in text
    assert text.count("oracle (Bayes-optimal set)") == 5  # once in each of the five tables


def test_missing_run_directory_is_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        build_report([tmp_path / "nothing-here"], tmp_path / "out")


# ------------------------------------------------------------------------------------ headless chromium
def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    pytest.skip("chromium not installed (scripts/install_system_deps.sh installs the Debian package)")


def open_headless(page: Path, screenshot: Path) -> list[str]:
    """Open `page` in headless Chromium, save a screenshot; return the console lines Chromium logged."""
    with tempfile.TemporaryDirectory() as profile:
        command = [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            "--window-size=1280,2200",
            f"--screenshot={screenshot}",
            f"--user-data-dir={profile}",
            page.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if "CONSOLE" in line]


@pytest.mark.slow
def test_html_opens_headless_without_console_errors(report, tmp_path) -> None:
    import matplotlib.image

    screenshot = tmp_path / "report.png"
    console = open_headless(report.html, screenshot)
    assert console == []
    assert screenshot.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(screenshot)
    assert image.std() > 0.02  # not blank


@pytest.mark.slow
def test_headless_check_sees_console_errors(tmp_path) -> None:
    """The check above can fail: a page that logs an error is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); undefinedCall();</script>"
        "</body></html>"
    )
    console = open_headless(page, tmp_path / "broken.png")
    assert any("boom" in line for line in console)
