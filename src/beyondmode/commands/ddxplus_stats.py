"""`beyondmode ddxplus-stats PATIENTS.csv [...] --out stats.json`: rebuild the DDXPlus probability table."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ddxplus-stats",
        help="estimate P(pathology) and P(evidence | pathology) from DDXPlus patient CSVs",
        description="Writes a table in the ddxplus_bed_stats_4.json shape (keys as in the CSVs), usable as "
        "ddx_sim's ddxplus_stats. The evidence file is read from --kb-dir (default: the first CSV's folder).",
    )
    parser.add_argument("patients", nargs="+", help="DDXPlus patient CSV files")
    parser.add_argument("--out", required=True, help="output JSON file")
    parser.add_argument("--kb-dir", help="folder with release_evidences.{en,fr}.json")
    parser.add_argument("--skip-bad-rows", action="store_true", help="skip (and count) malformed rows")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from beyondmode.tasks.ddxplus import detect_codes
    from beyondmode.tasks.ddxplus_kb import load_ddxplus_evidences
    from beyondmode.tasks.ddxplus_stats import compute_stats
    from beyondmode.tasks.export import write_json

    first = Path(args.patients[0])
    kb_dir = Path(args.kb_dir) if args.kb_dir else first.parent
    codes = detect_codes(first)
    evidences = {e.code: e for e in load_ddxplus_evidences(kb_dir / f"release_evidences.{codes}.json")}
    stats = compute_stats(args.patients, evidences, skip_bad_rows=args.skip_bad_rows)
    write_json(stats, args.out)
    table = Table(title=f"ddxplus-stats -> {args.out}")
    for column in ("pathology", "prior", "evidences"):
        table.add_column(column)
    for name, entry in stats.items():
        table.add_row(name, f"{entry['prior']:.4f}", str(len(entry["findings"])))
    Console().print(table)
    return 0
