"""From a `RunConfig` to the objects a run needs: the answer format, the reward spec and the scorer.

`confidence_credit: token` changes the sequence reward to the one measured to keep resolution (DESIGN
section 8): coverage (weight 1) + 0.5 top1, no Brier term (the Brier score goes to the confidence tokens
instead, see `beyondmode.train.token_credit`); `method.weights` still override any field.

>>> from beyondmode.config import load_config
>>> spec = reward_spec(load_config(None, ["method.confidence_credit=token"]), multi_gold=False)
>>> spec.accuracy_weight, spec.top1_weight, spec.brier_weight
(1.0, 0.5, 0.0)
"""

from __future__ import annotations

from typing import Any

from beyondmode.config import RunConfig
from beyondmode.formats import AnswerFormat
from beyondmode.grading.base import get_grader
from beyondmode.methods import method_format, method_spec
from beyondmode.rewards import RewardSpec
from beyondmode.scoring import RewardMode, Scorer

TOKEN_CREDIT_SEQUENCE = {"brier_weight": 0.0, "accuracy_weight": 1.0, "top1_weight": 0.5}


def answer_format(config: RunConfig) -> AnswerFormat:
    fmt = config.format
    return method_format(
        config.method.method,
        config.method.num_candidates,
        require_think=fmt.require_think,
        with_analysis=fmt.with_analysis,
        layout=fmt.layout,
        allow_text_outside=fmt.allow_text_outside,
        confidence_decimals=fmt.confidence_decimals,
        max_chars=fmt.max_chars,
        min_candidates=fmt.min_candidates,
    )


def reward_spec(config: RunConfig, multi_gold: bool) -> RewardSpec:
    overrides: dict[str, Any] = {}
    if config.method.confidence_credit == "token":
        overrides.update(TOKEN_CREDIT_SEQUENCE)
    overrides.update(config.method.weights)
    known = set(RewardSpec.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"method.weights: unknown RewardSpec fields {unknown}; known: {sorted(known)}")
    return method_spec(config.method.method, multi_gold=multi_gold, **overrides)


def build_scorer(config: RunConfig, grader: str, multi_gold: bool) -> Scorer:
    return Scorer(
        answer_format(config),
        reward_spec(config, multi_gold),
        get_grader(grader),
        RewardMode(config.method.reward_mode),
    )
