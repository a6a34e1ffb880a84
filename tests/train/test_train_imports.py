"""The light parts of the training layer import neither torch, trl nor transformers (usable from verl,
from a reward server, and in a config check)."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIGHT = (
    "beyondmode.config",
    "beyondmode.models",
    "beyondmode.train.dataset",
    "beyondmode.train.recipe",
    "beyondmode.train.trl_rewards",
    "beyondmode.train.warmstart_data",
    "beyondmode.train.self_labels",
    "beyondmode.train.grpo",
    "beyondmode.commands.train",
    "beyondmode.commands.warmstart",
)


@pytest.mark.parametrize("module", LIGHT)
def test_module_imports_light(module: str) -> None:
    code = (
        f"import sys, {module}; heavy = [m for m in ('torch', 'trl', 'transformers', 'datasets') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"
