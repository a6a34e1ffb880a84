"""Conformal answer sets from an evaluation run directory (`rows.jsonl`), for every method in it.

How a run's rows become candidate pools (`run_pools`), one per example and method:

- a multi-answer method pools the candidates of its ceil(k/K) generations, each scored by its stated
  confidence, averaged over the generations (`beyondmode.conformal.pool_candidates`, pooling "mean");
- a single-answer sampling method (best-of-k) is scored by sample frequency instead: each sample's answer
  counts 1, so a candidate's score is its share of the k samples (conformal sampling); the number of
  samples can be cut to match another method's generated tokens (`equal_token_samples`);
- the oracle row (tasks with an exact posterior) lists each answer once with its posterior probability
  (pooling "max": the posterior itself).

Candidates that hit the same gold element are one answer (key = the gold element), so aliases merge;
other candidates merge on their normalised text (`beyondmode.grading.exact.normalize_answer`), and a
text that hit gold in any generation of the example keeps that gold key everywhere. A candidate repeated
inside one generation was graded a miss there; it still merges with its gold key when the same text hit
elsewhere, and otherwise stays a separate (non-gold) answer.

>>> rows = [{"example_id": "e1", "method": "m", "sample": 0, "text": "flu", "confidence": 0.7,
...          "matched_gold": "flu", "generation_tokens": 9, "num_gold": 1}]
>>> run_pools(rows, "m")["e1"].scores
(0.7,)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from beyondmode.conformal import (
    CandidatePool,
    PooledCandidate,
    Pooling,
    conformal_risk_control,
    pool_candidates,
    split_conformal,
)
from beyondmode.evaluate.results import ROWS_FILE, load_summary
from beyondmode.evaluate.scored import ORACLE
from beyondmode.grading.exact import normalize_answer

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "example_id",
    "method",
    "sample",
    "text",
    "confidence",
    "matched_gold",
    "generation_tokens",
)


def load_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The candidate rows of an evaluation run; names the file, the line and a missing column."""
    path = Path(run_dir) / ROWS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {run_dir} an evaluation run directory?")
    rows = []
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error})") from None
            missing = [c for c in REQUIRED_COLUMNS if c not in row]
            if missing:
                raise ValueError(f"{path}:{number}: missing column(s) {', '.join(missing)}")
            rows.append(row)
    return rows


def run_pools(
    rows: Iterable[Mapping[str, Any]],
    method: str,
    *,
    frequency: bool = False,
    pooling: Pooling = "mean",
    max_generations: int | None = None,
) -> dict[str, CandidatePool]:
    """One candidate pool per example (in order of first appearance) from the rows of `method`.

    `frequency` scores each sample's answer 1 (sample frequency); `max_generations` keeps samples
    0..max_generations-1 only.
    """
    by_example: dict[str, dict[int, list[Mapping[str, Any]]]] = {}
    num_gold: dict[str, int | None] = {}
    for row in rows:
        if row["method"] != method:
            continue
        if max_generations is not None and row["sample"] >= max_generations:
            continue
        example = str(row["example_id"])
        by_example.setdefault(example, {}).setdefault(int(row["sample"]), []).append(row)
        num_gold[example] = row.get("num_gold")
    if not by_example:
        raise ValueError(f"no rows of method {method!r} in the run")
    pools = {}
    for example, samples in by_example.items():
        generations = _generations(samples, frequency)
        pools[example] = _pool(generations, pooling, num_gold[example])
    return pools


def _generations(
    samples: Mapping[int, Sequence[Mapping[str, Any]]], frequency: bool
) -> list[list[tuple[str, float | None, str | None]]]:
    """(normalised text, confidence, matched gold) per candidate, generation by generation."""
    result = []
    for sample in sorted(samples):
        candidates = []
        for row in samples[sample]:
            if row["text"] is None:  # a generation with no recoverable candidate
                continue
            confidence = 1.0 if frequency else row["confidence"]
            candidates.append((normalize_answer(str(row["text"])), confidence, row["matched_gold"]))
        result.append(candidates)
    return result


def _pool(
    generations: Sequence[Sequence[tuple[str, float | None, str | None]]],
    pooling: Pooling,
    num_gold: int | None,
) -> CandidatePool:
    gold_of_text = {text: gold for gens in generations for text, _, gold in gens if gold is not None}

    def key(text: str, gold: str | None) -> Hashable:
        gold = gold if gold is not None else gold_of_text.get(text)
        return ("gold", gold) if gold is not None else ("text", text)

    pooled = [
        [
            PooledCandidate(key(text, gold), confidence, gold if gold is not None else gold_of_text.get(text))
            for text, confidence, gold in gens
        ]
        for gens in generations
    ]
    return pool_candidates(pooled, pooling, num_gold)


def tokens_per_example(rows: Iterable[Mapping[str, Any]], method: str) -> dict[str, list[int]]:
    """Generated tokens of each generation of `method`, per example (sample order)."""
    tokens: dict[str, dict[int, int]] = {}
    for row in rows:
        if row["method"] == method:
            tokens.setdefault(str(row["example_id"]), {})[int(row["sample"])] = int(row["generation_tokens"])
    return {example: [t for _, t in sorted(samples.items())] for example, samples in tokens.items()}


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """How many single-answer samples cost the multi-answer method's tokens per example."""

    samples: int
    wanted: int
    available: int
    reference_tokens: float
    tokens_per_sample: float

    @property
    def matched(self) -> bool:
        """False when the run holds fewer samples than equal tokens would need (then all are used)."""
        return self.wanted <= self.available

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "wanted_samples": self.wanted,
            "available_samples": self.available,
            "reference_tokens_per_example": self.reference_tokens,
            "tokens_per_sample": self.tokens_per_sample,
            "tokens_per_example": self.samples * self.tokens_per_sample,
            "matched": self.matched,
        }


def equal_token_samples(
    rows: Sequence[Mapping[str, Any]],
    reference: str,
    sampler: str,
    sampler_rows: Sequence[Mapping[str, Any]] | None = None,
) -> TokenMatch:
    """k = round(mean tokens per example of `reference` / mean tokens per sample of `sampler`), in [1, available].

    `sampler_rows` holds the sampler's rows when it comes from another run (default: `rows`).

    >>> rows = [{"method": "multi", "example_id": "e", "sample": 0, "generation_tokens": 30},
    ...         *({"method": "bok", "example_id": "e", "sample": s, "generation_tokens": 10} for s in range(8))]
    >>> equal_token_samples(rows, "multi", "bok").samples
    3
    """
    reference_tokens = tokens_per_example(rows, reference)
    sampler_tokens = tokens_per_example(rows if sampler_rows is None else sampler_rows, sampler)
    if not reference_tokens or not sampler_tokens:
        raise ValueError(f"no token counts for {reference!r} or {sampler!r} in the run")
    per_example = float(np.mean([sum(t) for t in reference_tokens.values()]))
    per_sample = float(np.mean([t for ts in sampler_tokens.values() for t in ts]))
    available = min(len(ts) for ts in sampler_tokens.values())
    wanted = max(1, round(per_example / per_sample)) if per_sample > 0 else available
    return TokenMatch(min(wanted, available), wanted, available, per_example, per_sample)


def method_kinds(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`summary.json`'s method blocks by name (kind, num_candidates, with_confidence, iid ...)."""
    return {name: dict(block) for name, block in summary.get("methods", {}).items()}


def default_method(summary: Mapping[str, Any]) -> str:
    """The first multi-answer method with confidences in the run (the one the command reports)."""
    for name, block in method_kinds(summary).items():
        if block.get("kind") == "multi" and block.get("with_confidence"):
            return name
    raise ValueError("the run has no multi-answer method with confidences: pass --method")


def ordered_pools(
    pools: Mapping[str, CandidatePool], example_ids: Sequence[str], source: str = "method"
) -> list[CandidatePool]:
    """The pools of `example_ids` in that order, so that one seed gives every method the same split."""
    missing = [e for e in example_ids if e not in pools]
    if missing:
        shown = ", ".join(missing[:5])
        raise ValueError(f"{source}: {len(missing)} of the reported method's examples have no rows ({shown})")
    return [pools[e] for e in example_ids]


def conformal_block(
    pools: Sequence[CandidatePool], alpha: float, calibration_fraction: float, seed: int
) -> dict[str, Any]:
    """Split conformal and, where every example knows |Y*|, risk control for recall, as a JSON block."""
    block: dict[str, Any] = {
        "split_conformal": split_conformal(pools, alpha, calibration_fraction, seed).as_dict()
    }
    if all(p.num_gold for p in pools):
        block["risk_control"] = conformal_risk_control(pools, alpha, calibration_fraction, seed).as_dict()
    else:
        block["risk_control"] = None
    return block


def coverage_curve(
    pools: Sequence[CandidatePool], alphas: Sequence[float], calibration_fraction: float, seed: int
) -> list[dict[str, float]]:
    """Test coverage and mean set size of the split-conformal sets for each alpha (one seeded split)."""
    curve = []
    for alpha in alphas:
        result = split_conformal(pools, alpha, calibration_fraction, seed)
        curve.append(
            {
                "alpha": alpha,
                "coverage": result.coverage,
                "mean_set_size": result.mean_set_size,
                "attainable": result.attainable,
            }
        )
    return curve


def is_frequency_method(block: Mapping[str, Any]) -> bool:
    """Single-answer i.i.d. sampling (best-of-k): scored by sample frequency."""
    return block.get("kind") == "single" and bool(block.get("iid"))


def is_scorable(name: str, block: Mapping[str, Any]) -> bool:
    """Whether a method's candidates have a score: the oracle's posterior, frequency, or confidence."""
    return name == ORACLE or is_frequency_method(block) or bool(block.get("with_confidence"))


def pools_for_method(
    rows: Sequence[Mapping[str, Any]], name: str, block: Mapping[str, Any], max_generations: int | None = None
) -> dict[str, CandidatePool]:
    """A method's pools with its scoring: stated confidence, sample frequency, or the oracle's posterior."""
    if name == ORACLE:
        return run_pools(rows, name, pooling="max")
    if is_frequency_method(block):
        return run_pools(rows, name, frequency=True, max_generations=max_generations)
    if not block.get("with_confidence", False):
        raise ValueError(f"method {name!r} states no confidences: conformal sets need a score")
    return run_pools(rows, name)


@dataclass(frozen=True, slots=True)
class MethodPools:
    """A method's candidate pools in the run's example order, how they are scored, and (best-of-k at
    equal tokens) how many samples they use; `skipped` says why a method has no pools."""

    pools: tuple[CandidatePool, ...]
    scoring: str
    equal_tokens: TokenMatch | None = None
    skipped: str | None = None


def run_method_pools(
    summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], reported: str
) -> dict[str, MethodPools]:
    """The pools of every scorable method of a run, the reported method first.

    Every method is pooled over the reported method's examples in its row order, so that one seed gives
    every method the same calibration and test cases; the oracle covers the examples with a posterior.
    Best-of-k appears twice: with all its samples, and as `<name>@equal_tokens` with the samples whose
    generated tokens match the reported method's tokens per example.
    """
    blocks = method_kinds(summary)
    if reported not in blocks:
        raise ValueError(f"method {reported!r} is not in the run (methods: {', '.join(blocks)})")
    example_ids = list(pools_for_method(rows, reported, blocks[reported]))
    names = [reported, *(n for n in blocks if n != reported and is_scorable(n, blocks[n]))]
    result: dict[str, MethodPools] = {}
    for name in names:
        block = blocks[name]
        pools = pools_for_method(rows, name, block)
        ids = example_ids if name != ORACLE else [e for e in example_ids if e in pools]
        scoring = _scoring(name, block)
        if len(ids) < 2:
            logger.info("%s: %d example(s), too few to calibrate; skipped", name, len(ids))
            result[name] = MethodPools((), scoring, skipped=f"{len(ids)} example(s), too few to calibrate")
            continue
        result[name] = MethodPools(tuple(ordered_pools(pools, ids, name)), scoring)
        if is_frequency_method(block):
            result[f"{name}@equal_tokens"] = _equal_token_pools(
                rows, reported, rows, name, block, example_ids
            )
    return result


def _equal_token_pools(
    rows: Sequence[Mapping[str, Any]],
    reported: str,
    sampler_rows: Sequence[Mapping[str, Any]],
    name: str,
    block: Mapping[str, Any],
    example_ids: Sequence[str],
) -> MethodPools:
    match = equal_token_samples(rows, reported, name, sampler_rows)
    matched = pools_for_method(sampler_rows, name, block, max_generations=match.samples)
    return MethodPools(tuple(ordered_pools(matched, example_ids, name)), "frequency", match)


def baseline_method_pools(
    rows: Sequence[Mapping[str, Any]],
    reported: str,
    baseline_summary: Mapping[str, Any],
    baseline_rows: Sequence[Mapping[str, Any]],
    label: str,
) -> dict[str, MethodPools]:
    """Best-of-k pools of ANOTHER run (a single-answer model) over the reported method's examples, with
    all samples and at the reported method's tokens; named `<label>/<method>` and `...@equal_tokens`.
    The runs must hold the same example ids (an id missing from the baseline raises ValueError)."""
    example_ids = list(run_pools(rows, reported))
    result: dict[str, MethodPools] = {}
    for name, block in method_kinds(baseline_summary).items():
        if not is_frequency_method(block):
            continue
        pools = pools_for_method(baseline_rows, name, block)
        result[f"{label}/{name}"] = MethodPools(
            tuple(ordered_pools(pools, example_ids, f"baseline {label}/{name}")), "frequency"
        )
        result[f"{label}/{name}@equal_tokens"] = _equal_token_pools(
            rows, reported, baseline_rows, name, block, example_ids
        )
    if not result:
        raise ValueError(f"baseline run {label!r} has no best-of-k (i.i.d. single-answer sampling) method")
    return result


def _scoring(name: str, block: Mapping[str, Any]) -> str:
    if name == ORACLE:
        return "posterior"
    return "frequency" if is_frequency_method(block) else "confidence"


def run_conformal(
    run_dir: Path,
    alpha: float,
    *,
    seed: int = 0,
    calibration_fraction: float = 0.5,
    method: str | None = None,
    baseline_dirs: Sequence[Path] = (),
) -> dict[str, Any]:
    """Conformal sets for every scorable method of an evaluation run, on one seeded split
    (`run_method_pools`); `method` (default: the first multi-answer method) is the one reported.
    `baseline_dirs`: runs of single-answer models on the same examples whose best-of-k samples are
    compared too (`baseline_method_pools`), labelled by their directory name."""
    summary = load_summary(Path(run_dir))
    rows = load_rows(Path(run_dir))
    reported = method or default_method(summary)
    entries = run_method_pools(summary, rows, reported)
    for baseline in baseline_dirs:
        label = Path(baseline).resolve().name
        entries |= baseline_method_pools(
            rows, reported, load_summary(Path(baseline)), load_rows(Path(baseline)), label
        )
    results: dict[str, Any] = {}
    for name, entry in entries.items():
        if entry.skipped:
            results[name] = {"skipped": entry.skipped}
            continue
        results[name] = {"scoring": entry.scoring, "num_examples": len(entry.pools)} | conformal_block(
            entry.pools, alpha, calibration_fraction, seed
        )
        if entry.equal_tokens is not None:
            results[name]["equal_tokens"] = entry.equal_tokens.as_dict()
    return {
        "alpha": alpha,
        "seed": seed,
        "calibration_fraction": calibration_fraction,
        "run_dir": str(run_dir),
        "task": summary.get("task"),
        "model": summary.get("model"),
        "reward_version": summary.get("reward_version"),
        "method": reported,
        "baseline_dirs": [str(b) for b in baseline_dirs],
        "methods": results,
    }
