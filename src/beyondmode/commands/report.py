"""`beyondmode report RUN_DIR [RUN_DIR ...] --out DIR`: Markdown + HTML + PNG plots over evaluation runs."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write a Markdown/HTML report with plots from evaluation run directories",
        description="Compare evaluation runs side by side (tables with 95% intervals, PNG plots).",
    )
    parser.add_argument(
        "run_dirs", nargs="+", metavar="RUN_DIR", help="directories written by `beyondmode eval`"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from beyondmode.report import build_report

    files = build_report(args.run_dirs, args.out)
    logger.info("wrote %s and %s (%d plots)", files.markdown, files.html, len(files.plots))
    return 0
