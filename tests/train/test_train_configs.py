"""Every shipped config: loads, TRL accepts its `trl:` section, and a dry run builds dataset and rewards.

GPU configs (bf16, vLLM) are checked on CPU through `validate_grpo_arguments` (adds `use_cpu=True`, see
`beyondmode.train.grpo`). The full dry run needs the config's task: it is skipped when the task is not
registered or its data is absent, and repeated with the toy task swapped in, so that the method, format
and TRL sections are exercised end to end either way.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from beyondmode.cli import main
from beyondmode.config import TaskConfig, load_config
from beyondmode.train.dataset import resolve_task
from beyondmode.train.grpo import prepare_grpo, trl_arguments, validate_grpo_arguments
from beyondmode.train.recipe import answer_format
from beyondmode.train.trl_rewards import TERM_NAMES

CONFIGS = sorted(
    path
    for path in (Path(__file__).resolve().parents[2] / "configs").glob("*.yaml")
    if "trl" in (yaml.safe_load(path.read_text()) or {})  # training configs (eval configs have none)
)
GPU = {path for path in CONFIGS if path.name.startswith("qwen3")}


def test_configs_are_shipped() -> None:
    names = {path.name for path in CONFIGS}
    assert {"tiny_rlvr.yaml", "tiny_rlcr.yaml", "tiny_multi_rlvr.yaml", "tiny_multi_rlcr.yaml"} <= names
    assert {"qwen3_8b_ddxplus.yaml", "qwen3_8b_hotpotqa.yaml", "qwen3_8b_ambigqa.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_trl_section_accepted_by_trl(path: Path) -> None:
    config = load_config(path)
    weights = [1.0] + [0.0] * len(TERM_NAMES)
    arguments = trl_arguments(config, weights, cuda=path in GPU)
    grpo_config = validate_grpo_arguments(arguments)
    assert grpo_config.num_generations == config.trl["num_generations"]
    assert grpo_config.output_dir == config.output.dir and grpo_config.reward_weights == weights
    if path in GPU:
        assert grpo_config.use_vllm and grpo_config.vllm_mode == "colocate" and grpo_config.bf16
        assert grpo_config.num_generations == 32 and grpo_config.beta == 0.0
    assert grpo_config.temperature == 0.7 and grpo_config.scale_rewards == "none"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_dry_run_with_the_configured_task(path: Path) -> None:
    config = load_config(path, ["task.max_examples=8"])
    try:
        task = resolve_task(config.task)
        next(iter(task.examples(answer_format(config))))
    except (ValueError, KeyError, FileNotFoundError) as error:
        pytest.skip(f"task {config.task.name!r} not available here: {error}")
    setup = prepare_grpo(config, task=task, cuda=path in GPU)
    assert len(setup.dataset) == 8
    validate_grpo_arguments(setup.arguments)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_dry_run_with_the_toy_task(path: Path) -> None:
    config = load_config(path)
    config = dataclasses.replace(config, task=TaskConfig("toy_task:ToyTask", {"num_examples": 16}, 16))
    setup = prepare_grpo(config, cuda=path in GPU)
    assert setup.dataset.column_names == ["prompt", "id", "gold", "posterior"]
    assert isinstance(setup.dataset[0]["prompt"], list)  # chat messages when no tokenizer is given
    assert setup.token_credit == (config.method.confidence_credit == "token")
    validate_grpo_arguments(setup.arguments)


def test_cli_dry_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "toy.yaml"
    path.write_text(
        "task: {name: 'toy_task:ToyTask', options: {num_examples: 8}}\ntrl: {num_generations: 4}\n"
    )
    run_dir = tmp_path / "run"
    code = main(["train", str(path), f"output.dir={run_dir}", "method.method=rlcr", "--dry-run"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reward_functions"][0] == "total" and summary["grpo_config"]["output_dir"] == str(run_dir)
    assert summary["examples"] == 8 and summary["grpo_config"]["num_generations"] == 4
    assert not run_dir.exists()  # a dry run writes nothing


def test_trl_arguments_defaults_and_owned_keys() -> None:
    weights = [1.0]
    plain = trl_arguments(load_config(None, ["output.dir=runs/x", "seed=3"]), weights, cuda=False)
    assert plain["beta"] == 0.0 and plain["scale_rewards"] == "none" and plain["temperature"] == 0.7
    assert plain["bf16"] is False and plain["seed"] == 3 and plain["output_dir"] == "runs/x"
    assert plain["model_init_kwargs"] == {"dtype": "auto"}
    on_gpu = trl_arguments(load_config(None, ["method.confidence_credit=token"]), weights, cuda=True)
    assert on_gpu["beta"] == 0.1 and "bf16" not in on_gpu
    user = trl_arguments(load_config(None, ["trl.beta=0.05", "trl.temperature=1.0"]), weights, cuda=False)
    assert (user["beta"], user["temperature"]) == (0.05, 1.0)
    with pytest.raises(ValueError, match=r"trl\.seed \(set seed instead\)"):
        trl_arguments(load_config(None, ["trl.seed=1"]), weights, cuda=False)
    with pytest.raises(ValueError, match="trl section"):
        validate_grpo_arguments({**plain, "num_generationz": 4})


def test_expected_mode_needs_a_posterior() -> None:
    config = load_config(
        None, ["task.name=toy_task:ToyTask", "task.options={}", "method.reward_mode=expected"]
    )
    assert len(prepare_grpo(config, cuda=False).dataset) == 64

    class NoPosterior:
        name, grader, task_sentence, multi_gold = "plain", "exact_match", "", False

        def examples(self, answer_format):
            from beyondmode.tasks.base import build_prompt
            from beyondmode.types import Example

            yield Example("a", build_prompt("s", "u"), (("flu",),))

    with pytest.raises(ValueError, match="exact posterior"):
        prepare_grpo(config, task=NoPosterior(), cuda=False)
