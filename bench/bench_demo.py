"""Demo wall time: runs `beyondmode demo` with a profile and prints the total and each stage's seconds.

Target (issue 11): `make demo`, setup included, in <= 10 minutes on 2 CPU cores; the quick profile well under 2.

    python bench/bench_demo.py [--profile default] [--out /tmp/bench_demo]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from beyondmode.demo.pipeline import run_demo
from beyondmode.demo.profiles import PROFILES, get_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--out", type=Path, default=None, help="where the run goes (default: a temp folder)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_demo_"))
    started = time.perf_counter()
    result = run_demo(get_profile(args.profile), out)
    wall = time.perf_counter() - started
    for stage, seconds in result.timings.items():
        print(f"bench_demo: {stage:40s} {seconds:7.1f} s")
    print(
        f"bench_demo: profile {args.profile}: {wall:.0f} s wall clock in-process ({wall / 60:.1f} min; target <= 10 min)"
    )
    print(f"bench_demo: report {result.report_html}")


if __name__ == "__main__":
    main()
