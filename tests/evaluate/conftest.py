"""Fixtures of the evaluation tests: offline mode and a tiny random Llama saved to disk."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory):
    """A saved tiny random Llama with a chat template (skips without torch/transformers)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from eval_tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))
