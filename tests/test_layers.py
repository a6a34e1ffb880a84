"""The core stays engine-agnostic: importing it must not pull in torch or trl (DESIGN section 2)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "beyondmode",
    "beyondmode.formats",
    "beyondmode.grading",
    "beyondmode.rewards",
    "beyondmode.methods",
    "beyondmode.scoring",
    "beyondmode.metrics",
    "beyondmode.conformal",
    "beyondmode.tasks",
]


def test_core_imports_neither_torch_nor_trl() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE_MODULES)
        + "heavy = sorted(m for m in ('torch', 'trl', 'transformers', 'datasets') if m in sys.modules)\n"
        + "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"core imports pulled in: {result.stdout.strip()}"
