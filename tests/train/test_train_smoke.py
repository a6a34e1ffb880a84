"""Smoke: 5 GRPO steps through TRL for each method and for per-token confidence credit (tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from toy_task import METHODS, K

from beyondmode.config import RunConfig, load_config
from beyondmode.models.loading import load_model
from beyondmode.train import token_credit
from beyondmode.train.grpo import build_trainer, prepare_grpo, train_grpo

pytestmark = pytest.mark.slow

LOGGED = (
    "rewards/total/mean",
    "rewards/coverage/mean",
    "reward_std",
    "format/parse_failure",
    "format/violation/missing_answer",
    "terms/brier",
    "gates/uniqueness",
    "reward/unscorable",
)


def smoke_config(model_dir: Path, output: Path, method: str, *overrides: str) -> RunConfig:
    return load_config(
        None,
        [
            f"method.method={method}",
            f"method.num_candidates={K}",
            "task.name=toy_task:ToyTask",
            "task.options.num_examples=64",
            f"model.name_or_path={model_dir}",
            f"output.dir={output}",
            "output.save_steps=100",
            "trl.max_steps=5",
            "trl.per_device_train_batch_size=8",
            "trl.num_generations=4",
            "trl.max_completion_length=40",
            "trl.learning_rate=1e-3",
            "trl.logging_steps=1",
            "trl.disable_tqdm=true",
            *overrides,
        ],
    )


def changed_parameters(before: Path, after: Path) -> int:
    old, new = load_file(before / "model.safetensors"), load_file(after / "model.safetensors")
    return sum(not torch.equal(old[name], new[name]) for name in old)


@pytest.mark.parametrize(
    ("method", "mode"), [(method, "label") for method in METHODS] + [("multi_rlcr", "expected")]
)
def test_grpo_steps_per_method(method: str, mode: str, warm_model_dir: Path, tmp_path: Path) -> None:
    result = train_grpo(smoke_config(warm_model_dir, tmp_path / method, method, f"method.reward_mode={mode}"))
    assert result.global_step == 5
    steps = [entry for entry in result.log_history if "rewards/total/mean" in entry]
    assert len(steps) == 5
    assert all(key in steps[0] for key in LOGGED), sorted(set(LOGGED) - set(steps[0]))
    assert min(entry["frac_reward_zero_std"] for entry in steps) < 1.0  # rewards vary within groups
    assert changed_parameters(warm_model_dir, result.final_dir) > 0
    assert (tmp_path / method / "run_info.json").is_file() and (tmp_path / method / "config.yaml").is_file()


def test_token_credit_advantages_land_on_confidence_tokens(
    warm_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = smoke_config(warm_model_dir, tmp_path / "token", "multi_rlcr", "method.confidence_credit=token")
    loaded = load_model(config.model.name_or_path)
    setup = prepare_grpo(config, tokenizer=loaded.tokenizer)
    assert setup.token_credit and setup.arguments["beta"] == 0.1
    before = {name: p.detach().clone() for name, p in loaded.model.named_parameters()}
    trainer = build_trainer(setup, loaded.model, loaded.tokenizer)
    assert isinstance(trainer, token_credit.TokenCreditGRPOTrainer)
    calls: list[tuple] = []
    original = token_credit.spread_advantages

    def recording(sequence, slots, positions, length):
        result = original(sequence, slots, positions, length)
        calls.append((sequence.clone(), slots.clone(), positions, result.clone()))
        return result

    monkeypatch.setattr(token_credit, "spread_advantages", recording)
    trainer.train()
    assert trainer.state.global_step == 5 and calls
    assert any(not torch.equal(before[name], p) for name, p in trainer.model.named_parameters())
    located = 0
    for sequence, slots, positions, result in calls:
        for row, slot_positions in enumerate(positions):
            on_confidence = {index for indices in slot_positions.values() for index in indices}
            for index in range(result.size(1)):
                if index not in on_confidence:
                    assert result[row, index] == sequence[row]
            for slot, indices in slot_positions.items():
                located += len(indices)
                assert all(result[row, i] == slots[row, slot - 1] for i in indices)
    assert located > 0
    logged = [entry for entry in trainer.state.log_history if "token_credit/slot1_brier" in entry]
    assert logged and "rewards/top1/mean" in logged[0]
