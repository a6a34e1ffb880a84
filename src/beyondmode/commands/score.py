"""`beyondmode score COMPLETIONS.jsonl`: score any model's saved completions with a method's rewards."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from beyondmode.atomic_write import write_jsonl_atomic
from beyondmode.formats import DEFAULT_MAX_CHARS, Layout
from beyondmode.grading.base import get_grader
from beyondmode.methods import Method, method_format, method_spec
from beyondmode.score_file import ScoreSummary, SkippedRow, score_lines
from beyondmode.scoring import RewardMode, Scorer

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a JSONL file of completions with a method's reward terms",
        description=(
            "Each input row holds `completion` (text) and `gold` (list of accepted answers; an element may "
            "be a list of aliases), optionally `posterior` ({answer: probability}, for --reward-mode "
            "expected) and `id`. Each output row adds format_ok, violations, candidates, hits, every "
            "reward term, the gates and the total. Malformed rows are reported with their line number."
        ),
    )
    parser.add_argument("completions", type=Path, help="input JSONL file")
    parser.add_argument("--method", choices=[m.value for m in Method], default="multi_rlcr")
    parser.add_argument("--k", type=int, default=3, help="number of candidates K for the multi methods")
    parser.add_argument(
        "--multi-gold", action="store_true", help="gold sets have several answers (no sum<=1 gate)"
    )
    parser.add_argument("--grader", default="exact_match", help="grader name (exact_match, math, code, ...)")
    parser.add_argument("--reward-mode", choices=[m.value for m in RewardMode], default="label")
    fmt = parser.add_argument_group("answer format (defaults: the method's published format)")
    fmt.add_argument(
        "--analysis",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow an optional <analysis> block (default: on for rlcr and multi_rlcr, off for the RLVR methods)",
    )
    fmt.add_argument(
        "--layout",
        choices=[layout.value for layout in Layout],
        default=Layout.INTERLEAVED.value,
        help="interleaved: answer1 confidence1 answer2 ...; split: all answers, then all confidences",
    )
    fmt.add_argument(
        "--think", choices=["required", "optional"], default="required", help="is a <think> block required"
    )
    fmt.add_argument(
        "--max-chars",
        type=int,
        default=DEFAULT_MAX_CHARS,
        help="a longer completion is too_long (format 0) and only its first MAX_CHARS characters are read "
        "(0: no limit)",
    )
    fmt.add_argument(
        "--min-candidates",
        type=int,
        default=None,
        help="adaptive K: a completion may list from MIN_CANDIDATES to K answers (default: exactly K)",
    )
    parser.add_argument(
        "--answer-cost",
        type=float,
        default=0.0,
        help="adaptive K: reward cost lambda per listed answer (with --min-candidates; default 0)",
    )
    parser.add_argument("--out", type=Path, help="output JSONL of scored rows")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.completions.is_file():
        raise FileNotFoundError(f"input file not found: {args.completions}")
    scorer = Scorer(
        method_format(
            args.method,
            args.k,
            with_analysis=args.analysis,
            layout=args.layout,
            require_think=args.think == "required",
            max_chars=args.max_chars,
            min_candidates=args.min_candidates,
        ),
        method_spec(args.method, multi_gold=args.multi_gold, answer_cost=args.answer_cost),
        get_grader(args.grader),
        RewardMode(args.reward_mode),
    )
    lines = args.completions.read_text(encoding="utf-8").splitlines()
    summary = ScoreSummary()
    rows = []
    for result in track(score_lines(lines, scorer), total=len(lines), description="scoring", transient=True):
        if isinstance(result, SkippedRow):
            logger.warning("%s: %s", args.completions, result.message)
            summary.skipped.append(result)
            continue
        summary.add(result)
        rows.append(result)
    if args.out:
        write_jsonl_atomic(args.out, rows)
        logger.info("wrote %d scored rows to %s", len(rows), args.out)
    _print_summary(summary, args)
    return 0 if summary.scored else 1


def _print_summary(summary: ScoreSummary, args: argparse.Namespace) -> None:
    table = Table(title=f"{args.completions.name}: {args.method}, K={args.k}, {args.reward_mode} rewards")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.as_dict().items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else json.dumps(value))
    Console().print(table)
