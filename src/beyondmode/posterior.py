"""An example's exact posterior over answers, with every answer's aliases, and its one serialization.

`Posterior` maps each possible answer to P(answer is in the gold set | prompt) (for a task whose gold set
is the single true answer, P(answer is the truth | prompt)). It is a read-only `Mapping[str, float]`, so
code that only needs probabilities reads it like a dict, and it carries `aliases[answer]`, the other
spellings that count as that answer. Expected-mode grading needs the aliases of EVERY answer, not only
those of the sampled gold element, or its rewards would depend on the label that was drawn.

`encode_posterior` writes the one stored form (a JSON list of {answer, probability, aliases} records,
the record shape verl's parquet uses); `decode_posterior` reads it back, and also reads a JSON object
{answer: probability}, a mapping, or a list of records without aliases.

>>> post = Posterior({"Influenza": 0.75, "Common cold": 0.25}, {"Influenza": ("flu",)})
>>> post["Influenza"], post.aliases_of("Influenza"), post.aliases_of("Common cold")
(0.75, ('flu',), ())
>>> decode_posterior(encode_posterior(post)) == post, decode_posterior(encode_posterior(post)).aliases
(True, {'Influenza': ('flu',)})
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any


class Posterior(Mapping[str, float]):
    """Probabilities of the possible answers (insertion order kept) and each answer's aliases.

    Equality is a mapping's: it compares the probabilities only (a plain dict with the same items is
    equal), so replacing a dict posterior by a `Posterior` changes no comparison.
    """

    __slots__ = ("_aliases", "_probabilities")

    def __init__(
        self, probabilities: Mapping[str, float], aliases: Mapping[str, tuple[str, ...]] | None = None
    ) -> None:
        self._probabilities = {str(answer): float(p) for answer, p in probabilities.items()}
        for answer, p in self._probabilities.items():
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise ValueError(f"posterior probability of {answer!r} must be in [0, 1], got {p}")
        given = dict(aliases or {})
        unknown = sorted(set(given) - set(self._probabilities))
        if unknown:
            raise ValueError(f"posterior aliases name answers that are not in the posterior: {unknown}")
        self._aliases = {str(a): tuple(str(x) for x in names) for a, names in given.items() if names}

    def __getitem__(self, answer: str) -> float:
        return self._probabilities[answer]

    def __iter__(self) -> Iterator[str]:
        return iter(self._probabilities)

    def __len__(self) -> int:
        return len(self._probabilities)

    def __repr__(self) -> str:
        return f"Posterior({self._probabilities!r}, aliases={self._aliases!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Posterior, (self._probabilities, self._aliases))

    @property
    def aliases(self) -> dict[str, tuple[str, ...]]:
        """{answer: its other spellings}, only for answers that have some."""
        return dict(self._aliases)

    def aliases_of(self, answer: str) -> tuple[str, ...]:
        return self._aliases.get(answer, ())


def encode_posterior(posterior: Mapping[str, float] | None) -> str:
    """The stored form: "" for none, else a JSON list of {answer, probability, aliases} records.

    >>> encode_posterior({"flu": 1.0})
    '[{"answer": "flu", "probability": 1.0, "aliases": []}]'
    """
    if posterior is None:
        return ""
    return json.dumps(posterior_records(posterior))


def posterior_records(posterior: Mapping[str, float]) -> list[dict[str, Any]]:
    """The posterior as {answer, probability, aliases} records, in the posterior's order."""
    aliases = posterior.aliases if isinstance(posterior, Posterior) else {}
    return [
        {"answer": str(answer), "probability": float(p), "aliases": list(aliases.get(answer, ()))}
        for answer, p in posterior.items()
    ]


def decode_posterior(value: Any, where: str = "posterior") -> Posterior | None:
    """A posterior from a stored cell; None for "", "null", None or an empty list/mapping.

    Accepts what `encode_posterior` writes, a JSON object {answer: probability}, a mapping (a
    `Posterior` keeps its aliases), a list of {answer, probability[, aliases]} records, or numpy arrays
    of those (pandas-read parquet). `where` names the cell in error messages.

    >>> decode_posterior('{"flu": 0.5, "cold": 0.5}')
    Posterior({'flu': 0.5, 'cold': 0.5}, aliases={})
    >>> decode_posterior([{"answer": "flu", "probability": 1.0, "aliases": ["influenza"]}]).aliases
    {'flu': ('influenza',)}
    """
    if isinstance(value, Posterior):
        return value
    if isinstance(value, str):
        if value in ("", "null"):
            return None
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{where}: not valid JSON ({error}): {value[:80]!r}") from None
    value = plain_data(value)
    if value is None or (isinstance(value, list | dict) and not value):
        return None
    if isinstance(value, dict):
        return Posterior({str(k): float(v) for k, v in value.items() if v is not None})
    if not isinstance(value, list):
        raise ValueError(f"{where}: cannot read a posterior from {type(value).__name__}: {value!r}")
    try:
        probabilities = {str(item["answer"]): float(item["probability"]) for item in value}
        aliases = {str(item["answer"]): tuple(item.get("aliases") or ()) for item in value}
    except (TypeError, KeyError, AttributeError) as error:
        raise ValueError(
            f"{where}: a posterior list must hold {{answer, probability[, aliases]}} records ({error!r}), "
            f"got {value!r}"
        ) from None
    return Posterior(probabilities, aliases)


def plain_data(value: Any) -> Any:
    """numpy arrays and tuples as lists, recursively; numpy scalars as Python; mappings as dicts."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [plain_data(item) for item in value]
    if isinstance(value, Mapping):
        return {key: plain_data(item) for key, item in value.items()}
    return value
