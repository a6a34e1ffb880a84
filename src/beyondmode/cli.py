"""`beyondmode` command line: one subcommand per module in `beyondmode.commands`.

Each command module exposes `register(subparsers)`, which adds its parser and sets `handler` to a
function `(args) -> int`. Commands import heavy dependencies (torch, trl) inside their handler, so that
`beyondmode --help` and the light commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from beyondmode import __version__
from beyondmode.config import ConfigError
from beyondmode.log_setup import configure_logging
from beyondmode.tasks.rows import RowError
from beyondmode.thread_count import apply_thread_count, resolve_thread_count

logger = logging.getLogger(__name__)

COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "train",
    "warmstart",
    "eval",
    "report",
    "serve",
    "models",
    "score",
    "conformal",
    "data",
    "ddxplus_stats",
    "export",
    "export_evalplus",
)
"""Modules of `beyondmode.commands`, in the order their commands appear in `--help`."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beyondmode",
        description="Multi-answer RL: K distinct candidates with calibrated confidences in one generation.",
    )
    parser.add_argument("--version", action="version", version=f"beyondmode {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"beyondmode.commands.{name}").register(subparsers)
    for command in subparsers.choices.values():
        command.add_argument(
            "--threads",
            type=int,
            default=None,
            metavar="N",
            help="torch CPU threads for this process (default: the config's threads key, else "
            "OMP_NUM_THREADS, else 1)",
        )
        command.add_argument(
            "-v", "--verbose", action="count", default=argparse.SUPPRESS, help="debug logging, tracebacks"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    configure_logging(args.verbose)
    try:
        apply_thread_count(resolve_thread_count(args.threads))
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, IsADirectoryError, RowError, ConfigError) as error:
        if args.verbose:
            raise
        print(f"beyondmode {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
