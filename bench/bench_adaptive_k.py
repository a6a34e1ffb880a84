"""Adaptive K on ddx_sim: does GRPO with a per-answer cost learn the oracle's set sizes?

For each cost lambda: a Multi-RLVR warm start with the "up to K" format (`format.min_candidates=1`),
self-consistency from labels only, listing the answers its base sampled more often than lambda (the
plug-in rule a user would apply without RL: `warmstart.list_min_frequency`); then GRPO from it with the
reward 0.5 format + 0.5 (coverage - lambda n) (`method.weights.answer_cost`), the demo's recipe
otherwise. Each model answers the demo's held-out cases (`--samples` generations each); under the exact
posterior every answer set gets its size n, its coverage P(truth in set) and its value
coverage - lambda n. Beside them: the oracle's optimal sets for the same lambda (`optimal_answer_set`),
and the paired bootstrap interval of RL minus warm start on the value. Writes `adaptive_k.json` and
`adaptive_k.png` (coverage against mean set size) into `--out`, and prints the table.

    python bench/bench_adaptive_k.py [--costs 0.1 0.25] [--out DIR] [--steps N] [--grpo-temperature T]
        [--warmstart-shares exact] [--num-train N] [--base-steps N] [--warmstart-steps N]
        [--set FIELD=VALUE ...]

`--num-train` and `--base-steps` change the demo profile's training cases and the single-answer
base's SFT steps (`scratch_warmstart_steps`): the base's knowledge bounds what the plug-in sets and
RL can reach. `--warmstart-steps`: the "up to K" warm start's SFT steps. The held-out cases avoid
every training prompt, so they (and the oracle's figures) change with `--num-train`. `--set` changes
any other demo profile field, e.g. `warmstart_lists=8`: 8 target lists per prompt, each the plug-in set
in a drawn order.

Finished warm starts and runs in `--out` are reused, and refused where they were trained with other
settings (`beyondmode.demo.reuse`). Goal (issue 15): mean set size and coverage within
10% of the oracle's for at least two values of lambda; the last line counts the lambdas that meet it
after RL and with the warm start alone. `--set warmstart_unlabelled=N`: the warm start also learns
from N unlabelled held-out-like prompts (`warmstart.unlabelled`); with `rl_self_labelled=M` GRPO also
trains on the first M of them, each labelled by an answer drawn from the base's answers
(`method.self_labelled_prompts`). `--versus DIR`: another bench folder run with the same costs; its
RL models are sampled on the same cases and the paired differences (this run's RL minus DIR's) of
set size, coverage and value are printed and stored.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from beyondmode.demo.pipeline import (
    EVAL_SEED,
    _init_worker,
    eval_task_options,
    run_config,
    warmstart_base,
    worker_pool,
)
from beyondmode.demo.profiles import DemoProfile, DemoRun, get_profile, parse_profile_overrides
from beyondmode.demo.reuse import stored_settings_differ

RUN = DemoRun("multi_rlvr")
GOAL_RATIO = 0.10


def bench_profile(
    num_train: int | None = None,
    base_steps: int | None = None,
    warmstart_steps: int | None = None,
    extra: dict[str, Any] | None = None,
) -> DemoProfile:
    """The default demo profile, with `num_train` training cases, `base_steps` SFT steps of the
    single-answer base and `warmstart_steps` of the "up to K" warm start where given (the base keeps
    its steps when only `warmstart_steps` is given), and any other profile fields in `extra`."""
    default = get_profile("default")
    overrides: dict[str, Any] = dict(extra or {})
    if num_train is not None:
        overrides["num_train"] = num_train
    if warmstart_steps is not None:
        overrides["warmstart_steps"] = warmstart_steps
    if base_steps is not None or warmstart_steps is not None:
        overrides["scratch_warmstart_steps"] = (
            base_steps
            if base_steps is not None
            else default.scratch_warmstart_steps or default.warmstart_steps
        )
    return get_profile("default", **overrides)


def adaptive_config(
    profile: DemoProfile,
    out: Path,
    cost: float,
    steps: int | None = None,
    temperature: float | None = None,
    shares: str = "sampled",
) -> Any:
    """The profile's Multi-RLVR run config with the "up to K" format and the per-answer cost (GRPO
    steps and sampling temperature: the profile's unless given; `shares`: the warm start's
    self-consistency frequencies, `warmstart.answer_shares`)."""
    steps = profile.grpo_steps if steps is None else steps
    temperature = profile.grpo_temperature if temperature is None else temperature
    warm_dir = out / "warmstart" / f"adaptive-{cost:g}"
    extra = (
        f"warmstart.output_dir='{warm_dir}'",
        f"model.name_or_path='{warm_dir}'",
        "format.min_candidates=1",
        f"method.weights.answer_cost={cost}",
        f"output.dir='{out / 'train' / f'adaptive-{cost:g}'}'",
        f"trl.max_steps={steps}",
        f"output.save_steps={steps}",
        f"trl.temperature={temperature}",
        f"warmstart.answer_shares={shares}",
    )
    return run_config(profile, RUN, out, None, None, extra)


def build_base_warmstart(profile: DemoProfile, out: Path) -> None:
    """The single-answer warm start that the self-consistency warm starts sample (unless finished);
    built once, before the workers that share it start."""
    from beyondmode.train.warmstart import run_warmstart

    base = warmstart_base(profile, RUN)
    if base is None:
        return
    config = run_config(profile, base, out, None, None)
    if not _reusable(Path(config.warmstart.output_dir), "config.json", config, grpo=False):
        _init_worker(1)
        run_warmstart(config)


def warmstart_and_train(
    profile: DemoProfile, out: Path, cost: float, steps: int | None, temperature: float | None, shares: str
) -> float:
    """The warm start (unless finished), then the GRPO run (unless finished); returns GRPO seconds."""
    from beyondmode.atomic_write import write_json_atomic
    from beyondmode.train.grpo import train_grpo
    from beyondmode.train.warmstart import run_warmstart

    config = adaptive_config(profile, out, cost, steps, temperature, shares)
    if not _reusable(Path(config.warmstart.output_dir), "config.json", config, grpo=False):
        run_warmstart(config)
    if _reusable(Path(config.output.dir), "final/trainer_state.json", config, grpo=True):
        return 0.0
    started = time.perf_counter()
    result = train_grpo(config, quiet=True)
    write_json_atomic(result.final_dir / "trainer_state.json", {"log_history": result.log_history})
    return time.perf_counter() - started


def _reusable(folder: Path, marker: str, config: Any, grpo: bool) -> bool:
    """Whether `folder` holds a finished run to reuse (its `marker` file exists); one trained with
    other settings than `config` is refused (`beyondmode.demo.reuse`)."""
    if not (folder / marker).is_file():
        return False
    if stored_settings_differ(folder, config, grpo):
        raise SystemExit(
            f"bench_adaptive_k: {folder} was trained with other settings than these; use another --out"
        )
    return True


def generate(profile: DemoProfile, model_dir: Path, samples: int) -> list[list[str]]:
    """`samples` completions per held-out case (the demo's sampling settings)."""
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend
    from beyondmode.tasks.registry import get_task
    from beyondmode.train.recipe import answer_format

    fmt = answer_format(adaptive_config(profile, model_dir.parent, 0.1))
    examples = list(get_task("ddx_sim", **eval_task_options(profile, None, None)).examples(fmt))
    backend = TransformersBackend.from_pretrained(model_dir, device="cpu", batch_size=profile.eval_batch)
    prompts = [list(example.prompt) for example in examples]
    generations = backend.generate(
        prompts, samples, profile.temperature, profile.max_completion_length, EVAL_SEED
    )
    return [[g.text for g in per_prompt] for per_prompt in generations]


def outcomes(profile: DemoProfile, texts: list[list[str]], cost: float) -> dict[str, np.ndarray]:
    """Per held-out case, averaged over its samples: set size, coverage, value, format rate."""
    from beyondmode.adaptive_sets import completion_outcome
    from beyondmode.grading import get_grader
    from beyondmode.tasks.registry import get_task
    from beyondmode.train.recipe import answer_format

    fmt = answer_format(adaptive_config(profile, Path("."), cost))
    examples = list(get_task("ddx_sim", **eval_task_options(profile, None, None)).examples(fmt))
    grader = get_grader("exact_match")
    size, coverage, value, ok = [], [], [], []
    for example, completions in zip(examples, texts, strict=True):
        parsed = [fmt.parse(text) for text in completions]
        judged = [completion_outcome(p, example.posterior, grader, cost) for p in parsed]
        size.append(np.mean([o.size for o in judged]))
        coverage.append(np.mean([o.coverage for o in judged]))
        value.append(np.mean([o.value for o in judged]))
        ok.append(np.mean([p.format_ok for p in parsed]))
    return {
        "size": np.array(size),
        "coverage": np.array(coverage),
        "value": np.array(value),
        "format": np.array(ok),
    }


def oracle(profile: DemoProfile, cost: float) -> dict[str, float]:
    from beyondmode.adaptive_sets import oracle_outcome
    from beyondmode.tasks.registry import get_task
    from beyondmode.train.recipe import answer_format

    fmt = answer_format(adaptive_config(profile, Path("."), cost))
    examples = list(get_task("ddx_sim", **eval_task_options(profile, None, None)).examples(fmt))
    judged = [oracle_outcome(e.posterior, cost, fmt.num_candidates) for e in examples]
    return {
        "size": float(np.mean([o.size for o in judged])),
        "coverage": float(np.mean([o.coverage for o in judged])),
        "value": float(np.mean([o.value for o in judged])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--costs", type=float, nargs="+", default=[0.1, 0.25])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_adaptive_k"))
    parser.add_argument("--samples", type=int, default=4, help="generations per held-out case")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps (default: the demo's)")
    parser.add_argument("--grpo-temperature", type=float, default=None, help="default: the demo's")
    parser.add_argument(
        "--warmstart-shares", choices=("sampled", "exact"), default="sampled", help="warmstart.answer_shares"
    )
    parser.add_argument("--num-train", type=int, default=None, help="training cases (default: the demo's)")
    parser.add_argument(
        "--base-steps",
        type=int,
        default=None,
        help="SFT steps of the single-answer base (default: the demo's)",
    )
    parser.add_argument(
        "--warmstart-steps", type=int, default=None, help='SFT steps of the "up to K" warm start'
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        help="other demo profile fields, FIELD=VALUE (e.g. warmstart_lists=8: drawn plug-in sets)",
    )
    parser.add_argument(
        "--versus",
        type=Path,
        default=None,
        help="another bench folder with the same costs: its RL models are sampled on the same cases too, "
        "and the paired differences (this run's RL minus its) are printed",
    )
    args = parser.parse_args()
    profile = bench_profile(
        args.num_train, args.base_steps, args.warmstart_steps, parse_profile_overrides(args.set)
    )
    out = args.out.resolve()
    costs = list(args.costs)
    started = time.perf_counter()
    build_base_warmstart(profile, out)
    with worker_pool(args.workers, 1) as pool:
        n = len(costs)
        train_s = list(
            pool.map(
                warmstart_and_train,
                [profile] * n,
                [out] * n,
                costs,
                [args.steps] * n,
                [args.grpo_temperature] * n,
                [args.warmstart_shares] * n,
            )
        )
        warm_models = [out / "warmstart" / f"adaptive-{c:g}" for c in costs]
        rl_models = [out / "train" / f"adaptive-{c:g}" / "final" for c in costs]
        models = [*warm_models, *rl_models]
        if args.versus is not None:
            models += [args.versus.resolve() / "train" / f"adaptive-{c:g}" / "final" for c in costs]
            missing = [str(m) for m in models[-len(costs) :] if not (m / "config.json").is_file()]
            if missing:
                raise SystemExit(f"bench_adaptive_k: --versus: no finished RL model in {', '.join(missing)}")
        texts = list(pool.map(generate, [profile] * len(models), models, [args.samples] * len(models)))
    from beyondmode.atomic_write import write_json_atomic
    from beyondmode.evaluate.paired import paired_bootstrap

    rows: list[dict[str, Any]] = []
    print(
        f"bench_adaptive_k: {len(texts[0])} held-out cases x {args.samples} samples; "
        "lambda, model: mean set size, coverage, value (coverage - lambda size), format rate"
    )
    within = warm_within = 0
    for index, (cost, seconds) in enumerate(zip(costs, train_s, strict=True)):
        warm = outcomes(profile, texts[index], cost)
        rl = outcomes(profile, texts[len(costs) + index], cost)
        best = oracle(profile, cost)
        delta, low, high = paired_bootstrap(list(warm["value"]), list(rl["value"]), np.mean, seed=0)
        row = {
            "cost": cost,
            "train_s": seconds,
            "warm_start": {k: float(v.mean()) for k, v in warm.items()},
            "rl": {k: float(v.mean()) for k, v in rl.items()},
            "oracle": best,
            "value_gain": {"delta": delta, "ci_low": low, "ci_high": high},
        }
        if args.versus is not None:
            other = outcomes(profile, texts[2 * len(costs) + index], cost)
            row["versus"] = {"folder": str(args.versus)}
            for key in ("size", "coverage", "value"):
                d, lo, hi = paired_bootstrap(list(other[key]), list(rl[key]), np.mean, seed=0)
                row["versus"][key] = {"delta": d, "ci_low": lo, "ci_high": hi}
                print(f"  lambda {cost:g} RL - {args.versus}'s RL {key} {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        size_gap, coverage_gap = gaps(row["rl"], best)
        row["within_10pct"] = bool(size_gap <= GOAL_RATIO and coverage_gap <= GOAL_RATIO)
        warm_gaps = gaps(row["warm_start"], best)
        row["warm_start_within_10pct"] = bool(max(warm_gaps) <= GOAL_RATIO)
        within += row["within_10pct"]
        warm_within += row["warm_start_within_10pct"]
        rows.append(row)
        for name in ("warm_start", "rl", "oracle"):
            r = row[name]
            rate = f", format {r['format']:.2f}" if "format" in r else ""
            print(
                f"  lambda {cost:g} {name:10s} size {r['size']:.2f}  coverage {r['coverage']:.3f}  "
                f"value {r['value']:.3f}{rate}"
            )
        print(
            f"  lambda {cost:g} RL - warm start value {delta:+.3f} [{low:+.3f}, {high:+.3f}]; size gap "
            f"{size_gap:.1%}, coverage gap {coverage_gap:.1%} to the oracle (warm start: "
            f"{warm_gaps[0]:.1%}, {warm_gaps[1]:.1%})"
        )
    settings = {
        "num_train": profile.num_train,
        "base_steps": profile.scratch_warmstart_steps or profile.warmstart_steps,
        "warmstart_steps": profile.warmstart_steps,
        "warmstart_shares": args.warmstart_shares,
        "grpo_steps": args.steps or profile.grpo_steps,
        "grpo_temperature": args.grpo_temperature or profile.grpo_temperature,
        "samples": args.samples,
        "profile_overrides": args.set,
    }
    write_json_atomic(out / "adaptive_k.json", {"settings": settings, "rows": rows})
    plot(rows, out / "adaptive_k.png")
    print(
        f"bench_adaptive_k: {within} of {len(rows)} lambdas within 10% of the oracle's set size and "
        f"coverage after RL (goal: 2), {warm_within} with the warm start; "
        f"{time.perf_counter() - started:.0f} s; {out / 'adaptive_k.png'}"
    )


def gaps(model: dict[str, float], best: dict[str, float]) -> tuple[float, float]:
    """Relative gaps |model - oracle| / oracle of the mean set size and the coverage.

    >>> tuple(round(gap, 3) for gap in gaps({"size": 2.2, "coverage": 0.72}, {"size": 2.0, "coverage": 0.8}))
    (0.1, 0.1)
    """
    return (
        abs(model["size"] - best["size"]) / best["size"],
        abs(model["coverage"] - best["coverage"]) / best["coverage"],
    )


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 4))
    for index, row in enumerate(rows):
        color = f"C{index}"
        warm = row["warm_start"]
        axes.scatter(
            [warm["size"]],
            [warm["coverage"]],
            color=color,
            marker="s",
            label=f"warm start, lambda {row['cost']:g}",
        )
        axes.scatter(
            [row["rl"]["size"]], [row["rl"]["coverage"]], color=color, label=f"RL, lambda {row['cost']:g}"
        )
        axes.scatter(
            [row["oracle"]["size"]],
            [row["oracle"]["coverage"]],
            color=color,
            marker="*",
            s=140,
            label=f"oracle, lambda {row['cost']:g}",
        )
    axes.set_xlabel("mean set size")
    axes.set_ylabel("coverage (P(truth in set), exact posterior)")
    axes.set_title("Adaptive K on ddx_sim (held-out cases)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
