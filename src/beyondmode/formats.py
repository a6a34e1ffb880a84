"""The answer format: one object renders the prompt instructions and parses completions.

Default multi-answer format (K = 3, confidences on, interleaved layout):

    <think> free reasoning </think>
    <answer1> ... </answer1> <confidence1> 0.45 </confidence1>
    <answer2> ... </answer2> <confidence2> 0.30 </confidence2>
    <answer3> ... </answer3> <confidence3> 0.10 </confidence3>
    <analysis> optional uncertainty analysis </analysis>

With K = 1 the tags are plain `<answer>` / `<confidence>`. `parse` never raises: malformed output is
data, reported as `Violation` codes, and whatever answers can be recovered are still returned (lenient
reading) so that metrics can be reported both strictly and leniently.

>>> fmt = AnswerFormat(num_candidates=2)
>>> parsed = fmt.parse("<think> fever </think> <answer1> flu </answer1> <confidence1> 60% </confidence1>"
...                    " <answer2> cold </answer2> <confidence2> .3 </confidence2>")
>>> parsed.format_ok, parsed.texts, parsed.confidences
(True, ('flu', 'cold'), (0.6, 0.3))
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any

from beyondmode.types import Candidate, ParsedResponse, Violation

FORMAT_VERSION = 3
"""Bumped whenever a change makes the same text parse differently (2: the published RLCR analysis
position; slot numbers are ASCII digits only; 3: completions over `max_chars` are `too_long`)."""

DEFAULT_MAX_CHARS = 200_000
"""`AnswerFormat.max_chars` by default: about 50,000 tokens, past any completion budget the presets set,
and short enough that the slowest hostile shape parses and scores in well under 100 ms."""

# Every pattern here runs in linear time on any input: character classes that cannot overlap their
# neighbours, no nested quantifiers, no lazy `.*?` before a variable-length tail (the code fence is read
# by `_unwrap_fence` without a regex for that reason). `tests/test_hostile_completions.py` and
# `bench/bench_parse_hostile.py` feed them hostile shapes up to 1 MB.
_TAG = re.compile(r"<(/?)(think|analysis|answer|confidence)([0-9]*)>")  # ASCII slot digits only
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_FENCE_INFO = re.compile(r"[\w+.-]*[ \t]*")
_CACHED_LENGTH = 64
"""Confidences longer than this are read without the memo (hostile text cannot fill it)."""

_SLOT_NAMES = ("answer", "confidence")


class Layout(StrEnum):
    """Where the confidences go: after each answer (interleaved) or all after the answers (split)."""

    INTERLEAVED = "interleaved"
    SPLIT = "split"


def parse_confidence(raw: str) -> tuple[float | None, Violation | None]:
    """Read a stated confidence: `0.4`, `.4`, `40%` (and `1`, `0`, `4e-1`).

    Returns the value in [0, 1] and no violation, or None and the violation.

    >>> parse_confidence(" 40% ")
    (0.4, None)
    >>> parse_confidence("1.5")
    (None, <Violation.CONFIDENCE_OUT_OF_RANGE: 'confidence_out_of_range'>)
    """
    if len(raw) <= _CACHED_LENGTH:
        return _parse_confidence_cached(raw)
    return _parse_confidence(raw)


@lru_cache(maxsize=1 << 14)
def _parse_confidence_cached(raw: str) -> tuple[float | None, Violation | None]:
    return _parse_confidence(raw)


def _parse_confidence(raw: str) -> tuple[float | None, Violation | None]:
    text = raw.strip()
    percent = text.endswith("%")
    if percent:
        text = text[:-1].rstrip()
    if _NUMBER.fullmatch(text):
        value = float(text)
        if percent:
            value /= 100.0
        if 0.0 <= value <= 1.0:
            return value, None
        if math.isfinite(value):
            return None, Violation.CONFIDENCE_OUT_OF_RANGE
        return None, Violation.CONFIDENCE_NOT_FINITE
    if text.lower() in _NON_FINITE:
        return None, Violation.CONFIDENCE_NOT_FINITE
    return None, Violation.CONFIDENCE_NOT_NUMBER


def _unwrap_fence(text: str) -> str:
    """The body of a fenced block that is the whole (stripped) text, else the text unchanged.

    Reads ```` ```lang ```` + newline + body + optional newline and spaces + ```` ``` ```` by slicing,
    in linear time (the equivalent lazy regex was quadratic on a long whitespace run).

    >>> _unwrap_fence("```python\\ndef f(): pass\\n```")
    'def f(): pass'
    """
    if not text.startswith("```") or not text.endswith("```"):
        return text
    newline = text.find("\n", 3)
    if newline < 0 or newline + 1 > len(text) - 3 or not _FENCE_INFO.fullmatch(text, 3, newline):
        return text
    body = text[newline + 1 : len(text) - 3].rstrip(" \t")
    return body[:-1] if body.endswith("\n") else body


@dataclass(frozen=True)  # no slots: derived lookup tables live in __dict__, outside the fields
class AnswerFormat:
    """A format variant: K slots, confidences on/off, think required or optional, analysis, layout.

    Fields:
        num_candidates: K, the number of answer slots (1 gives plain `<answer>` tags).
        with_confidence: each answer carries a stated confidence (RLCR variants).
        require_think: a `<think>` block is required (it is always allowed).
        with_analysis: an optional `<analysis>` block is allowed: at the end (the published Multi-RLCR
            layout) or, where every confidence follows every answer (K = 1, or the split layout), between
            the answers and the confidences (the published RLCR layout). `render` writes it where the
            published formats do: before the confidence with K = 1 and confidences, at the end otherwise.
        layout: interleaved (`answer1 confidence1 answer2 ...`) or split (all answers, then confidences).
        allow_text_outside: text outside the tags is tolerated instead of being a violation.
        confidence_decimals: decimals written by `render`.
        min_candidates: the fewest answers a well-formed completion may list (None: K, every slot). With
            fewer than K the format is "up to K" (adaptive K): the model lists answers in slots 1..n,
            n >= min_candidates, each with its confidence where confidences are on.
        max_chars: a completion longer than this is `too_long` (format 0) and only its first `max_chars`
            characters are read, so parsing and grading take bounded time on any input (0: no limit).
    """

    num_candidates: int = 3
    with_confidence: bool = True
    require_think: bool = True
    with_analysis: bool = False
    layout: Layout = Layout.INTERLEAVED
    allow_text_outside: bool = False
    confidence_decimals: int = 2
    max_chars: int = DEFAULT_MAX_CHARS
    min_candidates: int | None = None

    def __post_init__(self) -> None:
        if self.num_candidates < 1:
            raise ValueError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if not 0 <= self.confidence_decimals <= 6:
            raise ValueError(f"confidence_decimals must be in 0..6, got {self.confidence_decimals}")
        if self.min_candidates is not None and not 1 <= self.min_candidates <= self.num_candidates:
            raise ValueError(
                f"min_candidates must be in 1..num_candidates ({self.num_candidates}), got {self.min_candidates}"
            )
        if self.max_chars < 0:
            raise ValueError(f"max_chars must be >= 0 (0: no limit), got {self.max_chars}")
        if self.layout not in tuple(Layout):
            raise ValueError(f"layout must be one of {[m.value for m in Layout]}, got {self.layout!r}")
        object.__setattr__(self, "layout", Layout(self.layout))
        ranks = {key: rank for rank, key in enumerate(self._slot_order(), start=1)}
        object.__setattr__(self, "_ranks", ranks)
        middle = None
        if self.with_confidence and (self.num_candidates == 1 or self.layout is Layout.SPLIT):
            middle = self.num_candidates + 0.5  # after the last answer, before the first confidence
        object.__setattr__(self, "_analysis_middle_rank", middle)
        object.__setattr__(self, "_well_formed", self._well_formed_pattern())

    @property
    def fewest_candidates(self) -> int:
        """The fewest answers a well-formed completion lists: `min_candidates`, or K."""
        return self.num_candidates if self.min_candidates is None else self.min_candidates

    # ----------------------------------------------------------------------------------------- tags
    def tag(self, name: str, slot: int) -> str:
        """The tag name of `name` ("answer" or "confidence") for 1-based `slot`."""
        return name if self.num_candidates == 1 else f"{name}{slot}"

    def _slot_order(self) -> list[tuple[str, int]]:
        slots = range(1, self.num_candidates + 1)
        if not self.with_confidence:
            return [("answer", i) for i in slots]
        if self.layout is Layout.SPLIT:
            return [("answer", i) for i in slots] + [("confidence", i) for i in slots]
        return [(name, i) for i in slots for name in _SLOT_NAMES]

    # ---------------------------------------------------------------------------------- rendering
    def render(
        self, candidates: Sequence[Candidate | str], think: str | None = None, analysis: str | None = None
    ) -> str:
        """Write the completion that this format expects for the given candidates.

        >>> AnswerFormat(num_candidates=1, with_confidence=False).render(["flu"], think="fever")
        '<think> fever </think>\\n<answer> flu </answer>'
        """
        if not self.fewest_candidates <= len(candidates) <= self.num_candidates:
            needed = (
                str(self.num_candidates)
                if self.fewest_candidates == self.num_candidates
                else f"{self.fewest_candidates} to {self.num_candidates}"
            )
            raise ValueError(f"render needs {needed} candidates, got {len(candidates)}")
        items = [c if isinstance(c, Candidate) else Candidate(c) for c in candidates]
        parts: list[str] = []
        if think is not None or self.require_think:
            parts.append(f"<think> {think or ''} </think>".replace("  ", " "))
        analysis_block = (
            f"<analysis> {analysis} </analysis>" if analysis is not None and self.with_analysis else None
        )
        # the published RLCR layout: answer, analysis, confidence; otherwise the analysis comes last
        analysis_first = self.with_confidence and self.num_candidates == 1
        line: list[str] = []
        for name, slot in self._slot_order():
            if slot > len(items):
                continue
            tag = self.tag(name, slot)
            if name == "answer":
                if line and self.layout is Layout.INTERLEAVED:
                    parts.append(" ".join(line))
                    line = []
                line.append(f"<{tag}> {items[slot - 1].text} </{tag}>")
            else:
                if analysis_block is not None and analysis_first:
                    parts += [" ".join(line), analysis_block]
                    line, analysis_block = [], None
                line.append(f"<{tag}> {self._confidence_text(items[slot - 1])} </{tag}>")
        parts.append(" ".join(line))
        if analysis_block is not None:
            parts.append(analysis_block)
        return "\n".join(parts)

    def _confidence_text(self, candidate: Candidate) -> str:
        if candidate.confidence_raw is not None:
            return candidate.confidence_raw
        if candidate.confidence is None:
            raise ValueError(f"candidate {candidate.text!r} has no confidence to render")
        return f"{candidate.confidence:.{self.confidence_decimals}f}"

    # ------------------------------------------------------------------------------- instructions
    def instructions(self, task_sentence: str = "") -> str:
        """The format instructions for the prompt, after the task's own domain sentence.

        >>> print(AnswerFormat(num_candidates=1, with_confidence=False, require_think=False).instructions())
        Write your final answer inside <answer> </answer>. Write nothing outside these tags.
        """
        k = self.num_candidates
        sentences = [task_sentence.strip()] if task_sentence.strip() else []
        if self.require_think:
            sentences.append("First reason briefly inside <think> </think>.")
        if k == 1:
            sentences.append("Write your final answer inside <answer> </answer>.")
            if self.with_confidence:
                sentences.append(
                    "Then state the probability that your answer is correct, a number between 0 and 1, "
                    "inside <confidence> </confidence>."
                )
        elif self.fewest_candidates < k:
            fewest = self.fewest_candidates
            sentences.append(
                f"Give between {fewest} and {k} distinct answers (only those worth listing), the most likely "
                f"first, each inside its own tags <answer1> </answer1>, <answer2> </answer2> and so on, "
                f"up to <answer{k}> </answer{k}>."
            )
        else:
            sentences.append(
                f"Give {k} distinct answers, the most likely first, each inside its own tags "
                f"<answer1> </answer1> to <answer{k}> </answer{k}>."
            )
            if self.with_confidence:
                where = "after each answer" if self.layout is Layout.INTERLEAVED else "after all the answers"
                last = "the last one" if self.fewest_candidates < k else f"<confidence{k}> </confidence{k}>"
                sentences.append(
                    f"{where.capitalize()}, state the probability that each answer is correct, a number "
                    f"between 0 and 1, inside <confidence1> </confidence1> to {last}."
                )
        if self.with_analysis and self.with_confidence and k == 1:
            sentences.append(
                "Between the answer and the confidence you may write a short analysis of your uncertainty "
                "inside <analysis> </analysis>."
            )
        elif self.with_analysis:
            sentences.append(
                "You may end with a short analysis of your uncertainty inside <analysis> </analysis>."
            )
        if not self.allow_text_outside:
            sentences.append("Write nothing outside these tags.")
        skeleton = self._skeleton() if k > 1 or self.with_confidence else ""
        text = " ".join(sentences)
        return f"{text}\nFormat:\n{skeleton}" if skeleton else text

    def _skeleton(self) -> str:
        placeholders = [Candidate("...", confidence_raw="...") for _ in range(self.num_candidates)]
        return self.render(placeholders, think="..." if self.require_think else None)

    # ------------------------------------------------------------------------------------ parsing
    def parse(self, text: str) -> ParsedResponse:
        """Parse a completion; never raises. See the module docstring for the format.

        >>> parsed = AnswerFormat(num_candidates=1, max_chars=40).parse("<think> </think> <answer> flu "
        ...                                                             "</answer> <confidence> 1 </confidence>")
        >>> parsed.texts, [str(v) for v in parsed.violations]
        (('flu',), ['missing_confidence', 'too_long'])
        """
        if not isinstance(text, str):
            return ParsedResponse((), (Violation.MISSING_ANSWER,), repr(text))
        if self.max_chars and len(text) > self.max_chars:
            head = self.parse(text[: self.max_chars])
            return replace(head, violations=(*head.violations, Violation.TOO_LONG), raw=text)
        if self._well_formed is not None:
            match = self._well_formed.fullmatch(text)
            if match is not None:
                return self._parse_well_formed(text, match)
        return self.parse_general(text)

    def _well_formed_pattern(self) -> re.Pattern[str] | None:
        """A regex for the exact expected tag sequence with no "<" inside blocks (the common case).

        It only decides the tag structure; the contents go through the same candidate reading as the
        general parser, and a test checks that both give identical results.
        """
        if self.allow_text_outside:
            return None
        block = r"<{0}>([^<]*)</{0}>\s*"
        think = block.format("think")
        analysis = f"(?:{block.format('analysis')})?"
        parts = [r"\s*", think if self.require_think else f"(?:{think})?"]
        fields: list[tuple[str, int]] = [("think", 0)]
        for name, slot in self._slot_order():
            if (
                self.with_analysis
                and self._analysis_middle_rank is not None
                and (name, slot) == ("confidence", 1)
            ):
                parts.append(analysis)
                fields.append(("analysis", 0))
            parts.append(block.format(self.tag(name, slot)))
            fields.append((name, slot))
        if self.with_analysis:
            parts.append(analysis)
            fields.append(("analysis", 0))
        object.__setattr__(self, "_well_formed_fields", tuple(fields))
        return re.compile("".join(parts))

    def _parse_well_formed(self, text: str, match: re.Match[str]) -> ParsedResponse:
        think: str | None = None
        analyses: list[str] = []
        answers: dict[int, str] = {}
        confidences: dict[int, tuple[str, int]] = {}
        for group, ((name, slot), value) in enumerate(
            zip(self._well_formed_fields, match.groups(), strict=True)
        ):
            if value is None:
                continue
            if name == "think":
                think = value.strip()
            elif name == "analysis":
                analyses.append(value.strip())
            elif name == "answer":
                answers[slot] = value
            else:
                confidences[slot] = (value, match.start(group + 1))
        if len(analyses) > 1:  # in both allowed places: a duplicate, which the general parser reports
            return self.parse_general(text)
        analysis = analyses[0] if analyses else None
        violations: list[Violation] = []
        candidates = self._candidates(answers, confidences, violations)
        found = tuple(dict.fromkeys(violations)) if violations else ()
        return ParsedResponse(candidates, found, text, think, analysis)

    def parse_general(self, text: str) -> ParsedResponse:
        """The general parser: any text, every violation. `parse` uses it whenever the fast path fails."""
        violations: list[Violation] = []
        blocks = self._blocks(text, violations)
        expected_rank = self._ranks
        answers: dict[int, str] = {}
        confidences: dict[int, tuple[str, int]] = {}
        think: str | None = None
        analysis: str | None = None
        last_rank: float = -1
        for name, number, start, end in blocks:
            content = text[start:end]
            if name == "think":
                if number:
                    violations.append(Violation.UNEXPECTED_TAG)
                elif think is not None:
                    violations.append(Violation.DUPLICATE_SLOT)
                else:
                    think = content.strip()
                    if last_rank > 0:
                        violations.append(Violation.OUT_OF_ORDER)
                    last_rank = max(last_rank, 0)
                continue
            if name == "analysis":
                if number or not self.with_analysis:
                    violations.append(Violation.UNEXPECTED_TAG)
                elif analysis is not None:
                    violations.append(Violation.DUPLICATE_SLOT)
                else:
                    analysis = content.strip()
                    middle = self._analysis_middle_rank
                    last_rank = (
                        middle if middle is not None and last_rank < middle else len(expected_rank) + 1
                    )
                continue
            slot = self._slot_number(number, violations)
            if slot is None:
                continue
            if name == "confidence" and not self.with_confidence:
                violations.append(Violation.UNEXPECTED_TAG)
                continue
            target: dict[int, Any] = answers if name == "answer" else confidences
            if slot in target:
                violations.append(Violation.DUPLICATE_SLOT)
                continue
            target[slot] = content if name == "answer" else (content, start)
            rank = expected_rank[(name, slot)]
            if rank < last_rank:
                violations.append(Violation.OUT_OF_ORDER)
            last_rank = rank
        if self.require_think and think is None:
            violations.append(Violation.MISSING_THINK)
        self._count_violations(answers, confidences, violations)
        candidates = self._candidates(answers, confidences, violations)
        return ParsedResponse(candidates, tuple(dict.fromkeys(violations)), text, think, analysis)

    def _count_violations(
        self, answers: dict[int, Any], confidences: dict[int, Any], violations: list[Violation]
    ) -> None:
        """Every slot filled (K answers, K confidences); "up to K": slots 1..n, n >= min_candidates, a
        confidence for each listed answer and none for an unlisted slot."""
        k = self.num_candidates
        if self.fewest_candidates == k:
            if len(answers) < k:
                violations.append(Violation.MISSING_ANSWER)
            if self.with_confidence and len(confidences) < k:
                violations.append(Violation.MISSING_CONFIDENCE)
            return
        listed = len(answers)
        if listed < self.fewest_candidates or (answers and max(answers) != listed):
            violations.append(Violation.MISSING_ANSWER)  # too few, or a gap (answer3 without answer2)
        if self.with_confidence:
            if any(slot not in confidences for slot in answers):
                violations.append(Violation.MISSING_CONFIDENCE)
            if any(slot not in answers for slot in confidences):
                violations.append(Violation.MISSING_ANSWER)

    def _slot_number(self, number: str, violations: list[Violation]) -> int | None:
        if self.num_candidates == 1:
            if number:
                violations.append(Violation.UNEXPECTED_TAG)
                return None
            return 1
        if not number:
            violations.append(Violation.UNEXPECTED_TAG)
            return None
        if number[0] == "0" or len(number) > len(str(self.num_candidates)):  # int() of 5,000 digits raises
            violations.append(Violation.EXTRA_SLOT)
            return None
        slot = int(number)
        if not 1 <= slot <= self.num_candidates:
            violations.append(Violation.EXTRA_SLOT)
            return None
        return slot

    def _candidates(
        self, answers: dict[int, str], confidences: dict[int, tuple[str, int]], violations: list[Violation]
    ) -> tuple[Candidate, ...]:
        """One candidate per answer slot, in slot order; `confidences` maps a slot to its content and
        the content's start offset in the completion (for `Candidate.confidence_span`)."""
        candidates: list[Candidate] = []
        for slot in sorted(answers):
            answer = _unwrap_fence(answers[slot].strip())
            if not answer:
                violations.append(Violation.EMPTY_ANSWER)
            value: float | None = None
            raw: str | None = None
            span: tuple[int, int] | None = None
            if slot in confidences:
                content, offset = confidences[slot]
                value, problem = parse_confidence(content)
                if problem is not None:
                    violations.append(problem)
                raw = content.strip()
                if raw:
                    start = offset + len(content) - len(content.lstrip())
                    span = (start, start + len(raw))
            candidates.append(Candidate(answer, value, raw, slot=slot, confidence_span=span))
        return tuple(candidates)

    def _blocks(self, text: str, violations: list[Violation]) -> list[tuple[str, str, int, int]]:
        """Split `text` into (name, number, start, end) blocks, content `text[start:end]`; record
        tag-structure violations.

        `_TAG` finds only our own tags (in C); anything else that looks like markup (`<sub>`, `a < b`)
        stays part of the text around it. Contents are slices of `text`, never built by concatenation,
        so the work is linear in the length of `text` and Python only runs once per real tag.
        """
        blocks: list[tuple[str, str, int, int]] = []
        check_outside = not self.allow_text_outside
        open_name: str | None = None
        open_number = ""
        start = 0  # where the current outside text, or the open block's content, begins
        for tag in _TAG.finditer(text):
            closing, name, number = tag.groups()
            tag_start = tag.start()
            if open_name is None:
                if check_outside and _has_text(text, start, tag_start):
                    violations.append(Violation.TEXT_OUTSIDE_TAGS)
                if closing:
                    violations.append(Violation.UNOPENED_TAG)
                else:
                    open_name, open_number = name, number
            else:
                if not closing:
                    violations.append(Violation.NESTED_TAG)
                elif name != open_name or number != open_number:
                    violations.append(Violation.UNCLOSED_TAG)
                blocks.append((open_name, open_number, start, tag_start))
                open_name, open_number = (None, "") if closing else (name, number)
            start = tag.end()
        if open_name is not None:
            violations.append(Violation.UNCLOSED_TAG)
            blocks.append((open_name, open_number, start, len(text)))
        elif check_outside and _has_text(text, start, len(text)):
            violations.append(Violation.TEXT_OUTSIDE_TAGS)
        return blocks


def _has_text(text: str, start: int, end: int) -> bool:
    """`text[start:end]` holds something other than whitespace."""
    return start < end and not text[start:end].isspace()
