"""GRPO on CUDA in bf16 with the tiny model, sequence and token credit (skipped without a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_train_smoke import smoke_config

from beyondmode.train.grpo import train_grpo

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("credit", ["sequence", "token"])
def test_bf16_grpo_steps_on_cuda(credit: str, warm_model_dir: Path, tmp_path: Path) -> None:
    config = smoke_config(
        warm_model_dir,
        tmp_path,
        "multi_rlcr",
        f"method.confidence_credit={credit}",
        "trl.bf16=true",
        "trl.max_steps=3",
    )
    result = train_grpo(config)
    assert result.global_step == 3
    steps = [entry for entry in result.log_history if "reward" in entry]
    assert all(entry["reward"] == entry["reward"] for entry in steps)  # finite (not NaN)
