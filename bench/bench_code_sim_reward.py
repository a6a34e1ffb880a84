"""code_sim: the share of a GRPO step spent on the code reward (every program run in the sandbox).

Runs `--steps` GRPO steps of the code_sim demo's recipe from a finished code_sim demo run's warm start
and times `ScoreCache.score_batch` (parse, sandbox, reward terms) inside them:

    python bench/bench_code_sim_reward.py RUN_DIR [--run multi_rlvr] [--steps 12]

RUN_DIR is a `beyondmode demo --task code_sim` folder (it holds `warmstart/<format>/`). Prints last
`code_sim reward share: P% of S s/step (reward R s/step, N programs/step)`. Goal (issue 14): under 30%.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from beyondmode.demo.pipeline import run_config
from beyondmode.demo.profiles import DemoRun, get_profile
from beyondmode.thread_count import apply_thread_count
from beyondmode.train import trl_rewards


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--run", default="multi_rlvr", choices=["rlvr", "multi_rlvr", "multi_rlcr"])
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    profile = get_profile("default", task="code_sim")
    run = DemoRun(args.run)
    apply_thread_count(profile.threads)
    spent = {"seconds": 0.0, "calls": 0, "programs": 0}
    original = trl_rewards.ScoreCache.score_batch

    def timed(self, completions, gold, posterior=None):  # type: ignore[no-untyped-def]
        started, scored = time.perf_counter(), self.scored_batches
        try:
            return original(self, completions, gold, posterior)
        finally:
            spent["seconds"] += time.perf_counter() - started
            if self.scored_batches > scored:  # the other reward terms reuse the batch's scores
                spent["calls"] += 1
                spent["programs"] += len(completions) * run.num_candidates

    trl_rewards.ScoreCache.score_batch = timed  # type: ignore[method-assign]
    from beyondmode.train.grpo import train_grpo

    with tempfile.TemporaryDirectory() as out:
        extra = (
            f"output.dir='{out}/train'",
            f"trl.max_steps={args.steps}",
            f"output.save_steps={args.steps}",
        )
        config = run_config(profile, run, args.run_dir, None, None, extra)
        started = time.perf_counter()
        result = train_grpo(config, quiet=True)
        runtimes = [row["train_runtime"] for row in result.log_history if "train_runtime" in row]
        total = runtimes[-1] if runtimes else time.perf_counter() - started  # the training loop alone
    per_step, reward = total / args.steps, spent["seconds"] / args.steps
    print(
        f"{spent['calls']} batches scored in {args.steps} steps (programs: completions x K, before memoisation)"
    )
    print(
        f"code_sim reward share: {100 * reward / per_step:.0f}% of {per_step:.2f} s/step "
        f"(reward {reward:.2f} s/step, {spent['programs'] // max(1, args.steps)} programs/step)"
    )


if __name__ == "__main__":
    main()
