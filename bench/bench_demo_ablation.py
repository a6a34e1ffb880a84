"""The demo's recipe ablation: each lever's RL gain over the same warm start, with its paired interval.

Every lever is a set of `DemoProfile` overrides for the GRPO stage; levers that leave the warm-start
fields alone share one warm start (trained once per run format). Each lever's model is evaluated on the
demo's held-out cases and compared with its warm start, paired over cases (`beyondmode.demo.rl_gain`).
Prints one line per lever and run: noise-free coverage in 3 answers (expected_recall@3) before -> after
[95% interval], recall@3, distinct@30, AUROC where there are confidences, and the GRPO seconds.
With `--out`, finished jobs in the folder are reused (a warm start or GRPO run stored with other
settings than this invocation's `--set` gives is refused: `beyondmode.demo.reuse`), and
`ablation.json` keeps the results of earlier invocations (one entry per lever, run and `--set`).

    python bench/bench_demo_ablation.py --levers demo long g16 --runs multi_rlvr multi_rlcr_token
    python bench/bench_demo_ablation.py --levers demo --set warmstart_confidence=uniform
    python bench/bench_demo_ablation.py --levers demo --runs multi_rlvr --seeds 0 1 2   # seed replicates
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_json_atomic
from beyondmode.demo.pipeline import (
    Job,
    _evaluate,
    _train,
    run_config,
    run_jobs,
    warmstart_jobs,
)
from beyondmode.demo.profiles import DemoRun, get_profile, parse_profile_overrides
from beyondmode.demo.reuse import stale_jobs
from beyondmode.demo.rl_gain import rl_gain_rows

NO_GATES = {"gate_uniqueness": False, "gate_sum_le_1": False}
LEVERS: dict[str, dict[str, Any]] = {
    "demo": {},
    "long": {"grpo_steps": 288},
    "g16": {"grpo_steps": 288, "num_generations": 16, "grpo_lr": 1.0e-3},
    "g32": {"grpo_steps": 288, "num_generations": 32, "prompts_per_step": 4, "grpo_lr": 1.0e-3},
    "lr1e-3": {"grpo_steps": 288, "grpo_lr": 1.0e-3},
    "prompts16": {"grpo_steps": 288, "prompts_per_step": 16, "grpo_lr": 1.0e-3},
    "no_gates": {
        "grpo_steps": 288,
        "grpo_lr": 1.0e-3,
        "method_weights": {"multi_rlvr": NO_GATES, "multi_rlcr": NO_GATES},
    },
    "expected": {"reward_mode": "expected"},
    "beta": {"grpo_beta": 0.1},
    "beta_g16": {"grpo_beta": 0.1, "grpo_steps": 288, "num_generations": 16, "grpo_lr": 1.0e-3},
    "t1": {"grpo_steps": 288, "grpo_lr": 1.0e-3, "temperature": 1.0},
    "lr1e-4": {"grpo_steps": 288, "grpo_lr": 1.0e-4},
    "lr2e-4": {"grpo_steps": 144, "grpo_lr": 2.0e-4},
    "t1_144": {"grpo_steps": 144, "grpo_temperature": 1.0},
    "t1.3_144": {"grpo_steps": 144, "grpo_temperature": 1.3},
    "t1.3_288": {"grpo_steps": 288, "grpo_temperature": 1.3},
    "t1.6_288": {"grpo_steps": 288, "grpo_temperature": 1.6},
    "t1.3_576": {"grpo_steps": 576, "grpo_temperature": 1.3},
}
RUNS = {
    "rlvr": DemoRun("rlvr"),
    "rlcr": DemoRun("rlcr"),
    "multi_rlvr": DemoRun("multi_rlvr"),
    "multi_rlcr": DemoRun("multi_rlcr"),
    "multi_rlcr_token": DemoRun("multi_rlcr", confidence_credit="token"),
}
METRICS = ("expected_recall@3", "recall@3", "distinct@30", "auroc")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levers", nargs="+", default=["demo", "long"], choices=sorted(LEVERS))
    parser.add_argument("--runs", nargs="+", default=["multi_rlvr"], choices=sorted(RUNS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="a replicate of every run per seed")
    parser.add_argument("--set", nargs="*", default=[], help="profile overrides for every lever: FIELD=VALUE")
    parser.add_argument("--out", type=Path, default=None, help="where the runs go (default: a temp folder)")
    args = parser.parse_args()
    base = get_profile("default", **parse_profile_overrides(args.set))
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_ablation_"))
    runs = [replace(RUNS[name], seed=seed) for seed in args.seeds for name in args.runs]
    jobs: list[Job] = []
    outputs: dict[str, Path] = {}
    built: set[str] = set()
    plan = []
    for run in runs:
        warm_config = run_config(base, run, out, None, None)
        key = run.warmstart_key
        warm_eval = out / "eval" / f"warmstart-{key}"
        model = Path(warm_config.warmstart.output_dir)
        outputs[f"eval/warmstart-{key}"] = warm_eval / "summary.json"
        # its warm start, after those it samples or reuses (the single-answer base, the K samples)
        for job in warmstart_jobs(base, run, out, None, None, built):
            jobs.append(job)
            outputs[job.name] = Path(job.args[0].warmstart.output_dir) / "config.json"
        jobs.append(
            Job(
                f"eval/warmstart-{key}",
                _evaluate,
                (base, run, model, warm_eval, None, None),
                (f"warmstart/{key}",),
            )
        )
        for lever in args.levers:
            profile = replace(base, **LEVERS[lever])
            config = run_config(profile, run, out, None, None)
            name = f"{run.name}-{lever}"
            config = replace(config, output=replace(config.output, dir=str(out / "train" / name)))
            eval_dir = out / "eval" / name
            jobs.append(Job(f"grpo/{name}", _train, (config,), (f"warmstart/{key}",)))
            final = Path(config.output.dir) / "final"
            outputs[f"grpo/{name}"] = final / "trainer_state.json"
            outputs[f"eval/{name}"] = eval_dir / "summary.json"
            jobs.append(
                Job(f"eval/{name}", _evaluate, (base, run, final, eval_dir, None, None), (f"grpo/{name}",))
            )
            plan.append((lever, run, profile, warm_eval, eval_dir, name))
    # Resume: a job whose output exists is done (a killed ablation restarts where it stopped).
    finished = {name for name, path in outputs.items() if path.is_file()}
    stale = stale_jobs(jobs, finished)
    if stale:
        raise SystemExit(
            f"bench_ablation: {out} holds runs trained with other settings ({', '.join(stale)}); "
            "use another --out, or the --set they were trained with"
        )
    unique = {job.name: job for job in jobs if job.name not in finished}
    jobs = [replace(job, needs=tuple(n for n in job.needs if n not in finished)) for job in unique.values()]
    timings = run_jobs(
        jobs, base.workers, base.threads, lambda text: print(f"bench_ablation: start {text}", flush=True)
    )
    results = []
    for lever, run, profile, warm_eval, eval_dir, name in plan:
        rows = {row["metric"]: row for row in rl_gain_rows(profile, run, warm_eval, eval_dir)}
        results.append(
            {
                "lever": lever,
                "run": run.name,
                "set": args.set,
                "grpo_s": timings.get(f"grpo/{name}"),
                "rows": rows,
            }
        )
        parts = [f"{lever:10s} {run.name:22s}"]
        for metric in METRICS:
            row = rows.get(metric)
            if row:
                parts.append(
                    f"{metric} {row['warm_start']:.3f} -> {row['after_rl']:.3f} "
                    f"({row['delta']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}])"
                )
        seconds = timings.get(f"grpo/{name}")
        parts.append("grpo " + (f"{seconds:.0f} s" if seconds is not None else "earlier run"))
        print("bench_ablation: " + " | ".join(parts), flush=True)
    write_json_atomic(out / "ablation.json", merged_results(out / "ablation.json", results, timings))
    print(f"bench_ablation: results in {out / 'ablation.json'}")


def merged_results(path: Path, results: list[dict[str, Any]], timings: dict[str, float]) -> dict[str, Any]:
    """This invocation's results added to those an earlier one wrote into `path` (one entry per lever,
    run and `--set`: a rerun replaces its own entry, other levers, seeds and settings stay)."""
    earlier = json.loads(path.read_text()) if path.is_file() else {}

    def key(result: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
        return result["lever"], result["run"], tuple(result.get("set", earlier.get("set", [])))

    kept = {key(result): result for result in earlier.get("results", [])}
    kept.update({key(result): result for result in results})
    return {"results": list(kept.values()), "timings_s": {**earlier.get("timings_s", {}), **timings}}


if __name__ == "__main__":
    main()
