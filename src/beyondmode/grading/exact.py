"""Normalized exact match with aliases (SQuAD-style normalization, Unicode-aware)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from beyondmode.grading.base import Gold

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def normalize_answer(text: str) -> str:
    """Lowercase, strip accents, punctuation and English articles, collapse whitespace.

    >>> normalize_answer("  The  Café-au-lait Spots! ")
    'cafe au lait spots'
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":
            continue
        kept.append(" " if category[0] in "PS" else char)
    cleaned = _ARTICLES.sub(" ", "".join(kept))
    return _SPACES.sub(" ", cleaned).strip()


@lru_cache(maxsize=1 << 14)
def _alias_index(gold: Gold) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, aliases in enumerate(gold):
        for alias in aliases:
            index.setdefault(normalize_answer(alias), position)
    index.pop("", None)
    return index


class ExactMatchGrader:
    """A candidate hits the gold element one of whose aliases it equals after normalization.

    >>> ExactMatchGrader().match("Influenza A", (("flu", "influenza a"),))
    0
    """

    name = "exact_match"

    def canonical(self, candidate: str) -> str:
        return normalize_answer(candidate)

    def match(self, candidate: str, gold: Gold) -> int | None:
        key = normalize_answer(candidate)
        if not key:
            return None
        return _alias_index(gold).get(key)
