"""Core value types shared by every layer: examples, parsed responses, violations.

Everything here is a frozen dataclass or an enum, so a value can be hashed, cached and passed between
processes (TRL reward workers, verl, the sandbox pool) without surprises.

>>> from beyondmode.types import Candidate, ParsedResponse
>>> parsed = ParsedResponse(candidates=(Candidate("flu", 0.6, "0.6"),), violations=(), raw="...")
>>> parsed.format_ok, parsed.texts, parsed.confidences
(True, ('flu',), (0.6,))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Violation(StrEnum):
    """Stable codes for what is wrong with a completion; each becomes the metric `format/violation/<code>`."""

    MISSING_THINK = "missing_think"
    MISSING_ANSWER = "missing_answer"
    MISSING_CONFIDENCE = "missing_confidence"
    EXTRA_SLOT = "extra_slot"
    DUPLICATE_SLOT = "duplicate_slot"
    UNCLOSED_TAG = "unclosed_tag"
    UNOPENED_TAG = "unopened_tag"
    NESTED_TAG = "nested_tag"
    UNEXPECTED_TAG = "unexpected_tag"
    OUT_OF_ORDER = "out_of_order"
    EMPTY_ANSWER = "empty_answer"
    CONFIDENCE_NOT_NUMBER = "confidence_not_number"
    CONFIDENCE_NOT_FINITE = "confidence_not_finite"
    CONFIDENCE_OUT_OF_RANGE = "confidence_out_of_range"
    TEXT_OUTSIDE_TAGS = "text_outside_tags"
    TOO_LONG = "too_long"


@dataclass(frozen=True, slots=True)
class Candidate:
    """One of the K answers inside a generation.

    `confidence` is the parsed probability in [0, 1], or None when the format has no confidences or the
    stated one is invalid; `confidence_raw` is the text between the confidence tags, as written.

    Where the parser found it: `slot` (1-based; a completion missing `<answer2>` has candidates in slots
    1 and 3) and `confidence_span`, the [start, end) character offsets of the stripped confidence text
    in the parsed completion (None without one), which per-token credit maps to tokens. Both are
    location, not content: they take no part in equality or hashing.
    """

    text: str
    confidence: float | None = None
    confidence_raw: str | None = None
    slot: int | None = field(default=None, compare=False)
    confidence_span: tuple[int, int] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """A completion parsed once; every reward term and metric reads this object.

    `candidates` are in slot order (slot 1 first) and include whatever a lenient reader can recover even
    when the completion violates the format; `violations` lists what is wrong (empty means well formed).
    """

    candidates: tuple[Candidate, ...]
    violations: tuple[Violation, ...]
    raw: str
    think: str | None = None
    analysis: str | None = None

    @property
    def format_ok(self) -> bool:
        return not self.violations

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(c.text for c in self.candidates)

    @property
    def confidences(self) -> tuple[float | None, ...]:
        return tuple(c.confidence for c in self.candidates)


@dataclass(frozen=True, slots=True)
class Example:
    """One task example.

    `gold` holds the accepted answers: one tuple of aliases per gold element (an example whose gold is
    "flu" with alias "influenza" has `gold=(("flu", "influenza"),)`; a multi-gold example has several
    tuples). `posterior`, when the task knows it exactly, maps each possible answer to P(answer is the
    truth | prompt). `prompt` is a list of chat messages ({"role": ..., "content": ...}).
    """

    id: str
    prompt: tuple[Mapping[str, str], ...]
    gold: tuple[tuple[str, ...], ...]
    grader: str = "exact_match"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    posterior: Mapping[str, float] | None = None

    @property
    def gold_names(self) -> tuple[str, ...]:
        """The first (canonical) spelling of each gold element."""
        return tuple(aliases[0] for aliases in self.gold)


def as_gold(gold: Sequence[str | Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """Normalise user-given gold into one alias tuple per gold element.

    A plain string is one gold element with no aliases; a list of strings is one element with aliases.

    >>> as_gold(["Paris", ["NYC", "New York City"]])
    (('Paris',), ('NYC', 'New York City'))
    """
    if isinstance(gold, str):
        raise TypeError(f"gold must be a list of answers, got the string {gold!r}")
    result: list[tuple[str, ...]] = []
    for position, element in enumerate(gold):
        if isinstance(element, str):
            result.append((element,))
        elif isinstance(element, list | tuple) and element and all(isinstance(a, str) for a in element):
            result.append(tuple(element))
        else:
            raise TypeError(
                f"gold[{position}] must be a string or a non-empty list of strings, got {element!r}"
            )
    return tuple(result)
