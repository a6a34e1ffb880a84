"""`ddxplus`: real DDXPlus patients (release CSVs) or the HF layout of the published recipe.

One raw patient row (subset_test_patients.fr.csv; the full English release uses E_/V_ codes):

    AGE,DIFFERENTIAL_DIAGNOSIS,SEX,PATHOLOGY,EVIDENCES,INITIAL_EVIDENCE
    34,"[['Laryngospasme', 1.0]]",F,Laryngospasme,"['j06.9', 'stridor', 'trav1_@_N', 'z77.22']",stridor

EVIDENCES holds binary codes (`stridor`) and `code_@_value` items for categorical and multi-choice
evidences (`trav1_@_N`, default values included); they are decoded through the release's evidence file
(`release_evidences.{en,fr}.json`, found beside the CSV unless `kb_dir` is given) into English lines.
`gold="differential"` (the published recipe) takes the DIFFERENTIAL_DIAGNOSIS pathologies, `gold=
"pathology"` the true PATHOLOGY; names are the English condition names with the French one as alias.

HF layout (jsonl/json/parquet/csv with columns `problem`, `answers`):

    {"problem": "A 29-year-old woman ... What are the likely diagnoses?",
     "answers": ["Bronchitis", "Whooping cough"]}
"""

from __future__ import annotations

import ast
import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.ddx_kb import Evidence, EvidenceKind, Pathology
from beyondmode.tasks.ddx_sim_task import render_case
from beyondmode.tasks.ddxplus_kb import load_ddxplus_conditions, load_ddxplus_evidences
from beyondmode.tasks.rows import RowError, SkipCounter, read_table
from beyondmode.types import Example

logger = logging.getLogger(__name__)

PATIENT_COLUMNS = ("AGE", "SEX", "PATHOLOGY", "EVIDENCES", "DIFFERENTIAL_DIAGNOSIS")
SEPARATOR = "_@_"


@dataclass(frozen=True, slots=True)
class Patient:
    """One decoded patient row. `findings` are finding ids (`code` or `code=value`, defaults dropped)."""

    row: int
    age: int
    sex: str
    pathology: str
    findings: tuple[str, ...]
    differential: tuple[tuple[str, float], ...]
    initial_evidence: str | None
    mentioned: tuple[str, ...] = ()


def read_patients(
    path: str | Path, evidences: dict[str, Evidence], *, skip_bad_rows: bool = False
) -> Iterator[Patient]:
    """Patients of a DDXPlus CSV; bad rows raise `RowError` (file, row, field) unless skipped (counted)."""
    path = Path(path)
    skipped = SkipCounter(path, skip_bad_rows)
    if not path.is_file():
        raise FileNotFoundError(f"DDXPlus patient file not found: {path}")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in PATIENT_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise RowError(path, 1, ",".join(missing), f"missing columns (found {reader.fieldnames})")
        for number, raw in enumerate(reader, start=2):
            try:
                yield _patient(path, number, raw, evidences)
            except RowError as error:
                skipped.skip(error)
    skipped.report()


def _patient(path: Path, number: int, raw: dict[str, str], evidences: dict[str, Evidence]) -> Patient:
    def literal(field: str) -> Any:
        try:
            return ast.literal_eval(raw[field])
        except (ValueError, SyntaxError):
            raise RowError(path, number, field, f"not a Python list literal: {raw[field][:60]!r}") from None

    try:
        age = int(raw["AGE"])
    except (TypeError, ValueError):
        raise RowError(path, number, "AGE", f"not an integer: {raw['AGE']!r}") from None
    items = literal("EVIDENCES")
    differential = literal("DIFFERENTIAL_DIAGNOSIS")
    if not isinstance(items, list) or not isinstance(differential, list):
        raise RowError(path, number, "EVIDENCES", "EVIDENCES and DIFFERENTIAL_DIAGNOSIS must be lists")
    if not raw["PATHOLOGY"]:
        raise RowError(path, number, "PATHOLOGY", "empty")
    findings = []
    for item in items:
        finding = decode_evidence(str(item), evidences)
        if finding is None:
            raise RowError(path, number, "EVIDENCES", f"unknown evidence or value {item!r}")
        if finding:
            findings.append(finding)
    try:
        pairs = tuple((str(name), float(p)) for name, p in differential)
    except (TypeError, ValueError):
        raise RowError(path, number, "DIFFERENTIAL_DIAGNOSIS", "items must be [name, probability]") from None
    mentioned = tuple(dict.fromkeys(str(item).partition(SEPARATOR)[0] for item in items))
    return Patient(
        number,
        age,
        raw["SEX"],
        raw["PATHOLOGY"],
        tuple(dict.fromkeys(findings)),
        pairs,
        raw.get("INITIAL_EVIDENCE") or None,
        mentioned,
    )


def decode_evidence(item: str, evidences: dict[str, Evidence]) -> str | None:
    """`code` or `code_@_value` -> finding id; "" for a default value (not a finding); None if unknown.

    >>> travel = Evidence("trav1", EvidenceKind.CATEGORICAL, "Travel", values=("N", "Asie"), default="N")
    >>> ev = {"trav1": travel}
    >>> decode_evidence("trav1_@_Asie", ev), decode_evidence("trav1_@_N", ev), decode_evidence("x", ev)
    ('trav1=Asie', '', None)
    """
    code, _, value = item.partition(SEPARATOR)
    evidence = evidences.get(code)
    if evidence is None:
        return None
    if evidence.kind is EvidenceKind.BINARY:
        return code if not value else None
    if value not in evidence.values:
        return None
    return "" if value == evidence.default else f"{code}={value}"


def render_patient(patient: Patient, evidences: dict[str, Evidence]) -> list[str]:
    """English lines: age and sex, then one line per evidence (multi-choice values share a line)."""
    values: dict[str, list[str]] = {}
    for finding in patient.findings:
        code, _, value = finding.partition("=")
        values.setdefault(code, [])
        if value:
            values[code].append(value)
    lines = [f"Age: {patient.age}, sex: {patient.sex}"]
    lines.extend(evidences[code].render(tuple(vals)) for code, vals in values.items())
    return lines


@dataclass(frozen=True)
class DdxPlusTask:
    """DDXPlus patients (`path`: a patient CSV, or an HF-layout file with `problem`/`answers`)."""

    path: str
    gold: str = "differential"
    kb_dir: str | None = None
    limit: int | None = None
    skip_bad_rows: bool = False
    list_pathologies: bool = True

    name: ClassVar[str] = "ddxplus"
    grader: ClassVar[str] = "exact_match"

    def __post_init__(self) -> None:
        if self.gold not in ("differential", "pathology"):
            raise ValueError(f"ddxplus option gold must be 'differential' or 'pathology', got {self.gold!r}")

    @property
    def multi_gold(self) -> bool:
        return self.gold == "differential"

    @property
    def answer_options(self) -> tuple[str, ...] | None:
        """The pathologies the prompt lists (`list_pathologies` with a patient CSV), else None."""
        if not (self.list_pathologies and _is_patient_csv(Path(self.path))):
            return None
        return tuple(sorted({p.name for p in self._knowledge()[1].values()}))

    @property
    def task_sentence(self) -> str:
        sentence = "A patient's age, sex and findings are listed. Propose distinct diagnoses (pathologies)."
        options = self.answer_options
        if options:
            sentence += " Possible diagnoses: " + ", ".join(options) + "."
        return sentence

    def examples(self, answer_format: AnswerFormat) -> Iterator[Example]:
        system = answer_format.instructions(self.task_sentence)
        source = Path(self.path)
        rows = self._patients(system) if _is_patient_csv(source) else self._hf_rows(system)
        for count, example in enumerate(rows):
            if self.limit is not None and count >= self.limit:
                return
            yield example

    def _knowledge(self) -> tuple[dict[str, Evidence], dict[str, Pathology]]:
        directory = Path(self.kb_dir) if self.kb_dir else Path(self.path).parent
        codes = detect_codes(Path(self.path))
        evidences = {e.code: e for e in load_ddxplus_evidences(directory / f"release_evidences.{codes}.json")}
        pathologies: dict[str, Pathology] = {}
        for pathology in load_ddxplus_conditions(directory / f"release_conditions.{codes}.json"):
            for key in pathology.gold:
                pathologies[key] = pathology
        return evidences, pathologies

    def _patients(self, system: str) -> Iterator[Example]:
        evidences, pathologies = self._knowledge()
        for patient in read_patients(self.path, evidences, skip_bad_rows=self.skip_bad_rows):
            names = [patient.pathology] if self.gold == "pathology" else [n for n, _ in patient.differential]
            unknown = [n for n in [*names, patient.pathology] if n not in pathologies]
            if unknown:
                raise RowError(Path(self.path), patient.row, "PATHOLOGY", f"unknown pathologies {unknown}")
            lines = render_patient(patient, evidences)
            yield Example(
                id=f"ddxplus-{Path(self.path).stem}-{patient.row}",
                prompt=build_prompt(system, render_case(lines)),
                gold=tuple(pathologies[n].gold for n in names),
                grader=self.grader,
                metadata={
                    "pathology": pathologies[patient.pathology].name,
                    "findings": list(patient.findings),
                    "finding_texts": lines,
                    "age": patient.age,
                    "sex": patient.sex,
                    "row": patient.row,
                    "initial_evidence": patient.initial_evidence,
                    "differential": [[pathologies[n].name, p] for n, p in patient.differential],
                },
            )

    def _hf_rows(self, system: str) -> Iterator[Example]:
        for number, row in read_table(
            Path(self.path), ("problem", "answers"), skip_bad_rows=self.skip_bad_rows
        ):
            answers = row["answers"]
            if isinstance(answers, str):
                answers = _literal_list(Path(self.path), number, answers)
            if not answers or not all(isinstance(a, str) and a for a in answers):
                raise RowError(Path(self.path), number, "answers", "must be a non-empty list of strings")
            yield Example(
                id=f"ddxplus-{Path(self.path).stem}-{number}",
                prompt=build_prompt(system, str(row["problem"])),
                gold=tuple((a,) for a in dict.fromkeys(answers)),
                grader=self.grader,
                metadata={"row": number, "source": "hf"},
            )


def _literal_list(path: Path, number: int, text: str) -> list[Any]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise RowError(path, number, "answers", f"not a list: {text[:60]!r}") from None
    if not isinstance(value, list):
        raise RowError(path, number, "answers", f"not a list: {text[:60]!r}")
    return value


def _is_patient_csv(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline()
    except FileNotFoundError:
        raise FileNotFoundError(f"DDXPlus file not found: {path}") from None
    return "EVIDENCES" in header


def detect_codes(path: Path) -> str:
    """ "fr" when the patients use French evidence codes (the subset), else "en" (E_/V_ codes)."""
    with open(path, encoding="utf-8", newline="") as handle:
        first = next(csv.DictReader(handle), None)
    if first is None or not first.get("EVIDENCES"):
        return "en"
    try:
        items = ast.literal_eval(first["EVIDENCES"])
    except (ValueError, SyntaxError):
        raise RowError(
            path, 2, "EVIDENCES", f"not a Python list literal: {first['EVIDENCES'][:60]!r}"
        ) from None
    code = str(items[0]).partition(SEPARATOR)[0] if items else "E_"
    return "en" if code.startswith("E_") else "fr"
