"""Reward scoring throughput: 100,000 synthetic K=3 completions (about 100 tokens each) scored with the
multi_rlcr preset (parse + grade + format + coverage + brier + gates), on one core.

Target (issue 2): >= 50,000 completions/s on one core of the 2-core development machine.

    python bench/bench_rewards.py [--n 100000]
"""

from __future__ import annotations

import argparse
import random
import time

from beyondmode.formats import AnswerFormat
from beyondmode.scoring import Scorer
from beyondmode.types import Candidate

PATHOLOGIES = [
    "influenza", "common cold", "covid-19", "bronchitis", "pneumonia", "asthma exacerbation", "gerd",
    "panic attack", "unstable angina", "pulmonary embolism", "allergic sinusitis", "migraine",
]  # fmt: skip
FINDINGS = ["fever", "dry cough", "myalgia", "chest pain", "dyspnea", "wheezing", "sneezing", "headache"]


def synthetic_completions(n: int, seed: int = 0) -> list[tuple[str, list[list[str]]]]:
    """n distinct K=3 completions (10% truncated) of about 100 tokens each, and their gold."""
    rng = random.Random(seed)
    fmt = AnswerFormat(num_candidates=3)
    completions = []
    for _ in range(n):
        answers = rng.sample(PATHOLOGIES, 3)
        confidences = sorted((round(rng.random() / 2, 2) for _ in range(3)), reverse=True)
        think = " ".join(rng.choice(FINDINGS) for _ in range(40)) + " so the likeliest causes are these ."
        text = fmt.render([Candidate(a, q) for a, q in zip(answers, confidences, strict=True)], think=think)
        if rng.random() < 0.1:
            text = text[: rng.randrange(len(text))]
        completions.append((text, [[rng.choice(PATHOLOGIES)]]))
    return completions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    completions = synthetic_completions(args.n)
    words = sum(len(text.split()) for text, _ in completions[:1000]) / 1000
    scorer = Scorer.for_method("multi_rlcr", 3)
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    total = 0.0
    for text, gold in completions:
        total += scorer.score(text, gold).breakdown.total
    wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
    print(
        f"bench_rewards: {args.n} completions (~{words:.0f} whitespace tokens each), mean reward {total / args.n:.3f}"
    )
    print(f"bench_rewards: {args.n / cpu:,.0f} completions per CPU second on one core (target >= 50,000)")
    print(
        f"bench_rewards: {args.n / wall:,.0f} completions/s wall clock (lower when other processes share the core)"
    )


if __name__ == "__main__":
    main()
