"""Load the real DDXPlus knowledge base (release_conditions/evidences, English or French codes) and a
probability table in the `ddxplus_bed_stats` shape into a simulator `KnowledgeBase`.

Raw shapes (from the public release):

    release_evidences.en.json:  {"E_91": {"name": "E_91", "code_question": "E_91", "question_en": "Do you have
        a fever ...?", "is_antecedent": false, "default_value": 0, "value_meaning": {}, "possible-values": [],
        "data_type": "B"}, ...}      (the .fr file: the same entries in the same order, French codes)
    release_conditions.en.json: {"Spontaneous pneumothorax": {"condition_name": ..., "cond-name-fr":
        "Pneumothorax spontané", "cond-name-eng": "Spontaneous pneumothorax", "symptoms": {"E_55": {}, ...},
        "antecedents": {...}, "severity": 2}, ...}
    ddxplus_bed_stats_4.json:   {"Anémie": {"prior": 0.049, "findings": {"irc": 0.75, "douleurxx_intens":
        {"0": 0.0097, "1": 0.20, ...}, ...}}, ...}      (French names, marginal frequencies)

The table's child entries are marginal over patients (a patient without the parent counts as the default
value: Anémie's P(douleurxx_intens = 0) = 1 - P(douleurxx)). The simulator's child tables are conditional
on the parent, so they are converted: P(v | parent) = P(v) / P(parent) for non-default values, the default
taking the rest. Pairs absent from the table (unlinked) get `smoothing`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from beyondmode.tasks.ddx_kb import Evidence, EvidenceKind, KnowledgeBase, Pathology

logger = logging.getLogger(__name__)

_KINDS = {"B": EvidenceKind.BINARY, "C": EvidenceKind.CATEGORICAL, "M": EvidenceKind.MULTI}
DEFAULT_SMOOTHING = 1e-4


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"DDXPlus file not found: {path}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def load_ddxplus_evidences(path: str | Path) -> tuple[Evidence, ...]:
    """Evidences of a `release_evidences.{en,fr}.json` file, with English labels and value texts."""
    path = Path(path)
    raw = read_json(path)
    evidences = []
    for code, entry in raw.items():
        try:
            kind = _KINDS[entry["data_type"]]
            parent = entry["code_question"]
            values = tuple(str(v) for v in entry.get("possible-values", ()))
            meanings = entry.get("value_meaning") or {}
            evidences.append(
                Evidence(
                    code=code,
                    kind=kind,
                    label=str(entry["question_en"]),
                    parent=parent if parent != code and parent in raw else None,
                    values=values if kind is not EvidenceKind.BINARY else (),
                    default=None if kind is EvidenceKind.BINARY else str(entry["default_value"]),
                    value_labels={v: str(meanings.get(v, {}).get("en", v)) for v in values},
                    antecedent=bool(entry.get("is_antecedent", False)),
                )
            )
        except KeyError as error:
            raise ValueError(f"{path}: evidence {code!r} lacks field {error.args[0]!r}") from None
    return tuple(evidences)


def load_ddxplus_conditions(path: str | Path) -> list[Pathology]:
    """Pathologies of a `release_conditions` file: English name, French name as alias."""
    path = Path(path)
    pathologies = []
    for key, entry in read_json(path).items():
        try:
            english, french = entry["cond-name-eng"], entry["cond-name-fr"]
        except KeyError as error:
            raise ValueError(f"{path}: condition {key!r} lacks field {error.args[0]!r}") from None
        pathologies.append(Pathology(english, (french,) if french != english else ()))
    return pathologies


def code_maps(directory: Path) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """French -> English evidence codes and (English code, French value) -> English value, by file order."""
    french = read_json(directory / "release_evidences.fr.json")
    english = read_json(directory / "release_evidences.en.json")
    if len(french) != len(english):
        raise ValueError(f"{directory}: the en and fr evidence files differ in length")
    codes: dict[str, str] = {}
    values: dict[tuple[str, str], str] = {}
    for (fr_code, fr), (en_code, en) in zip(french.items(), english.items(), strict=True):
        if fr["question_en"] != en["question_en"] or fr["data_type"] != en["data_type"]:
            raise ValueError(f"{directory}: evidence files disagree at {fr_code!r} / {en_code!r}")
        codes[fr_code] = en_code
        for fr_value, en_value in zip(
            fr.get("possible-values", ()), en.get("possible-values", ()), strict=True
        ):
            values[(en_code, str(fr_value))] = str(en_value)
    return codes, values


def load_ddxplus_kb(
    directory: str | Path, stats: str | Path, *, codes: str = "en", smoothing: float = DEFAULT_SMOOTHING
) -> KnowledgeBase:
    """A simulator KB from a DDXPlus release directory and a `ddxplus_bed_stats`-shaped table.

    `codes` picks the evidence codes ("en": E_91 ..., "fr": fievre ...); the table is keyed by French names
    and is mapped through the two evidence files when `codes="en"`.
    """
    directory, stats = Path(directory), Path(stats)
    if codes not in ("en", "fr"):
        raise ValueError(f"codes must be 'en' or 'fr', got {codes!r}")
    evidences = load_ddxplus_evidences(directory / f"release_evidences.{codes}.json")
    by_french = {
        p.aliases[0] if p.aliases else p.name: p
        for p in load_ddxplus_conditions(directory / f"release_conditions.{codes}.json")
    }
    table = read_json(stats)
    if codes == "en":
        code_map, value_map = code_maps(directory)
    else:
        code_map = {e.code: e.code for e in evidences}
        value_map = {(e.code, v): v for e in evidences for v in e.values}
    pathologies, priors, findings = [], [], []
    for name, entry in table.items():
        if name not in by_french:
            raise ValueError(
                f"{stats}: pathology {name!r} is not in {directory}/release_conditions.{codes}.json"
            )
        if "prior" not in entry or "findings" not in entry:
            raise ValueError(f"{stats}: pathology {name!r} needs 'prior' and 'findings'")
        pathologies.append(by_french[name])
        priors.append(float(entry["prior"]))
        findings.append(_translate(entry["findings"], code_map, value_map, f"{stats}: {name!r}"))
    prior = np.asarray(priors)
    tables = _tables(evidences, findings, smoothing)
    return KnowledgeBase(f"ddxplus:{stats.name}", tuple(pathologies), evidences, prior / prior.sum(), tables)


def _translate(
    findings: dict[str, Any], code_map: dict[str, str], value_map: dict[tuple[str, str], str], where: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, value in findings.items():
        if code not in code_map:
            raise ValueError(f"{where}: unknown evidence {code!r}")
        target = code_map[code]
        if isinstance(value, dict):
            try:
                out[target] = {value_map[(target, str(v))]: float(p) for v, p in value.items()}
            except KeyError as error:
                raise ValueError(
                    f"{where}: evidence {code!r} has unknown value {error.args[0][1]!r}"
                ) from None
        else:
            out[target] = float(value)
    return out


def _tables(
    evidences: tuple[Evidence, ...], findings: list[dict[str, Any]], smoothing: float
) -> dict[str, np.ndarray]:
    tables: dict[str, np.ndarray] = {}
    for evidence in evidences:
        rows = []
        for entry in findings:
            parent = 1.0 if evidence.parent is None else float(entry.get(evidence.parent, smoothing))
            rows.append(_row(evidence, entry.get(evidence.code), parent, smoothing))
        tables[evidence.code] = np.asarray(rows, dtype=float)
    return tables


def _row(evidence: Evidence, spec: Any, parent: float, smoothing: float) -> float | np.ndarray:
    """One pathology's conditional row from a marginal table entry (see the module docstring)."""
    if evidence.kind is EvidenceKind.BINARY:
        return float(np.clip(smoothing if spec is None else spec, smoothing, 1 - smoothing))
    count = len(evidence.values)
    default = evidence.values.index(evidence.default) if evidence.default in evidence.values else None
    if spec is None:
        row = np.full(count, smoothing)
        if evidence.kind is EvidenceKind.CATEGORICAL and default is not None:
            row[default] = 1 - smoothing * (count - 1)
        return row
    marginal = np.array([spec.get(v, 0.0) for v in evidence.values])
    row = np.clip(marginal / max(parent, smoothing), smoothing, 1 - smoothing)
    if evidence.kind is EvidenceKind.MULTI:
        return row
    if default is not None:
        others = row.sum() - row[default]
        row[default] = max(smoothing, 1 - others)
    return row / row.sum()
