"""code_sim: enumeration time, hypothesis space, case throughput, posterior entropy and oracle coverage.

    .venv/bin/python bench/bench_code_sim.py [--cases 2000] [--set key=value ...]

Prints one line per grammar (the task's options, `--set` overriding them). Oracle coverage@k is the mean
posterior mass of the top-k behaviour classes (what the Bayes-optimal set of k distinct programs passes
in expectation); "realized" is the fraction of cases whose true class is among them.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import yaml

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.code_sim import CodeSimTask
from beyondmode.tasks.code_sim_grammar import _cached_space


def measure(task: CodeSimTask) -> dict[str, float]:
    _cached_space.cache_clear()
    start = time.perf_counter()
    space = task.space()
    enumerate_s = time.perf_counter() - start
    start = time.perf_counter()
    examples = list(task.examples(AnswerFormat(num_candidates=3)))
    per_case_s = (time.perf_counter() - start) / max(1, len(examples))
    masses, realized, entropy, classes = {1: [], 3: []}, {1: [], 3: []}, [], []
    for example in examples:
        probabilities = np.array(list(example.posterior.values()))
        truth = next(i for i, p in enumerate(example.posterior) if _passes(p, example))
        for k in (1, 3):
            masses[k].append(probabilities[:k].sum())
            realized[k].append(truth < k)
        entropy.append(-(probabilities * np.log2(probabilities)).sum())
        classes.append(len(probabilities))
    return {
        "programs": space.num_programs,
        "domain_classes": space.num_classes,
        "enumerate_s": enumerate_s,
        "case_ms": per_case_s * 1e3,
        "entropy_bits": float(np.mean(entropy)),
        "oracle_coverage@1": float(np.mean(masses[1])),
        "oracle_coverage@3": float(np.mean(masses[3])),
        "realized@1": float(np.mean(realized[1])),
        "realized@3": float(np.mean(realized[3])),
        "classes_median": float(np.median(classes)),
        "classes_max": float(np.max(classes)),
    }


def _passes(program: str, example) -> bool:
    from beyondmode.grading.arithmetic_programs import evaluate_program, parse_program

    variables = ("x", "y")[: example.metadata["num_args"]]
    parsed = parse_program(program, variables)
    return (
        evaluate_program(parsed, [tuple(p) for p in example.metadata["inputs"]])
        == example.metadata["outputs"]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    variants = [
        {},
        {"num_args": 2, "input_high": 5, "max_size": 5},
        {"max_size": 6, "num_visible": 4},
    ]
    print(f"cpu cores {os.cpu_count()}")
    for variant in variants:
        options = {"num_examples": args.cases, **variant, **overrides}
        task = CodeSimTask(**options)
        result = measure(task)
        line = ", ".join(
            f"{k} {v:.3f}" if not float(v).is_integer() else f"{k} {int(v)}" for k, v in result.items()
        )
        print(f"code_sim {variant or 'default'}: {line}")
        standard_error = math.sqrt(result["realized@3"] * (1 - result["realized@3"]) / args.cases)
        print(f"  realized@3 standard error {standard_error:.3f}")


if __name__ == "__main__":
    main()
