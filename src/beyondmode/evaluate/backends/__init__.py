"""Generation backends behind one interface (`Backend.generate`), and a factory from `EvalSettings`."""

from __future__ import annotations

import os
from pathlib import Path

from beyondmode.evaluate.backends.base import Backend, Generation, Messages
from beyondmode.evaluate.backends.scripted import ScriptedBackend
from beyondmode.evaluate.settings import BackendKind, EvalSettings

__all__ = ["Backend", "Generation", "Messages", "ScriptedBackend", "build_backend"]


def build_backend(settings: EvalSettings, model_path: str | Path) -> Backend:
    """The backend named by `settings.backend` for the model at `model_path` (a directory or hub id)."""
    if settings.backend is BackendKind.OPENAI:
        from beyondmode.evaluate.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            settings.base_url or "",
            settings.served_model or str(model_path),
            api_key=os.environ.get(settings.api_key_env),
            timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
            concurrency=settings.concurrency,
        )
    if settings.backend is BackendKind.VLLM:
        from beyondmode.evaluate.backends.vllm_backend import VLLMBackend

        return VLLMBackend(model_path, seed=settings.seed)
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend

    return TransformersBackend.from_pretrained(
        model_path, device=settings.device, batch_size=settings.batch_size
    )
