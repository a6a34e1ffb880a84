"""Logging configuration for the CLI (library modules only create loggers; they never configure them)."""

from __future__ import annotations

import logging
import os

from rich.logging import RichHandler


def configure_logging(verbosity: int = 0) -> None:
    """Rich console logging on the main process; warnings only on other ranks (torchrun/accelerate)."""
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
    level = logging.WARNING if rank != 0 else (logging.DEBUG if verbosity > 1 else logging.INFO)
    if verbosity == 0 and rank == 0:
        level = logging.INFO
    handler = RichHandler(show_path=False, rich_tracebacks=True, markup=False)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[handler], force=True)
    logging.getLogger("beyondmode").setLevel(level)
