"""Shared test fixtures: offline mode and the location of the real data sets (`shared_data`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def shared_data_dir() -> Path:
    """`$BEYONDMODE_SHARED_DATA`, else `<repo>/../shared/data`."""
    return Path(os.environ.get("BEYONDMODE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data sets folder; tests that use it skip with a reason when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (set BEYONDMODE_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
