"""`beyondmode eval` and `beyondmode report` from the command line, on the tiny random model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beyondmode.cli import main
from beyondmode.evaluate.job import load_job
from beyondmode.tasks.registry import resolve_task


def _config(path: Path, model: Path, output: Path, **extra: object) -> Path:
    text = f"""
model: {model}
task: eval_toy:toy_task
output_dir: {output}
eval:
  methods: [multi_answer, best_of_k, greedy]
  num_candidates: 2
  max_answers: 2
  recall_ks: [1, 2]
  max_new_tokens: 4
  bootstrap_resamples: 20
  device: cpu
"""
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_eval_then_report_on_tiny_model(tiny_model_dir, tmp_path) -> None:
    config = _config(tmp_path / "eval.yaml", tiny_model_dir, tmp_path / "run")
    assert main(["eval", str(config), "--no-progress"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["methods"]) == {"multi_answer", "best_of_k", "greedy", "oracle"}
    tokens = summary["methods"]["best_of_k"]["metrics"]["tokens_per_example"]["mean"]
    assert 2 <= tokens <= 2 * 4  # two samples of 1..4 generated tokens
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.html").is_file()


def test_overrides_and_unknown_keys(tmp_path) -> None:
    config = _config(tmp_path / "eval.yaml", Path("m"), tmp_path / "run")
    job = load_job(config, {"eval.max_answers": 4, "model": "other"})
    assert job.settings.max_answers == 4 and job.model == "other" and job.settings.recall_ks == (1, 2)
    with pytest.raises(ValueError, match="max_answer"):
        load_job(config, {"eval.max_answer": 4})
    with pytest.raises(ValueError, match="recall_ks"):
        load_job(config, {"eval.max_answers": 1})
    with pytest.raises(ValueError, match="unknown key"):
        load_job(_config(tmp_path / "bad.yaml", Path("m"), tmp_path / "run", modle="x"))


def test_missing_model_directory_is_named(tmp_path, capsys) -> None:
    pytest.importorskip("transformers")
    config = _config(tmp_path / "eval.yaml", tmp_path / "no-model", tmp_path / "run")
    assert main(["eval", str(config)]) == 2
    assert "no-model" in capsys.readouterr().err


def test_bad_config_is_one_error(tmp_path, caplog) -> None:
    config = _config(tmp_path / "eval.yaml", tmp_path / "m", tmp_path / "run")
    assert main(["eval", str(config), "eval.temperature=-1"]) == 2
    assert "eval.temperature" in caplog.text


def test_task_spec_must_resolve() -> None:
    assert resolve_task("eval_toy:toy_task").name == "toy"
    with pytest.raises(ValueError, match="cannot import"):
        resolve_task("toy:nothing")


def test_shipped_eval_config_loads() -> None:
    config = Path(__file__).resolve().parents[2] / "configs" / "eval" / "ddx_sim.yaml"
    job = load_job(config)
    assert job.task == "ddx_sim" and job.settings.num_candidates == 3 and job.settings.max_answers == 30
    assert resolve_task(job.task, job.task_options).name == "ddx_sim"


def test_settings_work_as_an_omegaconf_structured_config() -> None:
    from omegaconf import OmegaConf

    from beyondmode.evaluate.settings import EvalSettings

    merged = OmegaConf.merge(OmegaConf.structured(EvalSettings), {"methods": ["greedy"], "recall_ks": [1, 5]})
    settings = OmegaConf.to_object(merged)
    assert settings.methods == ("greedy",) and settings.recall_ks == (1, 5)
