"""Resume: a run stopped after a checkpoint continues to the same final step with the same data order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_train_smoke import smoke_config

from beyondmode.train import grpo

pytestmark = pytest.mark.slow
ORIGINAL = grpo.build_reward_functions


class IdRecorder:
    """A zero-weight reward function that records the example ids of each generation batch."""

    __name__ = "id_recorder"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, completions: list[Any], id: list[str], **kwargs: Any) -> list[float]:
        self.batches.append(list(id))
        return [0.0] * len(completions)


def record_ids(monkeypatch: pytest.MonkeyPatch) -> IdRecorder:
    recorder = IdRecorder()

    def with_recorder(scorer, log_terms=True):
        functions, weights = ORIGINAL(scorer, log_terms)
        return [*functions, recorder], [*weights, 0.0]

    monkeypatch.setattr(grpo, "build_reward_functions", with_recorder)
    return recorder


def test_resume_continues_to_the_same_step_and_data(
    warm_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    common = ("output.save_steps=2", "method.log_terms=false")
    straight = record_ids(monkeypatch)
    full = grpo.train_grpo(
        smoke_config(warm_model_dir, tmp_path / "full", "multi_rlcr", *common, "trl.max_steps=6")
    )
    assert full.global_step == 6 and len(straight.batches) == 6

    first = record_ids(monkeypatch)
    run_dir = tmp_path / "killed"
    stopped = grpo.train_grpo(smoke_config(warm_model_dir, run_dir, "multi_rlcr", *common, "trl.max_steps=4"))
    assert stopped.global_step == 4 and Path(grpo.last_checkpoint(run_dir)).name == "checkpoint-4"

    resumed_config = smoke_config(warm_model_dir, run_dir, "multi_rlcr", *common, "trl.max_steps=6")
    with pytest.raises(FileExistsError, match="--resume"):
        grpo.train_grpo(resumed_config)
    second = record_ids(monkeypatch)
    resumed = grpo.train_grpo(resumed_config, resume=True)
    assert resumed.global_step == 6
    assert first.batches + second.batches == straight.batches
    assert Path(grpo.last_checkpoint(run_dir)).name == "checkpoint-6"
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["resumed_from"].endswith("checkpoint-4") and info["history"][0]["resumed_from"] is None
