"""The four training methods as presets over the answer format and the reward terms (DESIGN section 4).

| method     | K | confidences | reward                                                                   |
|------------|---|-------------|--------------------------------------------------------------------------|
| rlvr       | 1 | no          | 0.5 format + 0.5 any_hit                                                 |
| rlcr       | 1 | yes         | 0.5 format + 0.5 any_hit + 0.5 brier                                     |
| multi_rlvr | K | no          | 0.5 format + 0.5 coverage [uniqueness]                                   |
| multi_rlcr | K | yes         | 0.5 format + 0.5 coverage [uniqueness] + 0.5 brier [uniqueness][sum<=1]  |

`sum_le_1` gates multi_rlcr's Brier term on single-gold tasks only: with several gold answers the proper
confidences P(a_i in Y*) may sum above 1.

>>> fmt, spec = preset("multi_rlcr", num_candidates=3)
>>> fmt.num_candidates, spec.brier_weight, spec.gate_sum_le_1
(3, 0.5, True)
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import Any

from beyondmode.formats import AnswerFormat
from beyondmode.rewards import AccuracyTerm, RewardSpec


class Method(StrEnum):
    RLVR = "rlvr"
    RLCR = "rlcr"
    MULTI_RLVR = "multi_rlvr"
    MULTI_RLCR = "multi_rlcr"

    @property
    def is_multi(self) -> bool:
        return self in (Method.MULTI_RLVR, Method.MULTI_RLCR)

    @property
    def with_confidence(self) -> bool:
        return self in (Method.RLCR, Method.MULTI_RLCR)


def method_spec(method: Method | str, *, multi_gold: bool = False, **overrides: Any) -> RewardSpec:
    """The published reward recipe for `method`; keyword overrides replace single fields."""
    method = _method(method)
    if method is Method.RLVR:
        spec = RewardSpec(accuracy=AccuracyTerm.ANY_HIT)
    elif method is Method.RLCR:
        spec = RewardSpec(accuracy=AccuracyTerm.ANY_HIT, brier_weight=0.5)
    elif method is Method.MULTI_RLVR:
        spec = RewardSpec(accuracy=AccuracyTerm.COVERAGE, gate_uniqueness=True)
    else:
        spec = RewardSpec(
            accuracy=AccuracyTerm.COVERAGE,
            brier_weight=0.5,
            gate_uniqueness=True,
            gate_sum_le_1=not multi_gold,
        )
    return replace(spec, **overrides) if overrides else spec


def method_format(
    method: Method | str, num_candidates: int = 3, *, with_analysis: bool | None = None, **options: Any
) -> AnswerFormat:
    """The answer format of `method`: K = 1 for the single-answer methods, confidences for the RLCR ones.

    `with_analysis` None takes the published default: the RLCR methods allow an `<analysis>` block where
    the published formats put it (RLCR: between the answer and the confidence; Multi-RLCR: at the end);
    the RLVR methods have none. Other `options` are `AnswerFormat` fields (`require_think`, `layout`, ...).

    >>> rlcr = method_format("rlcr")
    >>> rlcr.parse("<think> t </think> <answer> Paris </answer> <analysis> sure </analysis> "
    ...            "<confidence> 0.9 </confidence>").format_ok
    True
    """
    method = _method(method)
    k = num_candidates if method.is_multi else 1
    analysis = method.with_confidence if with_analysis is None else with_analysis
    return AnswerFormat(
        num_candidates=k, with_confidence=method.with_confidence, with_analysis=analysis, **options
    )


def preset(
    method: Method | str, num_candidates: int = 3, *, multi_gold: bool = False, **format_options: Any
) -> tuple[AnswerFormat, RewardSpec]:
    """Format and reward spec of a method, as published; `format_options` go to `method_format`."""
    return method_format(method, num_candidates, **format_options), method_spec(method, multi_gold=multi_gold)


def _method(method: Method | str) -> Method:
    try:
        return Method(method)
    except ValueError:
        raise ValueError(f"unknown method {method!r}; choose one of {[m.value for m in Method]}") from None
