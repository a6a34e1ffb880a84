"""Write files atomically: a temporary file in the same folder, then `os.replace`.

A reader never sees a half-written result, and a killed run leaves the previous version intact. Every
writer of results, manifests, run records and data files goes through `atomic_open`.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_text_atomic(folder / "a.txt", "done").read_text()
'done'
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` ("w" text UTF-8, or "wb"); on success it replaces `path`
    (readable by others, 0644), on an exception it is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, encoding=None if "b" in mode else "utf-8") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; results are meant to be read by others
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically (parent folders are created)."""
    with atomic_open(path) as stream:
        stream.write(text)
    return Path(path)


def write_json_atomic(path: str | Path, value: Any) -> Path:
    """Write `value` as indented JSON, atomically."""
    return write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(path: str | Path, rows: Iterable[Any]) -> Path:
    """Write one JSON value per line, atomically."""
    with atomic_open(path) as stream:
        for row in rows:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)
