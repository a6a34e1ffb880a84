"""`beyondmode demo`: train the four methods on the diagnosis simulator (or, `--task code_sim`, three on
the program-synthesis simulator) with a tiny model, evaluate them against best-of-k and the Bayes-optimal
oracle, and write the report."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from beyondmode.config import ConfigError
from beyondmode.demo.profiles import PROFILES, TASKS, get_profile, parse_profile_overrides

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the main job: simulator, tiny model, four methods, report",
        description=(
            "Builds the diagnosis simulator (exact posterior), trains a tiny model with rlvr, rlcr, "
            "multi_rlvr and multi_rlcr (plus multi_rlcr with per-token confidence credit), evaluates them "
            "on held-out cases against best-of-k sampling and the Bayes-optimal answer set, and writes "
            "runs/demo-<timestamp>/report.html (+ report.md, plots/, demo_summary.json). --task code_sim does "
            "the same on program synthesis from input/output examples, every program run in the sandbox."
        ),
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="default",
        help="quick: smoke run; full: 3 seeds, K = 2..5, an oracle-assisted run; large: 4x the labelled "
        "cases, the exact-share, drawn-list warm start and 2x the GRPO steps (ddx_sim; 16 min on 2 "
        "cores, 1.8x the default)",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        dest="overrides",
        help="replace profile fields (docs/demo.md, DemoProfile), e.g. --set warmstart_lists=8 grpo_steps=144",
    )
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="ddx_sim",
        help="ddx_sim: diagnosis (the five runs); code_sim: program synthesis from examples, graded in the "
        "sandbox (RLVR, Multi-RLVR, Multi-RLCR), into runs/demo-code_sim-<timestamp>/",
    )
    parser.add_argument("--out", type=Path, default=Path("runs"), help="folder for runs/demo-<timestamp>/")
    parser.add_argument(
        "--kb", help="a DDXPlus release folder (release_evidences.json, ...) instead of the embedded KB"
    )
    parser.add_argument("--stats", help="probability table in the ddxplus_bed_stats shape (needed with --kb)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from beyondmode.demo.pipeline import demo_jobs, run_demo

    if bool(args.kb) != bool(args.stats):
        raise FileNotFoundError(
            "--kb and --stats go together: the DDXPlus knowledge base needs its probability table"
        )
    if args.kb and args.task != "ddx_sim":
        raise ValueError(
            "--kb and --stats are ddx_sim's knowledge base: they do not apply to --task code_sim"
        )
    for path in (args.kb, args.stats):
        if path and not Path(path).exists():
            raise FileNotFoundError(f"not found: {path}")
    try:
        profile = get_profile(args.profile, task=args.task, **parse_profile_overrides(args.overrides))
    except ValueError as error:  # a profile, task or field the demo does not have: one line, no traceback
        raise ConfigError(str(error)) from error
    total = len(demo_jobs(profile, Path(args.out), args.kb, args.stats)[0]) + 1  # every job, then the report
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), transient=False) as progress:
        bar = progress.add_task(f"demo ({profile.name})", total=total)

        def stage(text: str) -> None:
            if progress.tasks[bar].description != f"demo ({profile.name})":
                progress.advance(bar)
            progress.update(bar, description=f"demo ({profile.name}): {text}")

        result = run_demo(profile, args.out, kb=args.kb, stats=args.stats, stage=stage)
        progress.update(bar, completed=total, description=f"demo ({profile.name}): done")
    console = Console()
    for paragraph in _summary_lines(result.summary):
        console.print(paragraph)
    summary = result.summary
    console.print(
        f"{summary['wall_s']:.0f} s wall ({summary['total_s']:.0f} job-seconds in {summary['workers']} workers)"
    )
    print(result.report_html)
    return 0


def _summary_lines(summary: dict) -> list[str]:
    from beyondmode.demo.summary import plain_summary

    lines = plain_summary(summary)
    for run, checks in summary["targets"].items():
        met = sum(1 for check in checks.values() if check["met"])
        lines.append(f"{run}: {met}/{len(checks)} targets met (demo_summary.json lists each)")
    return lines
