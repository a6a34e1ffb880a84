"""Shared fixtures: offline Hugging Face, and the location of the real data sets (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """`$BEYONDMODE_SHARED_DATA`, else `../shared/data` beside the repository."""
    override = os.environ.get("BEYONDMODE_SHARED_DATA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets; skips the test cleanly when they are absent."""
    path = shared_data_dir()
    if not (path / "README.md").is_file():
        pytest.skip(f"real data not found at {path} (set BEYONDMODE_SHARED_DATA to run this test)")
    return path
