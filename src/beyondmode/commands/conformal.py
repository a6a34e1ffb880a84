"""`beyondmode conformal RUN_DIR --alpha A`: answer sets with a finite-sample coverage guarantee.

Prints one line per scorable method of the run (its split-conformal coverage and set size, then recall
risk control where the rows carry |Y*|), and last exactly

    conformal: alpha A, coverage C [L, H] on N test cases, mean set size S

for the reported method (the first multi-answer method with confidences, or `--method`). Writes the
full result as JSON (default RUN_DIR/conformal.json) atomically. See docs/conformal.md.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RESULT_FILE = "conformal.json"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformal",
        help="conformal answer sets (coverage >= 1 - alpha) from an evaluation run directory",
        description=(
            "Split-conformal set selection over an evaluation run's candidates: calibrate a confidence "
            "threshold on a seeded calibration split, report coverage (95% Wilson interval) and set sizes "
            "on the test split, for every method (best-of-k by sample frequency, also at equal tokens)."
        ),
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR", help="directory written by `beyondmode eval`"
    )
    parser.add_argument("--alpha", type=float, required=True, help="miscoverage level in (0, 1), e.g. 0.1")
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration/test split")
    parser.add_argument(
        "--calibration-fraction", type=float, default=0.5, help="share of the examples used to calibrate"
    )
    parser.add_argument("--method", help="method to report last (default: the first multi-answer one)")
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="run of a single-answer model on the same examples: its best-of-k sets are compared (repeatable)",
    )
    parser.add_argument("--out", type=Path, help=f"result JSON (default RUN_DIR/{RESULT_FILE})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from beyondmode.atomic_write import write_json_atomic
    from beyondmode.evaluate.conformal_sets import run_conformal

    try:
        result = run_conformal(
            args.run_dir,
            args.alpha,
            seed=args.seed,
            calibration_fraction=args.calibration_fraction,
            method=args.method,
            baseline_dirs=args.baseline,
        )
    except ValueError as error:
        logger.error("beyondmode conformal: %s", error)
        return 2
    out = args.out or args.run_dir / RESULT_FILE
    write_json_atomic(out, result)
    logger.info("wrote %s", out)
    for name, block in result["methods"].items():
        if name != result["method"]:
            print(_method_line(name, block))
    reported = result["methods"][result["method"]]
    print(_method_line(result["method"], reported))
    print(headline(args.alpha, reported["split_conformal"]))
    return 0


def headline(alpha: float, split: dict[str, Any]) -> str:
    """The command's last line.

    >>> headline(0.1, {"coverage": 0.9123, "coverage_interval": [0.88, 0.94], "num_test": 250,
    ...                "mean_set_size": 2.314})
    'conformal: alpha 0.1, coverage 0.912 [0.880, 0.940] on 250 test cases, mean set size 2.31'
    """
    low, high = split["coverage_interval"]
    return (
        f"conformal: alpha {alpha:g}, coverage {split['coverage']:.3f} [{low:.3f}, {high:.3f}] "
        f"on {split['num_test']} test cases, mean set size {split['mean_set_size']:.2f}"
    )


def _method_line(name: str, block: dict[str, Any]) -> str:
    if "skipped" in block:
        return f"{name}: skipped ({block['skipped']})"
    split = block["split_conformal"]
    low, high = split["coverage_interval"]
    text = (
        f"{name} ({block['scoring']}): coverage {split['coverage']:.3f} [{low:.3f}, {high:.3f}], "
        f"mean set size {split['mean_set_size']:.2f}, empty {split['empty_share']:.1%}, "
        f"pool coverage {split['pool_coverage']:.3f}"
    )
    if not split["attainable"]:
        text += (
            " (not attainable: q_hat is infinite, because the calibration split is smaller than"
            " (1 - alpha) / alpha or its pools miss gold too often; the set is the whole pool)"
        )
    if "equal_tokens" in block:
        tokens = block["equal_tokens"]
        text += f", {tokens['samples']} samples = {tokens['tokens_per_example']:.0f} tokens/example"
        if not tokens["matched"]:
            text += f" (equal tokens need {tokens['wanted_samples']})"
    risk = block.get("risk_control")
    if risk is not None:
        text += (
            f"; recall control: recall {risk['mean_recall']:.3f}, mean set size {risk['mean_set_size']:.2f}"
        )
    return text
