"""Estimate a DDXPlus probability table (the `ddxplus_bed_stats_4.json` shape) from patient CSVs.

Output, keyed by the pathology names and evidence codes used in the CSVs:

    {"Anémie": {"prior": 0.0494, "findings": {"irc": 0.7516,
                "douleurxx_intens": {"0": 0.0097, "1": 0.2024, ..., "10": 1e-07}, ...}}, ...}

- prior: the pathology's share of the patients;
- binary evidence: the fraction of the pathology's patients who have it;
- categorical: the distribution of its value over ALL the pathology's patients, a patient without the
  evidence (its parent absent) counting as the default value; unseen values get `floor` (1e-7);
- multi-choice: per-value frequency (not exclusive); the default's entry is the fraction with no
  non-default value; unseen values get `floor`.

An evidence appears for a pathology when at least one of its patients mentions it (with any value, the
default included: `trav1_@_N` makes `trav1` appear).
These are marginal frequencies, as in the published table; `beyondmode.tasks.ddxplus_kb` turns them into
the simulator's conditional tables.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from beyondmode.tasks.ddx_kb import Evidence, EvidenceKind
from beyondmode.tasks.ddxplus import read_patients

logger = logging.getLogger(__name__)

FLOOR = 1e-7


class _Counts:
    def __init__(self) -> None:
        self.patients = 0
        self.mentioned: set[str] = set()
        self.values: Counter[tuple[str, str | None]] = Counter()
        self.any_value: Counter[str] = Counter()


def compute_stats(
    paths: Sequence[str | Path],
    evidences: dict[str, Evidence],
    *,
    skip_bad_rows: bool = False,
    floor: float = FLOOR,
) -> dict[str, dict[str, Any]]:
    """The probability table of the patients in `paths` (see the module docstring)."""
    counts: dict[str, _Counts] = defaultdict(_Counts)
    total = 0
    for path in paths:
        for patient in read_patients(path, evidences, skip_bad_rows=skip_bad_rows):
            total += 1
            entry = counts[patient.pathology]
            entry.patients += 1
            _count(entry, patient.findings)
            entry.mentioned.update(patient.mentioned)
    if total == 0:
        raise ValueError(f"no patients in {[str(p) for p in paths]}")
    return {name: _pathology_stats(counts[name], total, evidences, floor) for name in sorted(counts)}


def _count(entry: _Counts, findings: Iterable[str]) -> None:
    seen_codes: set[str] = set()
    for finding in findings:
        code, _, value = finding.partition("=")
        entry.values[(code, value or None)] += 1
        seen_codes.add(code)
    for code in seen_codes:
        entry.any_value[code] += 1
    entry.mentioned |= seen_codes


def _pathology_stats(
    entry: _Counts, total: int, evidences: dict[str, Evidence], floor: float
) -> dict[str, Any]:
    findings: dict[str, Any] = {}
    for code in sorted(entry.mentioned):
        evidence = evidences[code]
        n = entry.patients
        if evidence.kind is EvidenceKind.BINARY:
            findings[code] = entry.values[(code, None)] / n
            continue
        table = {v: entry.values[(code, v)] / n for v in evidence.values if v != evidence.default}
        if evidence.default is not None:
            if evidence.kind is EvidenceKind.CATEGORICAL:
                table[evidence.default] = 1 - sum(table.values())
            else:
                table[evidence.default] = 1 - entry.any_value[code] / n
        findings[code] = {v: (p if p > 0 else floor) for v, p in table.items()}
    return {"prior": entry.patients / total, "findings": findings}
