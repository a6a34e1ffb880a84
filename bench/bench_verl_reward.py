"""verl entry point overhead: `compute_score` on exported rows vs `Scorer.score` on the same completions.

compute_score decodes the row's settings (extra_info JSON fields, ground truth, posterior) on every call
and looks its Scorer up in a cache; this prints both throughputs and the per-call overhead, on one core.

    python bench/bench_verl_reward.py [--n 20000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from beyondmode.integrations.verl import VerlSettings, compute_score, verl_row
from beyondmode.scoring import Scorer
from beyondmode.types import Example

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rewards import synthetic_completions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    completions = synthetic_completions(args.n)
    settings = VerlSettings("multi_rlcr", 3)
    rows = [
        verl_row(Example(str(i), ({"role": "user", "content": "?"},), ((gold[0][0],),)), settings,
                 split="train", index=i, data_source="beyondmode/bench")
        for i, (_, gold) in enumerate(completions)
    ]  # fmt: skip
    scorer = Scorer.for_method("multi_rlcr", 3)
    start = time.perf_counter()
    for text, gold in completions:
        scorer.score(text, gold)
    scorer_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for (text, _), row in zip(completions, rows, strict=True):
        compute_score(row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"])
    verl_seconds = time.perf_counter() - start
    overhead_us = (verl_seconds - scorer_seconds) / args.n * 1e6
    print(f"bench_verl_reward: Scorer.score   {args.n / scorer_seconds:,.0f} completions/s")
    print(f"bench_verl_reward: compute_score  {args.n / verl_seconds:,.0f} completions/s")
    print(f"bench_verl_reward: overhead of the verl entry point {overhead_us:.1f} us per completion")


if __name__ == "__main__":
    main()
