"""Fixtures of the evaluation tests: a toy task with known gold and posterior, and a scripted backend."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
