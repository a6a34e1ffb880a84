"""Reward callables for TRL's `GRPOTrainer`, on top of `Scorer.score` (the one path from text to reward).

Each callable has a fixed `__name__` (TRL logs `rewards/<name>/mean` and `/std`), pickles, and takes
TRL's keyword arguments: `completions`, the dataset columns `gold` and `posterior` (see
`beyondmode.train.dataset`), and `log_metric` / `log_extra`, which TRL 1.16 passes to every reward
function (`GRPOTrainer._calculate_rewards`). The reward functions of one trainer share a `ScoreCache`,
so each completion is parsed, graded and scored once per batch however many functions read it.

`TotalReward` (weight 1) is the method's reward and also logs, through `log_metric`:
`terms/<term>` (every term's batch mean), `gates/<gate>`, `format/parse_failure` (fraction of
completions that violate the format), `format/violation/<code>` (fraction with that violation) and
`reward/unscorable` (count of completions that could not be scored: no gold answers in label mode, no
posterior in expected mode; they get None, which TRL excludes from the group baseline). With `log_extra`
it adds the column `violations` to the completions table. `TermReward(term)` returns one term, for
zero-weight logging.

>>> from beyondmode.scoring import Scorer
>>> reward = TotalReward(ScoreCache(Scorer.for_method("rlvr")))
>>> reward(completions=["<think> x </think> <answer> flu </answer>", "flu"], gold=[[["flu"]], [["flu"]]])
[1.0, 0.0]
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from beyondmode.posterior import decode_posterior
from beyondmode.rewards import TERM_NAMES
from beyondmode.scoring import RewardMode, ScoredCompletion, Scorer
from beyondmode.types import Violation

logger = logging.getLogger(__name__)


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of chat messages (the last one's content)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        return content if isinstance(content, str) else str(content)
    raise TypeError(f"unexpected completion type {type(completion).__name__}: {completion!r}")


class ScoreCache:
    """Scores a batch once; a second call with the same batch returns the same objects.

    `scored_batches` and `scored_completions` count the work actually done (tests check them).
    """

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.scored_batches = 0
        self.scored_completions = 0
        self._last_key: tuple[Any, ...] | None = None
        self._last: list[ScoredCompletion | None] = []
        self.last_grader_failures = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"scorer": self.scorer, "scored_batches": 0, "scored_completions": 0}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["scorer"])  # type: ignore[misc]

    def score_batch(
        self, completions: Sequence[Any], gold: Sequence[Any], posterior: Sequence[Any] | None = None
    ) -> list[ScoredCompletion | None]:
        texts = tuple(completion_text(c) for c in completions)
        posteriors = list(posterior) if posterior is not None else [None] * len(texts)
        key = (texts, repr(list(gold)), repr(posteriors))
        if key == self._last_key:
            return self._last
        failures_before = grader_failures(self.scorer)
        self.scorer.prefetch(texts, [g if g is not None else () for g in gold])
        self._last = [self._score_one(t, g, p) for t, g, p in zip(texts, gold, posteriors, strict=True)]
        self._last_key = key
        if failures_before is not None:
            self.last_grader_failures = grader_failures(self.scorer) - failures_before  # type: ignore[operator]
        self.scored_batches += 1
        self.scored_completions += len(texts)
        return self._last

    def _score_one(self, text: str, gold: Any, posterior_cell: Any) -> ScoredCompletion | None:
        posterior = decode_posterior(posterior_cell)
        if self.scorer.mode is RewardMode.EXPECTED:
            if not posterior:
                return None
        elif not gold:
            return None
        return self.scorer.score(text, gold, posterior)


class TotalReward:
    """The method's total reward (see `RewardSpec`); logs every term and the format diagnostics."""

    def __init__(self, cache: ScoreCache, name: str = "total") -> None:
        self.cache = cache
        self.__name__ = name

    def __call__(
        self,
        completions: Sequence[Any],
        gold: Sequence[Any],
        posterior: Sequence[Any] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        log_extra: Callable[[str, list[Any]], None] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        scored = self.cache.score_batch(completions, gold, posterior)
        if log_metric is not None:
            for name, value in batch_metrics(scored).items():
                log_metric(name, value)
            if grader_failures(self.cache.scorer) is not None:
                log_metric("grading/failures", float(self.cache.last_grader_failures))
        if log_extra is not None:
            log_extra("violations", [",".join(s.parsed.violations) if s else "unscorable" for s in scored])
        return [s.breakdown.total if s is not None else None for s in scored]


class TermReward:
    """One reward term as its own reward function (use weight 0 to log it as `rewards/<term>/mean`)."""

    def __init__(self, cache: ScoreCache, term: str) -> None:
        if term not in TERM_NAMES:
            raise ValueError(f"unknown reward term {term!r}; known: {TERM_NAMES}")
        self.cache = cache
        self.term = term
        self.__name__ = term

    def __call__(
        self,
        completions: Sequence[Any],
        gold: Sequence[Any],
        posterior: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        scored = self.cache.score_batch(completions, gold, posterior)
        return [s.breakdown.terms[self.term] if s is not None else None for s in scored]


def grader_failures(scorer: Scorer) -> int | None:
    """The grader's failure counter (math-verify timeouts and errors), or None for a grader without one."""
    failures = getattr(scorer.grader, "failures", None)
    return None if failures is None else int(failures)


def batch_metrics(scored: Sequence[ScoredCompletion | None]) -> dict[str, float]:
    """Batch means of every term and gate, the parse-failure rate and the violation rates.

    >>> batch_metrics([None])
    {'reward/unscorable': 1.0}
    """
    valid = [s for s in scored if s is not None]
    metrics: dict[str, float] = {"reward/unscorable": float(len(scored) - len(valid))}
    if not valid:
        return metrics
    n = len(valid)
    for term in TERM_NAMES:
        metrics[f"terms/{term}"] = sum(s.breakdown.terms[term] for s in valid) / n
    for gate in valid[0].breakdown.gates:
        metrics[f"gates/{gate}"] = sum(s.breakdown.gates[gate] for s in valid) / n
    metrics["format/parse_failure"] = sum(not s.parsed.format_ok for s in valid) / n
    violations = Counter(code for s in valid for code in s.parsed.violations)
    for code in Violation:  # every code every batch, so that TRL's per-step averages are over all batches
        metrics[f"format/violation/{code}"] = violations[code] / n
    return metrics


def build_reward_functions(scorer: Scorer, log_terms: bool = True) -> tuple[list[Any], list[float]]:
    """The reward functions and their weights: `total` (1.0) and, with `log_terms`, every term (0.0)."""
    cache = ScoreCache(scorer)
    functions: list[Any] = [TotalReward(cache)]
    if log_terms:
        functions += [TermReward(cache, term) for term in TERM_NAMES]
    return functions, [1.0] + [0.0] * (len(functions) - 1)
