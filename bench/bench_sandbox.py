"""Throughput of the sandbox: MBPP reference solutions (with their tests) per second, 2 workers.

All defences are on (bwrap when it runs here, audit hook, exact-type results, behaviour fingerprints with
probes, per-job sweep). Prints, for a fresh interpreter per program and for fork servers, the wall-clock
figure and, for fork servers, a CPU-time figure (programs per CPU-second of everything the sandbox ran:
the parent, the servers and the jobs), which does not depend on what else the machine is doing; and, for scale, a bare
sequential runner (`python -c program + tests`, no isolation) on the same machine at the same moment.
Needs ../shared/data/mbpp/mbpp.jsonl (or BEYONDMODE_SHARED_DATA); without it, synthetic programs.

    python bench/bench_sandbox.py [--workers 2] [--mode auto|bwrap|plain] [--limit N] [--skip-fresh]

Goal (issue 12): >= 300 programs/s with 2 workers and fork servers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from beyondmode.sandbox import Limits, Sandbox
from beyondmode.tasks.mbpp import load_mbpp

REPO = Path(__file__).resolve().parents[1]
GOAL_PROGRAMS_PER_S = 300


def mbpp_jobs(limit: int | None) -> tuple[list[tuple[str, str]], str]:
    data = Path(os.environ.get("BEYONDMODE_SHARED_DATA", REPO.parent / "shared" / "data"))
    path = data / "mbpp" / "mbpp.jsonl"
    if not path.is_file():
        jobs = [(f"def f(x):\n    return x + {i}\n", f"assert f(1) == {i + 1}\n") for i in range(300)]
        return jobs[:limit], "synthetic programs (MBPP not found)"
    problems = load_mbpp(path)[:limit]
    return [(p.code, p.test_program()) for p in problems], f"MBPP reference solutions ({path})"


def bare_sequential(jobs: list[tuple[str, str]]) -> float:
    """Jobs per second of the simplest runner: one `python -c` per job, one after the other."""
    start = time.perf_counter()
    for program, tests in jobs:
        subprocess.run(
            [sys.executable, "-c", program + "\n" + tests], capture_output=True, timeout=60, check=False
        )
    return len(jobs) / (time.perf_counter() - start)


def process_cpu_s() -> float:
    """CPU seconds of this process and of its reaped children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", default="auto", choices=["auto", "bwrap", "plain"])
    parser.add_argument("--limit", type=int, default=None, help="first N tasks (default: all 974)")
    parser.add_argument("--baseline-tasks", type=int, default=100, help="tasks for the bare runner")
    parser.add_argument("--skip-fresh", action="store_true", help="only the fork-server runner")
    args = parser.parse_args()
    jobs, source = mbpp_jobs(args.limit)
    print(f"source: {source}; workers: {args.workers}; cpus: {os.cpu_count()}")
    for fork_server in (False, True) if not args.skip_fresh else (True,):
        with Sandbox(
            Limits(timeout_s=40.0), requested_mode=args.mode, workers=args.workers, fork_server=fork_server
        ) as sandbox:
            sandbox.run(*jobs[0])  # warm the page cache, the mode probe and the servers
            servers_before = sandbox._servers.cpu_s if sandbox._servers is not None else 0.0
            cpu_before = process_cpu_s()
            start = time.perf_counter()
            results = sandbox.run_many(jobs)
            elapsed = time.perf_counter() - start
            cpu = None
            if sandbox._servers is not None:  # every job's CPU (wait4 in the server) and the servers' own
                cpu = sum(r.cpu_s or 0.0 for r in results) + sandbox._servers.cpu_s - servers_before
                cpu += process_cpu_s() - cpu_before
        passed = sum(r.passed for r in results)
        slowest = max(range(len(results)), key=lambda i: results[i].duration_s)
        kind = "fork server" if fork_server else "fresh interpreter per program"
        print(
            f"sandbox ({sandbox.mode}, {kind}): {len(jobs)} programs in {elapsed:.1f} s = "
            f"{len(jobs) / elapsed:.1f} programs/s wall ({passed} passed; median run "
            f"{statistics.median(r.duration_s for r in results) * 1000:.0f} ms; slowest #{slowest} "
            f"{results[slowest].duration_s:.1f} s; load average {os.getloadavg()[0]:.1f})"
        )
        if cpu is not None:
            rest = cpu - (results[slowest].cpu_s or 0.0)
            print(
                f"  CPU {cpu:.1f} s = {len(jobs) / cpu:.0f} programs per CPU-second, i.e. "
                f"{args.workers * len(jobs) / cpu:.0f} programs/s on {args.workers} idle cores; without the "
                f"slowest program: {rest:.1f} s = {args.workers * (len(jobs) - 1) / rest:.0f} programs/s on "
                f"{args.workers} idle cores (goal {GOAL_PROGRAMS_PER_S})"
            )
    quick = jobs[: args.baseline_tasks]
    print(
        f"bare sequential runner (python -c, no isolation), first {len(quick)} tasks: "
        f"{bare_sequential(quick):.1f} programs/s (same machine, same moment)"
    )


if __name__ == "__main__":
    main()
