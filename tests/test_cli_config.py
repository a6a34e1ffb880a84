"""Config polish on the command line: eval configs point where training writes, missing model folders are
named, `--resume` keeps the stored config, config errors name their key without a traceback, and every
command sets torch's thread count."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from beyondmode.cli import main
from beyondmode.config import (
    ConfigError,
    RunConfig,
    check_model_reference,
    config_value,
    load_config,
    looks_like_path,
    to_yaml,
)
from beyondmode.evaluate.job import load_job
from beyondmode.evaluate.settings import EvalSettings

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CONFIGS = [
    p for p in sorted((ROOT / "configs").glob("*.yaml")) if "trl" in yaml.safe_load(p.read_text())
]
EVAL_CONFIGS = sorted((ROOT / "configs" / "eval").glob("*.yaml"))


# --- eval configs point where training writes ---------------------------------------------------------


def test_every_eval_config_reads_a_folder_that_training_writes() -> None:
    written = set()
    for path in TRAIN_CONFIGS:
        config = load_config(path)
        written |= {f"{config.output.dir}/final", config.warmstart.output_dir}
    assert EVAL_CONFIGS
    for path in EVAL_CONFIGS:
        job = load_job(path)
        assert job.model in written, f"{path.name}: model {job.model} is not written by any training config"


# --- missing model folders ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path_like"),
    [
        ("runs/tiny_multi_rlcr/final", True),
        ("./model", True),
        ("/abs/model", True),
        ("~/model", True),
        ("model/", True),
        ("Qwen/Qwen3-8B", False),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", False),
        ("smollm2-135m-instruct", False),
        ("tiny", False),
    ],
)
def test_looks_like_path(name: str, path_like: bool) -> None:
    assert looks_like_path(name) is path_like


def test_owner_slash_name_is_a_path_when_its_first_part_is_a_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert not looks_like_path("runs/model")
    (tmp_path / "runs").mkdir()
    assert looks_like_path("runs/model")
    with pytest.raises(FileNotFoundError, match=r"^model directory not found: runs/model \(model;"):
        check_model_reference("runs/model", "model")
    check_model_reference("Qwen/Qwen3-8B", "model")  # a hub id passes (no lookup here)


def test_eval_with_a_missing_model_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "eval.yaml"
    missing = tmp_path / "runs" / "never" / "final"
    config.write_text(f"model: {missing}\ntask: ddx_sim\ntask_options: {{num_examples: 2}}\n")
    assert main(["eval", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"model directory not found: {missing}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 3


def test_train_and_serve_with_a_missing_model_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(f"output: {{dir: {tmp_path / 'run'}}}\ntrl: {{num_generations: 4}}\n")
    assert main(["train", str(config)]) == 2  # model.name_or_path = the warm start's folder, not written
    assert f"model directory not found: {tmp_path / 'run' / 'warmstart'}" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "no" / "model")]) == 2
    assert "model directory not found" in capsys.readouterr().err


# --- --resume keeps the stored config ------------------------------------------------------------------


def _stored_run(tmp_path: Path, *overrides: str) -> tuple[Path, Path]:
    config_file = tmp_path / "train.yaml"
    config_file.write_text("trl: {num_generations: 4, max_steps: 500}\n")
    run = tmp_path / "run"
    run.mkdir()
    started = load_config(config_file, [f"output.dir={run}", f"model.name_or_path={tmp_path}", *overrides])
    (run / "config.yaml").write_text(to_yaml(started))
    return config_file, run


@pytest.fixture
def captured_train(monkeypatch: pytest.MonkeyPatch) -> list[tuple[RunConfig, bool]]:
    from beyondmode.train import grpo

    calls: list[tuple[RunConfig, bool]] = []

    def fake_train(config: RunConfig, resume: bool = False) -> Any:
        calls.append((config, resume))
        return grpo.GRPOResult(Path(config.output.dir) / "final", 0, [])

    monkeypatch.setattr(grpo, "train_grpo", fake_train)
    return calls


def test_resume_uses_the_stored_config(
    tmp_path: Path, captured_train, caplog: pytest.LogCaptureFixture
) -> None:
    config_file, run = _stored_run(tmp_path, "trl.max_steps=10")
    assert main(["train", str(config_file), f"output.dir={run}", "--resume"]) == 0
    ((config, resume),) = captured_train
    assert resume and config.trl["max_steps"] == 10  # not the file's 500
    (warning,) = [
        r.getMessage() for r in caplog.records if "resuming with the config stored" in r.getMessage()
    ]
    assert "differs at model.name_or_path, trl.max_steps (ignored)" in warning
    # the same value again is no conflict
    assert main(["train", str(config_file), f"output.dir={run}", "trl.max_steps=10", "--resume"]) == 0


def test_resume_refuses_a_conflicting_override(
    tmp_path: Path, captured_train, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file, run = _stored_run(tmp_path, "trl.max_steps=10")
    before = (run / "config.yaml").read_text()
    assert main(["train", str(config_file), f"output.dir={run}", "trl.max_steps=20", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "trl.max_steps: stored 10, given 20" in err and "Traceback" not in err
    assert (run / "config.yaml").read_text() == before and not captured_train


def test_without_resume_the_given_config_is_used(tmp_path: Path, captured_train) -> None:
    config_file, run = _stored_run(tmp_path, "trl.max_steps=10")
    assert main(["train", str(config_file), f"output.dir={run}", f"model.name_or_path={tmp_path}"]) == 0
    assert captured_train[0][0].trl["max_steps"] == 500  # train_grpo itself refuses an existing checkpoint


# --- config errors: the key, no traceback --------------------------------------------------------------

_WRONG = {int: "three", float: "fast", bool: "maybe"}


def _leaf_fields(cls: type, prefix: str = "") -> list[tuple[str, Any]]:
    leaves = []
    for name, hint in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(hint):
            leaves += _leaf_fields(hint, f"{prefix}{name}.")
        else:
            leaves.append((f"{prefix}{name}", hint))
    return leaves


def _wrong_value(hint: Any) -> str | None:
    options = [o for o in typing.get_args(hint) or (hint,) if o is not type(None)]
    if typing.get_origin(hint) is dict or dict in [typing.get_origin(o) for o in options]:
        return "5"
    return next((_WRONG[o] for o in options if o in _WRONG), None)


TRAIN_KEYS = [(key, _wrong_value(hint)) for key, hint in _leaf_fields(RunConfig) if _wrong_value(hint)]


@pytest.mark.parametrize(("key", "value"), TRAIN_KEYS, ids=[k for k, _ in TRAIN_KEYS])
def test_every_train_key_type_error_names_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"key '{key}'"):
        load_config(None, [f"{key}={value}"])


def test_section_given_a_scalar_names_the_section() -> None:
    with pytest.raises(ConfigError, match=r"key 'output'"):
        load_config(None, ["output=3"])


EVAL_WRONG = {int: "three", float: "fast", bool: "maybe", str: [1]}


def _eval_wrong(hint: Any) -> Any:
    if typing.get_origin(hint) is tuple:
        return "not a list"
    options = [o for o in typing.get_args(hint) or (hint,) if o is not type(None)]
    if isinstance(options[0], type) and issubclass(options[0], str) and options[0] is not str:
        return "no-such-backend"
    return EVAL_WRONG[options[0]]


EVAL_KEYS = list(typing.get_type_hints(EvalSettings).items())


@pytest.mark.parametrize(("key", "hint"), EVAL_KEYS, ids=[k for k, _ in EVAL_KEYS])
def test_every_eval_key_type_error_names_the_key(tmp_path: Path, key: str, hint: Any) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\ntask: ddx_sim\n")
    with pytest.raises(ValueError, match=rf"key 'eval\.{key}'"):
        load_job(config, {f"eval.{key}": _eval_wrong(hint)})


def test_eval_max_answers_three_on_the_command_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("model: m\ntask: ddx_sim\n")
    assert main(["eval", str(config), "eval.max_answers=three"]) == 2
    assert "key 'eval.max_answers' must be an integer, got 'three'" in caplog.text


def test_config_error_prints_without_traceback_unless_verbose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("trl: {num_generations: 4}\n")
    assert main(["train", str(config), "method.num_candidates=three", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "key 'method.num_candidates'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(ConfigError, match=r"method\.num_candidates"):
        main(["train", str(config), "method.num_candidates=three", "--dry-run", "-v"])
    with pytest.raises(ConfigError, match=r"method\.num_candidates"):
        main(["-v", "train", str(config), "method.num_candidates=three", "--dry-run"])


def test_config_value_reads_dotted_keys() -> None:
    config = load_config(None, ["trl.max_steps=7", "method.weights={brier_weight: 1.0}"])
    assert config_value(config, "trl.max_steps") == 7
    assert config_value(config, "method.weights") == {"brier_weight": 1.0}
    assert config_value(config, "trl.absent") is None


# --- thread count ----------------------------------------------------------------------------------------


@pytest.fixture
def torch_threads(monkeypatch: pytest.MonkeyPatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "0")  # restored by monkeypatch after the test
        monkeypatch.delenv(name)
    yield torch
    torch.set_num_threads(before)


def _score_file(tmp_path: Path) -> Path:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"completion": "<answer> a </answer>", "gold": ["a"]}\n')
    return rows


def test_every_command_sets_one_thread_by_default(tmp_path: Path, torch_threads) -> None:
    torch_threads.set_num_threads(2)
    assert main(["score", str(_score_file(tmp_path)), "--method", "rlvr"]) == 0
    assert torch_threads.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"


def test_threads_flag_and_environment(tmp_path: Path, torch_threads, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _score_file(tmp_path)
    assert main(["score", str(rows), "--method", "rlvr", "--threads", "2"]) == 0
    assert torch_threads.get_num_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert main(["score", str(rows), "--method", "rlvr"]) == 0
    assert torch_threads.get_num_threads() == 3


def test_config_threads_key_unless_the_flag_is_given(
    tmp_path: Path, torch_threads, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "threads: 2\ntask: {name: 'toy_task:ToyTask', options: {num_examples: 4}}\ntrl: {num_generations: 4}\n"
    )
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "train"))
    try:
        assert main(["train", str(config), "--dry-run"]) == 0
        assert torch_threads.get_num_threads() == 2
        assert main(["train", str(config), "--dry-run", "--threads", "1"]) == 0
        assert torch_threads.get_num_threads() == 1
    finally:
        sys.path.remove(str(ROOT / "tests" / "train"))
    capsys.readouterr()


def test_torch_imported_after_the_command_starts_gets_the_count(tmp_path: Path) -> None:
    """Commands import torch inside their handler: the environment set at start-up must reach it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from beyondmode.cli import main\n"
        f"assert main(['score', {str(_score_file(tmp_path))!r}, '--method', 'rlvr'] + sys.argv[1:]) == 0\n"
        "assert 'torch' not in sys.modules\n"
        "import torch\n"
        "print(torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    for extra, expected in (([], "1"), (["--threads", "2"], "2")):
        result = subprocess.run(
            [sys.executable, "-c", code, *extra], capture_output=True, text=True, env=env, check=True
        )
        assert result.stdout.strip().splitlines()[-1] == expected
