"""Graded generations: each completion parsed and graded once (through `Scorer`), candidates ranked.

A `ScoredGeneration` keeps the candidates in answer order (highest confidence first where there are
confidences, slot order otherwise), with their hits, matched gold elements, canonical keys and, on tasks
with an exact posterior, each candidate's true probability P(a_i in Y* | x).

>>> from beyondmode.evaluate.methods import build_methods
>>> from beyondmode.evaluate.settings import EvalSettings
>>> from beyondmode.evaluate.backends.base import Generation
>>> from beyondmode.types import Example
>>> method = build_methods(EvalSettings(methods=("multi_answer",), num_candidates=2, require_think=False))[0]
>>> example = Example("e1", ({"role": "user", "content": "?"},), (("flu",),))
>>> text = ("<answer1> cold </answer1> <confidence1> 0.3 </confidence1>"
...         " <answer2> flu </answer2> <confidence2> 0.6 </confidence2>")
>>> scored = score_generation(method, example, 0, Generation(text, 12, 0.5))
>>> scored.texts, scored.hits, scored.matched
(('flu', 'cold'), (1.0, 0.0), (0, None))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from beyondmode.evaluate.backends.base import Generation
from beyondmode.evaluate.methods import EvalMethod
from beyondmode.grading import get_grader, grade_expected, grade_labels
from beyondmode.metrics import oracle_answer_set, rank_by_confidence
from beyondmode.scoring import Scorer
from beyondmode.types import Example

ORACLE = "oracle"


@dataclass(frozen=True, slots=True)
class ScoredGeneration:
    """One graded generation; candidate tuples are in answer order (`slots` gives the 1-based slot)."""

    sample: int
    texts: tuple[str, ...]
    confidences: tuple[float | None, ...]
    hits: tuple[float, ...]
    matched: tuple[int | None, ...]
    keys: tuple[str, ...]
    slots: tuple[int, ...]
    true_probabilities: tuple[float, ...] | None
    format_ok: bool
    violations: tuple[str, ...]
    num_tokens: int
    seconds: float
    num_candidates: int
    terms: Mapping[str, float] = field(default_factory=dict)


def score_generation(
    method: EvalMethod, example: Example, sample: int, generation: Generation
) -> ScoredGeneration:
    """Parse and grade one completion (label mode) and rank its candidates by confidence."""
    scorer = Scorer(method.answer_format, method.reward_spec, get_grader(example.grader))
    scored = scorer.score(generation.text, example.gold)
    parsed = scored.parsed
    order = rank_by_confidence(parsed.confidences)
    true_probabilities = None
    if example.posterior is not None:
        expected = grade_expected(parsed.texts, example.posterior, scorer.grader, example.gold, order).hits
        true_probabilities = tuple(expected[i] for i in order)
    matched = scored.grades.matched
    return ScoredGeneration(
        sample=sample,
        texts=tuple(parsed.texts[i] for i in order),
        confidences=tuple(parsed.confidences[i] for i in order),
        hits=tuple(scored.grades.hits[i] for i in order),
        matched=tuple(matched[i] if isinstance(matched[i], int) else None for i in order),
        keys=tuple(scorer.grader.canonical(parsed.texts[i]) for i in order),
        slots=tuple(i + 1 for i in order),
        true_probabilities=true_probabilities,
        format_ok=parsed.format_ok,
        violations=tuple(str(v) for v in parsed.violations),
        num_tokens=generation.num_tokens,
        seconds=generation.seconds,
        num_candidates=method.answer_format.num_candidates,
        terms=dict(scored.breakdown.terms),
    )


def oracle_generations(example: Example, num_candidates: int, max_answers: int) -> list[ScoredGeneration]:
    """The Bayes-optimal answers of an example with a posterior, as pseudo-generations of K answers.

    Generation 0 is the Bayes-optimal set (top-K of the posterior, confidences = posterior); generation g
    holds ranks gK+1..(g+1)K, so that the first k answers are the top-k of the posterior (the recall@k
    ceiling). Costs are zero. Returns [] for an example without a posterior.
    """
    if example.posterior is None:
        return []
    grader = get_grader(example.grader)
    ranked = oracle_answer_set(example.posterior, max_answers)
    texts = [text for text, _ in ranked]
    grades = grade_labels(texts, example.gold, grader)
    result = []
    for sample in range(math.ceil(max_answers / num_candidates)):
        part = slice(sample * num_candidates, (sample + 1) * num_candidates)
        chunk = ranked[part]
        if not chunk:
            break
        probabilities = tuple(float(p) for _, p in chunk)
        result.append(
            ScoredGeneration(
                sample=sample,
                texts=tuple(t for t, _ in chunk),
                confidences=probabilities,
                hits=grades.hits[part],
                matched=tuple(m if isinstance(m, int) else None for m in grades.matched[part]),
                keys=tuple(grader.canonical(t) for t, _ in chunk),
                slots=tuple(range(1, len(chunk) + 1)),
                true_probabilities=probabilities,
                format_ok=True,
                violations=(),
                num_tokens=0,
                seconds=0.0,
                num_candidates=num_candidates,
            )
        )
    return result
