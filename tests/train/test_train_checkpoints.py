"""Choosing the checkpoint to resume from: the newest complete one, never a half-written folder."""

from __future__ import annotations

import json
from pathlib import Path

from beyondmode.train.grpo import last_checkpoint


def checkpoint(
    run: Path, step: int, *, state: str | None = '{"global_step": 1}', weights: bool = True
) -> Path:
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if weights:
        (folder / "model.safetensors").write_bytes(b"weights")
    if state is not None:
        (folder / "trainer_state.json").write_text(state)
    return folder


def test_incomplete_checkpoints_are_skipped(tmp_path: Path, caplog) -> None:
    good = checkpoint(tmp_path, 4)
    checkpoint(tmp_path, 10)  # complete but older than...
    checkpoint(tmp_path, 12, state=None)  # killed before the trainer state was written
    checkpoint(tmp_path, 14, state='{"global_st')  # killed while writing it
    checkpoint(tmp_path, 16, weights=False)  # no model weights
    (tmp_path / "checkpoint-20").write_text("a file, not a folder")
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")
    assert (
        "checkpoint-12" in caplog.text and "checkpoint-14" in caplog.text and "checkpoint-16" in caplog.text
    )
    for step in (10,):
        for item in (tmp_path / f"checkpoint-{step}").iterdir():
            item.unlink()
        (tmp_path / f"checkpoint-{step}").rmdir()
    assert last_checkpoint(tmp_path) == str(good)


def test_numeric_order_and_other_weight_layouts(tmp_path: Path) -> None:
    checkpoint(tmp_path, 9)
    sharded = checkpoint(tmp_path, 100, weights=False)
    (sharded / "global_step100").mkdir()  # DeepSpeed
    assert last_checkpoint(tmp_path) == str(sharded)
    assert json.loads((sharded / "trainer_state.json").read_text())["global_step"] == 1
    assert last_checkpoint(tmp_path / "missing") is None
    assert last_checkpoint(tmp_path / "checkpoint-9") is None
