"""The grader protocol, the registry of graders by name, and grading a whole answer set.

Grading an answer set applies DESIGN section 4's rules once, so that every reward term and metric agrees:
each gold element can be hit at most once, and a candidate that duplicates an earlier one (same
`canonical` form) or hits an already-hit gold element is a miss.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from beyondmode.posterior import Posterior

Gold = tuple[tuple[str, ...], ...]


@runtime_checkable
class Grader(Protocol):
    """Decides equivalence between a candidate and the gold answers of one example."""

    name: str

    def canonical(self, candidate: str) -> str:
        """A key such that two candidates with the same key are the same answer (duplicates)."""
        ...

    def match(self, candidate: str, gold: Gold) -> int | None:
        """Index of the gold element that `candidate` hits, or None."""
        ...


# A grader may set `exclusive_gold = False` when a gold element is a class of answers rather than one
# answer (code: "a program that passes the tests"). Then distinct candidates that hit the same element
# are all hits and do not break uniqueness; duplicates (same `canonical`) still do. Default: True.


@dataclass(frozen=True, slots=True)
class Grades:
    """The verdicts for one answer set.

    `hits[i]` is y_i in [0, 1]: 1/0 in label mode, P(candidate i hits the gold set) in expected mode; it
    is already 0 for a duplicate or a re-hit. `matched[i]` is the gold index (label mode) or answer key
    (expected mode) that candidate i is credited with, or None. `distinct` is True when all candidates
    are distinct after normalization and no two hit the same gold element. `num_gold` is |Y*| (1 for a
    posterior over a single true answer).
    """

    hits: tuple[float, ...]
    matched: tuple[int | str | None, ...]
    distinct: bool
    num_gold: int


def answer_order(confidences: Sequence[float | None]) -> list[int]:
    """Slot indices in answer order: highest confidence first (stable on ties), slot order when any
    confidence is missing. Duplicates and re-hits are resolved in this order, so the candidate that is
    ranked first keeps the credit.

    >>> answer_order([0.2, 0.5, 0.2]), answer_order([0.9, None])
    ([1, 0, 2], [0, 1])
    """
    if any(q is None for q in confidences):
        return list(range(len(confidences)))
    return sorted(range(len(confidences)), key=lambda i: -confidences[i])  # type: ignore[operator]


def grade_labels(
    texts: Sequence[str], gold: Gold, grader: Grader, order: Sequence[int] | None = None
) -> Grades:
    """Grade candidates against gold answers (label mode); results are in slot order.

    `order` (default: slot order) is the order in which duplicates and re-hits are resolved: pass
    `answer_order(confidences)` so that the highest-confidence copy of an answer is the hit.

    >>> from beyondmode.grading import get_grader
    >>> g = grade_labels(["flu", "Flu.", "measles"], (("flu",), ("measles",)), get_grader("exact_match"))
    >>> g.hits, g.matched, g.distinct
    ((1.0, 0.0, 1.0), (0, None, 1), False)
    >>> grade_labels(["flu", "flu"], (("flu",),), get_grader("exact_match"), order=[1, 0]).hits
    (0.0, 1.0)
    """
    order = range(len(texts)) if order is None else order
    if sorted(order) != list(range(len(texts))):
        raise ValueError(
            f"order must be a permutation of the {len(texts)} candidate indices, got {list(order)}"
        )
    seen: set[str] = set()
    taken: set[int] = set()
    hits: list[float] = [0.0] * len(texts)
    matched: list[int | None] = [None] * len(texts)
    distinct = True
    exclusive = getattr(grader, "exclusive_gold", True)
    answer_key = getattr(grader, "answer_key", None)  # code: behaviour on the tests, not the text
    for position in order:
        text = texts[position]
        key = answer_key(text, gold) if answer_key is not None else grader.canonical(text)
        if key in seen:
            distinct = False
            continue
        seen.add(key)
        index = grader.match(text, gold)
        if index is not None and index in taken and exclusive:
            distinct = False
            continue
        if index is not None:
            taken.add(index)
            hits[position] = 1.0
            matched[position] = index
    return Grades(tuple(hits), tuple(matched), distinct, len(gold))


def grade_expected(
    texts: Sequence[str],
    posterior: Mapping[str, float],
    grader: Grader,
    gold: Gold = (),
    order: Sequence[int] | None = None,
) -> Grades:
    """Grade candidates by their probability of being in the gold set under an exact posterior.

    y_i = P(candidate i is in Y* | prompt) (for a single true answer, P(candidate i is the truth)), with
    duplicates and re-hits scored 0, exactly as a label would score them. Each posterior answer also
    accepts its aliases: those a `beyondmode.posterior.Posterior` carries for EVERY answer, so the
    verdicts do not depend on which label was drawn, and those of the gold element it names (all that a
    plain mapping without an alias map offers: then an alias of an answer other than the drawn label
    earns nothing, so such rewards depend on the label). `num_gold`
    is the expected size of Y*, sum_a P(a in Y*) rounded (1 for a posterior over one true answer).
    `order` is as in `grade_labels`. With the code grader the posterior is over programs and a candidate
    earns its behaviour class's mass (`grading.behaviour.grade_behaviours`).

    >>> from beyondmode.grading import get_grader
    >>> from beyondmode.posterior import Posterior
    >>> post = Posterior({"influenza": 0.7, "cold": 0.3}, {"influenza": ("flu",), "cold": ("coryza",)})
    >>> grade_expected(["coryza", "flu", "cold"], post, get_grader("exact_match")).hits
    (0.3, 0.7, 0.0)
    """
    if getattr(grader, "expected_by_behaviour", False):  # the code grader: keys are programs
        from beyondmode.grading.behaviour import grade_behaviours  # here: grading.code imports this module

        return grade_behaviours(texts, posterior, gold, grader, order)  # type: ignore[arg-type]
    keys = tuple(posterior)
    labels = grade_labels(texts, _posterior_as_gold(posterior, gold, grader), grader, order)
    hits = tuple(0.0 if index is None else float(posterior[keys[index]]) for index in labels.matched)
    matched = tuple(None if index is None else keys[index] for index in labels.matched)
    num_gold = max(1, round(sum(posterior.values())))
    return Grades(hits, matched, labels.distinct, num_gold)


def _posterior_as_gold(posterior: Mapping[str, float], gold: Gold, grader: Grader) -> Gold:
    """One gold element per posterior answer: the answer, its own aliases, and those of the gold element
    it names (the only aliases a plain mapping or an older export without an alias map can offer)."""
    result = []
    for key in posterior:
        spellings = [key, *(posterior.aliases_of(key) if isinstance(posterior, Posterior) else ())]
        index = grader.match(key, gold) if gold else None
        if index is not None:
            spellings.extend(gold[index])
        result.append(tuple(dict.fromkeys(spellings)))
    return tuple(result)


_REGISTRY: dict[str, Callable[[], Grader]] = {}
_INSTANCES: dict[str, Grader] = {}


def register_grader(name: str, factory: Callable[[], Grader]) -> None:
    """Make a grader available by name (tasks refer to graders by name)."""
    _REGISTRY[name] = factory
    _INSTANCES.pop(name, None)


def get_grader(name: str) -> Grader:
    """The shared grader instance for `name`; raises ValueError listing the known names."""
    if name not in _INSTANCES:
        if name not in _REGISTRY:
            _register_builtin()
        if name not in _REGISTRY:
            raise ValueError(f"unknown grader {name!r}; known graders: {sorted(_REGISTRY)}")
        _INSTANCES[name] = _REGISTRY[name]()
    return _INSTANCES[name]


def _register_builtin() -> None:
    from beyondmode.grading.code import CodeGrader
    from beyondmode.grading.exact import ExactMatchGrader
    from beyondmode.grading.symbolic import MathGrader

    _REGISTRY.setdefault("exact_match", ExactMatchGrader)
    _REGISTRY.setdefault("math", MathGrader)
    _REGISTRY.setdefault("code", CodeGrader)
