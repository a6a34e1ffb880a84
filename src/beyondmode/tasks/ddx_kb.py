"""Diagnosis knowledge bases: pathologies, evidences and the probability tables of the simulator.

A knowledge base (KB) is the generative model of `ddx_sim`: a prior over pathologies and, for every
pathology d and evidence e, the distribution of e given d. Evidences are binary ("fever"), categorical
(one value among several: "pain intensity: 7") or multi-choice (any subset of values: "pain location:
left lower chest, epigastrium"). A *child* evidence (its `parent` names a binary evidence, DDXPlus's
`code_question`) exists only when its parent is present; its table is conditional on that.

Tables (D pathologies, V values of the evidence):

- binary: shape (D,), P(e present | d [, parent present]).
- categorical: shape (D, V), P(e = v | d [, parent present]); each row sums to 1 (default value included).
- multi-choice: shape (D, V), P(v selected | d [, parent present]), values independent; the default
  value's column is unused (the default is "nothing selected").

A *finding* (atom) is one positive item of a patient: a present binary evidence, a categorical evidence
with a non-default value, or one selected non-default value of a multi-choice evidence. Its identifier is
`code` or `code=value`.

The embedded default KB (`embedded_kb()`) is `tasks/data/mini_ddx.json`, a small English KB of common
presentations; `beyondmode.tasks.ddxplus_kb` loads the real DDXPlus release.

>>> kb = embedded_kb()
>>> len(kb.pathologies) >= 15, abs(float(kb.prior.sum()) - 1.0) < 1e-9
(True, True)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

EMBEDDED_KB = "mini_ddx.json"


class EvidenceKind(StrEnum):
    BINARY = "binary"
    CATEGORICAL = "categorical"
    MULTI = "multi"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One question of the KB. `values` includes `default` (categorical and multi-choice only)."""

    code: str
    kind: EvidenceKind
    label: str
    parent: str | None = None
    values: tuple[str, ...] = ()
    default: str | None = None
    value_labels: Mapping[str, str] = field(default_factory=dict)
    antecedent: bool = False

    @property
    def finding_values(self) -> tuple[str, ...]:
        """The values that count as a positive finding (every value but the default)."""
        return tuple(v for v in self.values if v != self.default)

    def finding_id(self, value: str | None = None) -> str:
        return self.code if value is None else f"{self.code}={value}"

    def render(self, values: tuple[str, ...] = ()) -> str:
        """One English line for this evidence's findings.

        >>> Evidence("fever", EvidenceKind.BINARY, "Fever").render()
        'Fever'
        >>> Evidence("loc", EvidenceKind.MULTI, "Pain location", values=("a", "b"),
        ...          value_labels={"a": "left chest", "b": "back"}).render(("a", "b"))
        'Pain location: left chest, back'
        """
        label = self.label.strip()
        if self.kind is EvidenceKind.BINARY:
            return f"{label} Yes" if label.endswith("?") else label
        text = ", ".join(self.value_labels.get(v, v) for v in values)
        separator = " " if label.endswith(("?", ":")) else ": "
        return f"{label}{separator}{text}"


@dataclass(frozen=True, slots=True)
class Pathology:
    name: str
    aliases: tuple[str, ...] = ()

    @property
    def gold(self) -> tuple[str, ...]:
        """The alias tuple used as a gold element (canonical name first)."""
        return (self.name, *self.aliases)


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """Prior and per-evidence tables (see the module docstring for their shapes and meaning)."""

    name: str
    pathologies: tuple[Pathology, ...]
    evidences: tuple[Evidence, ...]
    prior: np.ndarray
    tables: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def pathology_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pathologies)

    def evidence(self, code: str) -> Evidence:
        try:
            return self._by_code()[code]
        except KeyError:
            raise KeyError(f"knowledge base {self.name!r} has no evidence {code!r}") from None

    def _by_code(self) -> dict[str, Evidence]:
        return {e.code: e for e in self.evidences}


def _validate(kb: KnowledgeBase) -> None:
    num = len(kb.pathologies)
    if num < 2 or kb.prior.shape != (num,):
        raise ValueError(f"KB {kb.name!r}: need >= 2 pathologies and a prior of shape ({num},)")
    if np.any(kb.prior <= 0) or abs(float(kb.prior.sum()) - 1.0) > 1e-6:
        raise ValueError(f"KB {kb.name!r}: the prior must be positive and sum to 1")
    codes = {e.code: e for e in kb.evidences}
    for evidence in kb.evidences:
        where = f"KB {kb.name!r}, evidence {evidence.code!r}"
        if evidence.parent is not None:
            parent = codes.get(evidence.parent)
            if parent is None or parent.kind is not EvidenceKind.BINARY or parent.parent is not None:
                raise ValueError(f"{where}: parent {evidence.parent!r} must be a binary root evidence")
        table = kb.tables.get(evidence.code)
        expected = (num,) if evidence.kind is EvidenceKind.BINARY else (num, len(evidence.values))
        if table is None or table.shape != expected:
            raise ValueError(f"{where}: table must have shape {expected}")
        if not np.all((table >= 0) & (table <= 1)):
            raise ValueError(f"{where}: probabilities must lie in [0, 1]")
        if evidence.kind is EvidenceKind.CATEGORICAL and not np.allclose(table.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError(f"{where}: each pathology's value distribution must sum to 1")
        if evidence.kind is not EvidenceKind.BINARY and evidence.default not in (None, *evidence.values):
            raise ValueError(f"{where}: default {evidence.default!r} is not one of its values")


# ------------------------------------------------------------------------------------ the JSON format
def embedded_kb() -> KnowledgeBase:
    """The small English KB shipped with the package (`tasks/data/mini_ddx.json`)."""
    source = resources.files("beyondmode.tasks.data").joinpath(EMBEDDED_KB)
    return kb_from_mapping(json.loads(source.read_text(encoding="utf-8")), source=f"<package>/{EMBEDDED_KB}")


def load_kb(path: str | Path) -> KnowledgeBase:
    """Load a KB in the JSON format of `tasks/data/mini_ddx.json` (documented in docs/tasks.md)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"knowledge base file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    return kb_from_mapping(data, source=str(path))


def kb_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> KnowledgeBase:
    """Build a KB from the JSON structure: `evidences`, `pathologies` (prior, aliases, likelihoods)."""
    for key in ("evidences", "pathologies"):
        if key not in data:
            raise ValueError(f"{source}: missing top-level key {key!r}")
    smoothing = float(data.get("smoothing", 0.01))
    evidences = tuple(_evidence_from_json(code, raw, source) for code, raw in data["evidences"].items())
    pathologies = []
    priors = []
    for name, raw in data["pathologies"].items():
        if "prior" not in raw:
            raise ValueError(f"{source}: pathology {name!r} has no 'prior'")
        pathologies.append(Pathology(name, tuple(raw.get("aliases", ()))))
        priors.append(float(raw["prior"]))
    prior = np.asarray(priors, dtype=float)
    if np.any(prior <= 0):
        raise ValueError(f"{source}: every pathology prior must be > 0")
    tables = {
        e.code: np.zeros((len(pathologies),) + (() if e.kind is EvidenceKind.BINARY else (len(e.values),)))
        for e in evidences
    }
    known = {e.code: e for e in evidences}
    for row, (name, raw) in enumerate(data["pathologies"].items()):
        likelihoods = raw.get("likelihoods", {})
        for code in likelihoods:
            if code not in known:
                raise ValueError(f"{source}: pathology {name!r} names unknown evidence {code!r}")
        for evidence in evidences:
            where = f"{source}: pathology {name!r}, evidence {evidence.code!r}"
            tables[evidence.code][row] = table_row(evidence, likelihoods.get(evidence.code), smoothing, where)
    return KnowledgeBase(
        str(data.get("name", source)), tuple(pathologies), evidences, prior / prior.sum(), tables
    )


def _evidence_from_json(code: str, raw: Mapping[str, Any], source: str) -> Evidence:
    try:
        kind = EvidenceKind(raw.get("kind", "binary"))
    except ValueError:
        raise ValueError(f"{source}: evidence {code!r} has unknown kind {raw.get('kind')!r}") from None
    values = raw.get("values", {})
    if kind is not EvidenceKind.BINARY and not values:
        raise ValueError(f"{source}: {kind} evidence {code!r} needs 'values'")
    return Evidence(
        code=code,
        kind=kind,
        label=str(raw.get("label", code)),
        parent=raw.get("parent"),
        values=tuple(str(v) for v in values),
        default=None if raw.get("default") is None else str(raw["default"]),
        value_labels={str(k): str(v) for k, v in values.items()},
        antecedent=bool(raw.get("antecedent", False)),
    )


def table_row(evidence: Evidence, spec: Any, smoothing: float, where: str) -> float | np.ndarray:
    """One pathology's row of an evidence table from a sparse spec; unlinked pairs get `smoothing`.

    Binary: a probability. Categorical: {value: probability}; unlisted non-default values get `smoothing`,
    the default takes the remaining mass (the row is renormalised if nothing remains). Multi-choice:
    {value: probability of being selected}; unlisted values get `smoothing`.

    >>> e = Evidence("x", EvidenceKind.CATEGORICAL, "X", values=("no", "a", "b"), default="no")
    >>> table_row(e, {"a": 0.5}, 0.01, "here").round(3).tolist()
    [0.49, 0.5, 0.01]
    """
    if evidence.kind is EvidenceKind.BINARY:
        value = smoothing if spec is None else float(spec)
        if not 0 <= value <= 1:
            raise ValueError(f"{where}: probability {value} is outside [0, 1]")
        return value
    spec = {} if spec is None else {str(k): float(v) for k, v in spec.items()}
    unknown = set(spec) - set(evidence.values)
    if unknown:
        raise ValueError(f"{where}: unknown values {sorted(unknown)}")
    if any(not 0 <= v <= 1 for v in spec.values()):
        raise ValueError(f"{where}: probabilities must lie in [0, 1]")
    row = np.array([spec.get(v, 0.0 if v == evidence.default else smoothing) for v in evidence.values])
    if evidence.kind is EvidenceKind.MULTI:
        return row
    total = row.sum()
    if evidence.default is not None and evidence.default not in spec:
        index = evidence.values.index(evidence.default)
        row[index] = max(0.0, 1.0 - total)
        total = row.sum()
    if total > 1 + 1e-6 and spec and sum(spec.values()) > 1 + 1e-6:
        raise ValueError(f"{where}: value probabilities sum to {sum(spec.values()):.4f} > 1")
    return row / total
