"""Math equivalence through math-verify (optional extra `beyondmode[math]`), on any thread.

math-verify bounds its parser and comparison with `signal.alarm`, which only works on the main thread:
called from a worker thread (a thread-pool reward server, verl's reward workers) it raises, and a
grader that read that as "not equal" scored every non-literal answer 0. So the grader passes
`parsing_timeout=None` / `timeout_seconds=None` (math-verify then uses no signals, see
`math_verify.utils.timeout`) off the main thread, and keeps math-verify's 5 s bounds on the main thread.
Off the main thread nothing can interrupt a pathological expression: run such servers with processes
if that matters.

A grader failure (a math-verify timeout, or an error that escapes it) is "not equal" for that pair and
is counted: `MathGrader.failures` (total) and `failure_counts` (by reason); the first of each reason is
logged at WARNING, and the TRL reward functions log the per-batch count as `grading/failures`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from functools import lru_cache
from typing import Any

from beyondmode.grading.base import Gold
from beyondmode.grading.exact import normalize_answer

logger = logging.getLogger(__name__)

MAIN_THREAD_TIMEOUT_S = 5
"""math-verify's own bound (seconds) on parsing and on each comparison, where signals work."""


class MathGrader:
    """A candidate hits a gold element when math-verify finds them equal (e.g. "1/2" and "0.5").

    Exact normalized matches are accepted without calling math-verify. Thread-safe: counters are
    guarded by a lock, and the parse cache is shared.
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
        self._lock = threading.Lock()
        self.failure_counts: Counter[str] = Counter()
        _watch_math_verify_timeouts()

    @property
    def failures(self) -> int:
        """Pairs whose comparison failed (timeouts and errors) since this grader was made."""
        with self._lock:
            return sum(self.failure_counts.values())

    def record_failure(self, reason: str, detail: str) -> None:
        with self._lock:
            self.failure_counts[reason] += 1
            first = self.failure_counts[reason] == 1
        log = logger.warning if first else logger.info
        log("math grader failure (%s), scored as not equal: %s", reason, detail)

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


def _timeout() -> int | None:
    """math-verify's timeout for this thread: signals (and so timeouts) only work on the main thread."""
    return MAIN_THREAD_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=1 << 14)
def _parse(math_verify: Any, text: str, timeout: int | None) -> tuple:
    return tuple(math_verify.parse(f"${text}$", parsing_timeout=timeout))


def _verify(grader: MathGrader, gold: str, candidate: str) -> bool:
    math_verify = grader._math_verify
    timeout = _timeout()
    _ACTIVE.grader = grader
    try:
        return bool(
            math_verify.verify(
                list(_parse(math_verify, gold, timeout)),
                list(_parse(math_verify, candidate, timeout)),
                timeout_seconds=timeout,
            )
        )
    except (ValueError, TypeError, RecursionError, TimeoutError) as error:
        grader.record_failure(type(error).__name__, f"{gold!r} vs {candidate!r}: {error}")
        return False
    finally:
        _ACTIVE.grader = None


class _TimeoutCounter(logging.Filter):
    """Counts the timeouts that math-verify swallows (it logs "Timeout during ..." and returns no
    match) as failures of the grader verifying on this thread; keeps the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        grader = getattr(_ACTIVE, "grader", None)
        if grader is not None and record.getMessage().startswith("Timeout during"):
            grader.record_failure("timeout", record.getMessage())
        return True


_ACTIVE = threading.local()
_COUNTER = _TimeoutCounter()


def _watch_math_verify_timeouts() -> None:
    for name in ("math_verify.parser", "math_verify.grader"):
        target = logging.getLogger(name)
        if _COUNTER not in target.filters:
            target.addFilter(_COUNTER)
