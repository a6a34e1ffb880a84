"""Shared fixtures: offline Hugging Face, the test fixtures folder, and the real data sets (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def shared_data_dir() -> Path:
    """`$BEYONDMODE_SHARED_DATA`, else `../shared/data` beside the repository."""
    return Path(os.environ.get("BEYONDMODE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets; skips the test cleanly when they are absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (set BEYONDMODE_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
