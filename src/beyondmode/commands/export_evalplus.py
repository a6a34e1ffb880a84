"""`beyondmode export-evalplus ROWS.jsonl --out samples.jsonl`: K-program generations as evalplus samples."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from rich.console import Console

from beyondmode.code_samples import export_evalplus
from beyondmode.formats import AnswerFormat

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-evalplus",
        help="write one evalplus sample per candidate program",
        description=(
            "Each input row holds `task_id` (or `id`) and either `completion` (a generation in the K-answer "
            "format) or `candidates` (as written by `beyondmode score`). Each output row is "
            '{"task_id", "solution"}, one per candidate, for `evalplus.evaluate --samples`.'
        ),
    )
    parser.add_argument("rows", type=Path, help="input JSONL (generations or scored rows)")
    parser.add_argument("--out", type=Path, required=True, help="output samples JSONL")
    parser.add_argument("--k", type=int, default=3, help="number of answer slots K in the completions")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.rows.is_file():
        raise SystemExit(f"export-evalplus: input file not found: {args.rows}")
    answer_format = AnswerFormat(num_candidates=args.k, require_think=False, allow_text_outside=True)
    try:
        count = export_evalplus(args.rows, args.out, answer_format)
    except ValueError as error:
        raise SystemExit(f"export-evalplus: {error}") from error
    Console().print(f"wrote {count} samples to {args.out}")
    return 0
