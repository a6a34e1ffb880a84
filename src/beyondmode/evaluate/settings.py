"""Evaluation settings: one frozen dataclass, later the `eval` section of the run config.

>>> settings = EvalSettings(num_candidates=3, max_answers=30)
>>> settings.generations_for("multi_answer"), settings.generations_for("best_of_k")
(10, 30)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from beyondmode.formats import Layout


class BackendKind(StrEnum):
    """Where generations come from."""

    TRANSFORMERS = "transformers"
    VLLM = "vllm"
    OPENAI = "openai"


LAYOUTS = tuple(layout.value for layout in Layout)

METHOD_NAMES = ("multi_answer", "prompt_multi", "verbalized", "best_of_k", "greedy")
"""Generation methods; the oracle row is added by the runner wherever examples carry a posterior."""


@dataclass(frozen=True, slots=True)
class EvalSettings:
    """How a model is evaluated.

    Fields:
        methods: which methods of `METHOD_NAMES` to run, on the same examples.
        num_candidates: K of the multi-answer format (and of the prompting baselines).
        with_confidence: multi-answer and single-answer formats ask for confidences (RLCR variants).
        require_think: the formats require a `<think>` block.
        with_analysis: the formats allow an optional `<analysis>` block (see `AnswerFormat`); None: where
            they have confidences, as the published RLCR and Multi-RLCR formats do.
        layout: `interleaved` (answer1 confidence1 answer2 ...) or `split` (all answers, then confidences).
        max_answers: answers per example and method (k_max; also n of distinct@n, n = 30 in the paper).
            Multi-answer methods draw ceil(max_answers / K) generations, single-answer ones max_answers.
        recall_ks: the k of recall@k / coverage@k / pass@k reported in the summary (<= max_answers).
        temperature: sampling temperature of every sampled method (best-of-k uses it too; 0.7 default).
        max_new_tokens: generation budget per completion.
        num_examples: evaluate the first N examples of the task (None: all).
        batch_size: prompts per backend call (and per cache flush).
        seed: base seed of the sampler.
        bootstrap_resamples: resamples of the 95% bootstrap intervals.
        reliability_bins: equal-width bins of the ECE and the reliability diagram.
        backend: transformers, vllm or openai (any OpenAI-compatible server).
        base_url: the server of the openai backend (e.g. http://127.0.0.1:8000/v1).
        served_model: the model name sent to the server (defaults to the model path).
        api_key_env: environment variable holding the server's API key (a placeholder is sent if unset).
        request_timeout_s: per-request timeout of the openai backend.
        max_retries: retries with exponential backoff of the openai backend.
        concurrency: parallel requests of the openai backend.
        device: torch device of the transformers backend ("auto": cuda when available).
    """

    methods: tuple[str, ...] = ("multi_answer", "best_of_k", "greedy")
    num_candidates: int = 3
    with_confidence: bool = True
    require_think: bool = True
    with_analysis: bool | None = None
    layout: str = "interleaved"
    max_answers: int = 30
    recall_ks: tuple[int, ...] = (1, 3, 5, 10, 30)
    temperature: float = 0.7
    max_new_tokens: int = 256
    num_examples: int | None = None
    batch_size: int = 16
    seed: int = 0
    bootstrap_resamples: int = 1000
    reliability_bins: int = 10
    backend: BackendKind = BackendKind.TRANSFORMERS
    base_url: str | None = None
    served_model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    request_timeout_s: float = 120.0
    max_retries: int = 4
    concurrency: int = 8
    device: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "recall_ks", tuple(sorted(set(self.recall_ks))))
        object.__setattr__(self, "backend", BackendKind(self.backend))
        if self.layout not in LAYOUTS:
            raise ValueError(f"eval.layout must be one of {list(LAYOUTS)}, got {self.layout!r}")
        for key in ("with_confidence", "require_think"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"eval.{key} must be true or false, got {getattr(self, key)!r}")
        if self.with_analysis is not None and not isinstance(self.with_analysis, bool):
            raise ValueError(f"eval.with_analysis must be true, false or null, got {self.with_analysis!r}")
        unknown = [m for m in self.methods if m not in METHOD_NAMES]
        if unknown:
            raise ValueError(f"eval.methods: unknown {unknown}; choose from {list(METHOD_NAMES)}")
        if self.num_candidates < 1:
            raise ValueError(f"eval.num_candidates must be >= 1, got {self.num_candidates}")
        if self.max_answers < 1:
            raise ValueError(f"eval.max_answers must be >= 1, got {self.max_answers}")
        bad_ks = [k for k in self.recall_ks if not 1 <= k <= self.max_answers]
        if bad_ks:
            raise ValueError(f"eval.recall_ks must lie in 1..max_answers={self.max_answers}, got {bad_ks}")
        if self.temperature < 0:
            raise ValueError(f"eval.temperature must be >= 0, got {self.temperature}")
        if self.batch_size < 1 or self.concurrency < 1 or self.max_new_tokens < 1:
            raise ValueError("eval.batch_size, eval.concurrency and eval.max_new_tokens must be >= 1")
        if self.backend is BackendKind.OPENAI and not self.base_url:
            raise ValueError("eval.backend 'openai' needs eval.base_url (e.g. http://127.0.0.1:8000/v1)")

    def format_options(self, with_confidence: bool | None = None) -> dict[str, object]:
        """`AnswerFormat` keyword arguments of these settings (`with_confidence` overrides the setting).

        >>> EvalSettings(with_confidence=True).format_options()["with_analysis"]
        True
        """
        confident = self.with_confidence if with_confidence is None else with_confidence
        return {
            "with_confidence": confident,
            "require_think": self.require_think,
            "with_analysis": confident if self.with_analysis is None else self.with_analysis,
            "layout": self.layout,
        }

    def generations_for(self, method: str) -> int:
        """Generations per example: ceil(max_answers / K) for multi-answer methods, max_answers for
        best-of-k, 1 for greedy."""
        if method == "greedy":
            return 1
        if method == "best_of_k":
            return self.max_answers
        return math.ceil(self.max_answers / self.num_candidates)
