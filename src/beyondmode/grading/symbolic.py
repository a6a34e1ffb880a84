"""Math equivalence through math-verify (optional extra `beyondmode[math]`)."""

from __future__ import annotations

import logging
from functools import lru_cache

from beyondmode.grading.base import Gold
from beyondmode.grading.exact import normalize_answer

logger = logging.getLogger(__name__)


class MathGrader:
    """A candidate hits a gold element when math-verify finds them equal (e.g. "1/2" and "0.5").

    Exact normalized matches are accepted without calling math-verify. A math-verify failure on one
    pair (its parser or its timeout) is counted in `failures` and treated as "not equal".
    """

    name = "math"

    def __init__(self) -> None:
        try:
            import math_verify
        except ImportError as error:
            raise ImportError(
                "the 'math' grader needs math-verify: pip install 'beyondmode[math]'"
            ) from error
        self._math_verify = math_verify
        self.failures = 0

    def canonical(self, candidate: str) -> str:
        return normalize_answer(candidate)

    def match(self, candidate: str, gold: Gold) -> int | None:
        key = normalize_answer(candidate)
        if not key:
            return None
        for position, aliases in enumerate(gold):
            for alias in aliases:
                if normalize_answer(alias) == key or self._equivalent(alias, candidate):
                    return position
        return None

    def _equivalent(self, gold: str, candidate: str) -> bool:
        return _verify(self, gold, candidate)


@lru_cache(maxsize=1 << 14)
def _parse(math_verify: object, text: str) -> tuple:
    return tuple(math_verify.parse(f"${text}$"))  # type: ignore[attr-defined]


def _verify(grader: MathGrader, gold: str, candidate: str) -> bool:
    math_verify = grader._math_verify
    try:
        return bool(math_verify.verify(list(_parse(math_verify, gold)), list(_parse(math_verify, candidate))))
    except (ValueError, TypeError, RecursionError, TimeoutError) as error:
        grader.failures += 1
        logger.info("math-verify failed on %r vs %r: %s", gold, candidate, error)
        return False
