"""What a report shows, read from run directories: each run's summary and its training curves.

Training curves come from TRL's `trainer_state.json` (`log_history`), found in the run directory, in the
evaluated model's directory, or in their `checkpoint-*` subfolders (the latest checkpoint wins).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beyondmode.evaluate.results import load_summary

logger = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.json"


@dataclass(frozen=True, slots=True)
class RunData:
    """One evaluated run: its label (the directory name), summary, and training curves (may be empty)."""

    label: str
    path: Path
    summary: dict[str, Any]
    curves: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def methods(self) -> dict[str, Any]:
        return self.summary.get("methods", {})


def find_trainer_state(*folders: Path) -> Path | None:
    """The `trainer_state.json` of a training output: in a folder itself, else its latest checkpoint."""
    for folder in folders:
        if not folder.is_dir():
            continue
        direct = folder / TRAINER_STATE
        if direct.is_file():
            return direct
        checkpoints = [p for p in folder.glob(f"checkpoint-*/{TRAINER_STATE}") if p.is_file()]
        if checkpoints:
            return max(checkpoints, key=lambda p: _step_of(p.parent.name))
    return None


def _step_of(name: str) -> int:
    match = re.search(r"(\d+)$", name)
    return int(match.group(1)) if match else -1


def training_curves(path: Path) -> dict[str, list[tuple[float, float]]]:
    """(step, value) series of the reward and every reward term in TRL's log history.

    Keys kept: `reward`, TRL's per-function `rewards/<name>/mean` (as `rewards/<name>`), the per-term
    `terms/<term>` and `format/parse_failure` that beyondmode's reward logs, `loss`, `kl`,
    `completions/mean_length`.
    """
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    curves: dict[str, list[tuple[float, float]]] = {}
    for entry in state.get("log_history", []):
        step = entry.get("step")
        if step is None:
            continue
        for key, value in entry.items():
            name = _curve_name(key)
            if name is not None and isinstance(value, (int, float)):
                curves.setdefault(name, []).append((float(step), float(value)))
    return curves


def _curve_name(key: str) -> str | None:
    if key in ("reward", "loss", "kl", "completions/mean_length", "format/parse_failure"):
        return key
    if re.fullmatch(r"terms/[\w.-]+", key):
        return key
    match = re.fullmatch(r"(rewards/.+)/mean", key)
    return match.group(1) if match else None


def load_runs(run_dirs: Sequence[str | Path]) -> list[RunData]:
    """Read every run directory (labels made unique); a missing summary names the directory."""
    runs: list[RunData] = []
    seen: dict[str, int] = {}
    for raw in run_dirs:
        path = Path(raw)
        summary = load_summary(path)
        label = path.resolve().name or str(path)
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label}-{seen[label]}"
        folders = [path]
        model = summary.get("model")
        if isinstance(model, str) and Path(model).is_dir():
            folders.append(Path(model))
        state = find_trainer_state(*folders)
        curves = training_curves(state) if state else {}
        if state:
            logger.info("%s: training curves from %s", label, state)
        runs.append(RunData(label, path, summary, curves))
    return runs
