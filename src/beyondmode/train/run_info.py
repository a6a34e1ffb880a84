"""What every run directory records: the resolved config and `run_info.json` (seeds, package versions,
git revision, `REWARD_VERSION`, `FORMAT_VERSION`), each written atomically."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_text_atomic
from beyondmode.config import RunConfig, to_yaml
from beyondmode.formats import FORMAT_VERSION
from beyondmode.rewards import REWARD_VERSION

PACKAGES = (
    "beyondmode",
    "torch",
    "transformers",
    "trl",
    "datasets",
    "accelerate",
    "tokenizers",
    "vllm",
    "deepspeed",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    """`git describe --always --dirty` of the source tree, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def run_info(config: RunConfig, stage: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "stage": stage,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": config.seed,
        "reward_version": REWARD_VERSION,
        "format_version": FORMAT_VERSION,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "packages": package_versions(),
        **(extra or {}),
    }


def record_run(
    directory: str | Path, config: RunConfig, stage: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write `config.yaml` and `run_info.json` into `directory`; returns the directory."""
    directory = Path(directory)
    write_text_atomic(directory / "config.yaml", to_yaml(config))
    write_text_atomic(
        directory / "run_info.json", json.dumps(run_info(config, stage, extra), indent=2) + "\n"
    )
    return directory
