"""Diagnosis simulator throughput: cases generated per second and exact-posterior time per case.

    .venv/bin/python bench/bench_sim.py [--cases 2000]

Prints one line per measurement. The real DDXPlus KB rows run when ../shared/data is present.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.ddx_kb import embedded_kb
from beyondmode.tasks.ddx_sim import RevealPolicy, Simulator
from beyondmode.tasks.ddx_sim_task import DdxSimTask

REPO = Path(__file__).resolve().parents[1]


def time_posteriors(simulator: Simulator, policy: RevealPolicy, cases: int, seed: int = 0) -> float:
    """Seconds per exact posterior, on cases sampled from the simulator itself."""
    rng = np.random.default_rng(seed)
    shown = simulator.reveal_batch(
        rng, simulator.sample_findings(rng, simulator.sample_pathologies(rng, cases)), policy
    )
    revealed = [tuple(int(a) for a in np.flatnonzero(row)) for row in shown]
    for atoms in revealed[:20]:  # warm the per-KB caches (quadrature nodes) before timing
        simulator.posterior(atoms, policy)
    start = time.perf_counter()
    for atoms in revealed:
        simulator.posterior(atoms, policy)
    return (time.perf_counter() - start) / cases


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    args = parser.parse_args()

    answer_format = AnswerFormat(num_candidates=3)
    for spec in ("1-3", "all"):
        task = DdxSimTask(num_examples=args.cases, num_findings=spec)
        list(DdxSimTask(num_examples=10, num_findings=spec).examples(answer_format))  # warm the KB cache
        start = time.perf_counter()
        count = sum(1 for _ in task.examples(answer_format))
        elapsed = time.perf_counter() - start
        print(
            f"ddx_sim embedded KB, num_findings={spec}: {count / elapsed:,.0f} examples/s (prompt, posterior)"
        )

    mini = Simulator(embedded_kb())
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    patients = mini.sample_findings(rng, mini.sample_pathologies(rng, 100_000))
    mini.reveal_batch(rng, patients, RevealPolicy.parse("1-3"))
    print(f"sampler alone, embedded KB: {100_000 / (time.perf_counter() - start):,.0f} cases/s")
    for spec in ("1-3", "all"):
        seconds = time_posteriors(mini, RevealPolicy.parse(spec), args.cases)
        print(
            f"exact posterior, embedded KB ({len(mini.atoms)} findings), num_findings={spec}: "
            f"{seconds * 1e3:.3f} ms/case"
        )

    data = Path(os.environ.get("BEYONDMODE_SHARED_DATA", REPO.parent / "shared" / "data")) / "ddxplus"
    if not data.is_dir():
        print(f"real DDXPlus KB: skipped ({data} not found)")
        return
    from beyondmode.tasks.ddxplus_kb import load_ddxplus_kb

    real = Simulator(load_ddxplus_kb(data, data / "ddxplus_bed_stats_4.json", codes="en"))
    for spec, cases in (("1-3", max(50, args.cases // 10)), ("all", args.cases)):
        seconds = time_posteriors(real, RevealPolicy.parse(spec), cases)
        print(
            f"exact posterior, DDXPlus KB ({len(real.atoms)} findings, 49 pathologies), num_findings={spec}: "
            f"{seconds * 1e3:.3f} ms/case"
        )


if __name__ == "__main__":
    main()
