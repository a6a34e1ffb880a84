"""Logging configuration for the CLI (library modules only create loggers; they never configure them)."""

from __future__ import annotations

import logging
import os

from rich.logging import RichHandler

_HANDLER_NAME = "beyondmode-cli"


def configure_logging(verbosity: int = 0) -> None:
    """Rich console logging for `beyondmode.*` on the main process; warnings only on other ranks.

    Idempotent; leaves the root logger alone (so pytest's caplog and a user's own handlers keep working).
    """
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
    level = logging.INFO
    if rank != 0:
        level = logging.WARNING
    elif verbosity > 0:
        level = logging.DEBUG
    logger = logging.getLogger("beyondmode")
    logger.setLevel(level)
    if not any(handler.get_name() == _HANDLER_NAME for handler in logger.handlers):
        handler = RichHandler(show_path=False, rich_tracebacks=True, markup=False)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
