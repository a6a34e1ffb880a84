"""`beyondmode demo`: the main job on its embedded default.

Until the full pipeline (simulator -> tiny model -> four methods -> report) is in place, the demo
scores the bundled example completions of each method (written in that method's format) and prints the
mean reward terms, which is the most
complete path that exists.
"""

from __future__ import annotations

import argparse
import json
import logging
from importlib import resources

from rich.console import Console
from rich.table import Table

from beyondmode.methods import Method
from beyondmode.score_file import ScoreSummary, SkippedRow, score_lines
from beyondmode.scoring import Scorer

logger = logging.getLogger(__name__)

COLUMNS = ("format", "coverage", "any_hit", "brier", "uniqueness", "top1")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job on its embedded default")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logger.info(
        "the training/evaluation demo is not built yet: scoring the bundled example completions "
        "of each method instead"
    )
    lines = resources.files("beyondmode.examples").joinpath("completions.jsonl").read_text().splitlines()
    table = Table(title="Bundled example completions: mean reward terms per method")
    table.add_column("method", no_wrap=True)
    for column in ("rows", "parse failures", *COLUMNS, "total"):
        table.add_column(column, justify="right")
    for method in Method:
        scorer = Scorer.for_method(method, 3)
        summary = ScoreSummary()
        own = [line for line in lines if json.loads(line)["method"] == method.value]
        for result in score_lines(own, scorer):
            if isinstance(result, SkippedRow):
                summary.skipped.append(result)
            else:
                summary.add(result)
        values = summary.as_dict()
        table.add_row(
            method.value,
            str(summary.scored),
            f"{values['format/parse_failure_rate']:.2f}",
            *(_cell(values, name, method) for name in COLUMNS),
            f"{values['total/mean']:.3f}",
        )
    Console().print(table)
    return 0


def _cell(values: dict, name: str, method: Method) -> str:
    if name == "brier" and not method.with_confidence:
        return "-"
    return f"{values[f'rewards/{name}/mean']:.3f}"
