"""Append-only cache of generations, keyed by (example id, method, sample index).

Every batch is appended and flushed as soon as it is generated, so an interrupted evaluation resumes
without regenerating what it already has. A torn last line (a kill mid-write) is dropped with a warning.

>>> import tempfile, pathlib
>>> cache = GenerationCache(pathlib.Path(tempfile.mkdtemp()) / "generations.jsonl")
>>> cache.append([("ex1", "greedy", 0, Generation("<answer> 4 </answer>", 3, 0.1))])
>>> GenerationCache(cache.path).get("ex1", "greedy", 0).num_tokens
3
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from beyondmode.evaluate.backends.base import Generation

logger = logging.getLogger(__name__)

CacheKey = tuple[str, str, int]


class GenerationCache:
    """Generations already drawn for a run, loaded from and appended to one JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._entries: dict[CacheKey, Generation] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            logger.warning("%s: dropping a torn last line (interrupted write)", self.path)
            os.truncate(self.path, keep)
            data = data[:keep]
        for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = (str(row["example_id"]), str(row["method"]), int(row["sample"]))
                self._entries[key] = Generation(
                    str(row["text"]), int(row["num_tokens"]), float(row["seconds"])
                )
            except json.JSONDecodeError:
                raise ValueError(f"{self.path}:{number}: not valid JSON") from None
            except KeyError as error:
                raise ValueError(f"{self.path}:{number}: missing field {error}") from None
        logger.info("loaded %d cached generations from %s", len(self._entries), self.path)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, example_id: str, method: str, sample: int) -> Generation | None:
        return self._entries.get((example_id, method, sample))

    def count(self, example_id: str, method: str, num_samples: int) -> int:
        """How many of samples 0..num_samples-1 are cached, counting from 0 without gaps."""
        have = 0
        while have < num_samples and (example_id, method, have) in self._entries:
            have += 1
        return have

    def append(self, items: Iterable[tuple[str, str, int, Generation]]) -> None:
        """Store generations and flush them to disk (one JSON line each)."""
        lines = []
        for example_id, method, sample, generation in items:
            self._entries[(example_id, method, sample)] = generation
            row = {
                "example_id": example_id,
                "method": method,
                "sample": sample,
                "text": generation.text,
                "num_tokens": generation.num_tokens,
                "seconds": generation.seconds,
            }
            lines.append(json.dumps(row, ensure_ascii=False) + "\n")
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
            handle.flush()
            os.fsync(handle.fileno())
