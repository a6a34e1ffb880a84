"""Torch CPU threads per process, set by every CLI command before any model work.

Precedence: `--threads N`, else the run config's `threads` key (train, warmstart), else the
`OMP_NUM_THREADS` environment variable, else 1. One thread is the default because the models trained on
CPU here are small: on a shared 2-core machine GRPO steps ran about 10x faster with one thread than with
torch's default (one per core, fighting the other processes), and under `torchrun`/`accelerate` each
rank is its own process anyway. The count is written to `OMP_NUM_THREADS` and `MKL_NUM_THREADS` (so
torch picks it up when it is imported later, and subprocesses inherit it) and, when torch is already
imported, passed to `torch.set_num_threads`.

>>> resolve_thread_count(None, environ={})
1
>>> resolve_thread_count(None, environ={"OMP_NUM_THREADS": "4"}), resolve_thread_count(2, environ={})
(4, 2)
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

logger = logging.getLogger(__name__)

DEFAULT_THREADS = 1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def resolve_thread_count(requested: int | None, environ: Mapping[str, str] = os.environ) -> int:
    """`requested` when given, else `OMP_NUM_THREADS` when it is a positive integer, else 1."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--threads must be >= 1, got {requested}")
        return requested
    value = environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    if value:
        logger.warning(
            "OMP_NUM_THREADS=%r is not a positive integer: using %d thread", value, DEFAULT_THREADS
        )
    return DEFAULT_THREADS


def apply_thread_count(count: int) -> None:
    """Set the thread environment variables and, if torch is imported, torch's intra-op thread count."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(count)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)
    logger.debug("torch CPU threads: %d", count)


def apply_config_threads(config_threads: int | None, flag: int | None) -> None:
    """A run config's `threads` key, unless `--threads` was given (the flag wins)."""
    if flag is None and config_threads is not None:
        apply_thread_count(resolve_thread_count(config_threads))
