"""DDXPlus: patient CSV loader, HF layout, the release KB loader and the probability table."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.ddx_sim import RevealPolicy, Simulator
from beyondmode.tasks.ddxplus import DdxPlusTask, read_patients
from beyondmode.tasks.ddxplus_kb import load_ddxplus_evidences, load_ddxplus_kb
from beyondmode.tasks.ddxplus_stats import compute_stats
from beyondmode.tasks.rows import RowError

FORMAT = AnswerFormat(num_candidates=3)
logger = logging.getLogger(__name__)


def _evidences(directory: Path, codes: str = "fr") -> dict:
    return {e.code: e for e in load_ddxplus_evidences(directory / f"release_evidences.{codes}.json")}


def test_patient_rows_are_decoded(fixtures: Path) -> None:
    patients = list(read_patients(fixtures / "ddxplus" / "patients.fr.csv", _evidences(fixtures / "ddxplus")))
    assert len(patients) == 5
    first = patients[0]
    assert (first.row, first.age, first.sex, first.pathology) == (2, 41, "F", "Bronchite")
    assert first.findings == (
        "toux",
        "douleurxx",
        "douleurxx_carac=une_brûlure_ou_chaleur",
        "douleurxx_intens=2",
    )
    assert first.differential == (("Bronchite", 0.7), ("Pneumonie", 0.3))


@pytest.mark.parametrize(
    ("csv_name", "gold", "expected"),
    [
        ("patients.fr.csv", "differential", [["Bronchitis", "Bronchite"], ["Pneumonia", "Pneumonie"]]),
        ("patients.fr.csv", "pathology", [["Bronchitis", "Bronchite"]]),
        ("patients.en.csv", "differential", [["Bronchitis", "Bronchite"], ["Pneumonia", "Pneumonie"]]),
    ],
)
def test_task_gold_modes_and_code_sets(fixtures: Path, csv_name: str, gold: str, expected: list) -> None:
    task = DdxPlusTask(str(fixtures / "ddxplus" / csv_name), gold=gold)
    examples = list(task.examples(FORMAT))
    assert len(examples) == 5 and task.multi_gold == (gold == "differential")
    assert [list(g) for g in examples[0].gold] == expected
    user = examples[0].prompt[1]["content"]
    assert "- Age: 41, sex: F" in user and "- Characterize your pain: burning" in user
    assert (
        "- How intense is the pain? 2" in user and "travel" not in user.lower()
    )  # default values are not findings
    assert "Possible diagnoses: Bronchitis, GERD, Pneumonia." in examples[0].prompt[0]["content"]


def test_en_and_fr_releases_give_the_same_prompts(fixtures: Path) -> None:
    french = list(DdxPlusTask(str(fixtures / "ddxplus" / "patients.fr.csv")).examples(FORMAT))
    english = list(DdxPlusTask(str(fixtures / "ddxplus" / "patients.en.csv")).examples(FORMAT))
    assert [e.prompt for e in french] == [e.prompt for e in english]


def test_hf_layout(fixtures: Path) -> None:
    examples = list(DdxPlusTask(str(fixtures / "ddxplus" / "hf_layout.jsonl")).examples(FORMAT))
    assert [e.gold_names for e in examples] == [("Bronchitis", "Pneumonia"), ("GERD", "Bronchitis")]
    assert examples[0].prompt[1]["content"].startswith("Age: 41")


def _write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            header or ["AGE", "DIFFERENTIAL_DIAGNOSIS", "SEX", "PATHOLOGY", "EVIDENCES", "INITIAL_EVIDENCE"]
        )
        writer.writerows(rows)
    return path


GOOD = ["30", "[['RGO', 1.0]]", "F", "RGO", "['douleurxx']", "douleurxx"]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (["x", *GOOD[1:]], "AGE"),
        ([GOOD[0], GOOD[1], "F", "RGO", "['douleurxx'", "douleurxx"], "EVIDENCES"),
        ([GOOD[0], GOOD[1], "F", "RGO", "['nope']", "douleurxx"], "EVIDENCES"),
        ([GOOD[0], GOOD[1], "F", "RGO", "['trav1_@_Mars']", "douleurxx"], "EVIDENCES"),
        ([GOOD[0], "[['RGO']]", "F", "RGO", "['douleurxx']", "douleurxx"], "DIFFERENTIAL_DIAGNOSIS"),
        ([GOOD[0], GOOD[1], "F", "", "['douleurxx']", "douleurxx"], "PATHOLOGY"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path: Path, fixtures: Path, row: list[str], field: str) -> None:
    path = _write_csv(tmp_path / "bad.csv", [GOOD, row])
    evidences = _evidences(fixtures / "ddxplus")
    with pytest.raises(RowError, match=rf"bad.csv: row 3, field {field}") as info:
        list(read_patients(path, evidences))
    assert (info.value.row, info.value.field) == (3, field)


def test_bad_rows_can_be_skipped_and_are_counted(tmp_path: Path, fixtures: Path, caplog) -> None:
    path = _write_csv(tmp_path / "bad.csv", [GOOD, ["x", *GOOD[1:]], GOOD])
    with caplog.at_level(logging.WARNING):
        patients = list(read_patients(path, _evidences(fixtures / "ddxplus"), skip_bad_rows=True))
    assert len(patients) == 2
    assert "skipped 1 bad row" in caplog.text and "row 3" in caplog.text


def test_missing_column_and_missing_file(tmp_path: Path, fixtures: Path) -> None:
    path = _write_csv(tmp_path / "cols.csv", [["30", "F"]], header=["AGE", "SEX"])
    with pytest.raises(RowError, match=r"cols\.csv: row 1, field PATHOLOGY"):
        list(read_patients(path, _evidences(fixtures / "ddxplus")))
    with pytest.raises(FileNotFoundError, match=r"nothere\.csv"):
        list(read_patients(tmp_path / "nothere.csv", {}))


def test_unknown_pathology_in_csv(tmp_path: Path, fixtures: Path) -> None:
    for name in ("release_evidences.fr.json", "release_conditions.fr.json"):
        (tmp_path / name).write_bytes((fixtures / "ddxplus" / name).read_bytes())
    _write_csv(tmp_path / "p.csv", [[*GOOD[:3], "Grippe", *GOOD[4:]]])
    with pytest.raises(RowError, match=r"p\.csv: row 2, field PATHOLOGY"):
        list(DdxPlusTask(str(tmp_path / "p.csv")).examples(FORMAT))


@pytest.mark.parametrize("codes", ["fr", "en"])
def test_release_kb_with_stats(fixtures: Path, codes: str) -> None:
    directory = fixtures / "ddxplus"
    kb = load_ddxplus_kb(directory, directory / "stats.json", codes=codes)
    assert kb.pathology_names == ("Bronchitis", "Pneumonia", "GERD")
    np.testing.assert_allclose(kb.prior, [0.5, 0.2, 0.3])
    intensity = "douleurxx_intens" if codes == "fr" else "E_5"
    # marginal P(intensity=1 | Bronchite) = 0.3 with P(pain) = 0.5 -> conditional 0.6
    assert kb.tables[intensity][0, 1] == pytest.approx(0.6, rel=1e-3)
    assert (
        kb.evidence("e10_e11" if codes == "fr" else "E_7").parent is None
    )  # the release's dangling code_question


def test_stats_from_patients_have_the_bed_stats_shape(fixtures: Path) -> None:
    stats = compute_stats([fixtures / "ddxplus" / "patients.fr.csv"], _evidences(fixtures / "ddxplus"))
    assert stats["RGO"]["prior"] == pytest.approx(0.4)
    bronchite = stats["Bronchite"]["findings"]
    assert bronchite["toux"] == 1.0 and bronchite["fievre"] == 0.5
    assert bronchite["trav1"] == {"N": 0.5, "Asie": 1e-07, "Euro": 0.5}
    assert bronchite["douleurxx_intens"]["0"] == pytest.approx(0.5)
    assert stats["RGO"]["findings"]["douleurxx_carac"]["NA"] == pytest.approx(0.5)


def test_ddxplus_stats_command(tmp_path: Path, fixtures: Path) -> None:
    from beyondmode.cli import main

    out = tmp_path / "stats.json"
    assert main(["ddxplus-stats", str(fixtures / "ddxplus" / "patients.fr.csv"), "--out", str(out)]) == 0
    assert set(json.loads(out.read_text())) == {"Bronchite", "Pneumonie", "RGO"}


# ------------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real(shared_data: Path) -> Path:
    return shared_data / "ddxplus"


def test_real_subset_loads_every_row(real: Path) -> None:
    examples = list(DdxPlusTask(str(real / "subset_test_patients.fr.csv")).examples(FORMAT))
    assert len(examples) == 6933
    assert all(e.gold for e in examples)


@pytest.mark.slow
def test_real_kb_posterior_ranks_the_true_pathology_first(real: Path, record_property) -> None:
    kb = load_ddxplus_kb(real, real / "ddxplus_bed_stats_4.json", codes="fr")
    simulator = Simulator(kb)
    index = {alias: i for i, p in enumerate(kb.pathologies) for alias in p.gold}
    hits = total = 0
    for patient in read_patients(real / "subset_test_patients.fr.csv", {e.code: e for e in kb.evidences}):
        revealed = [simulator.atom_index[f] for f in patient.findings]
        posterior = simulator.posterior(revealed, RevealPolicy.parse("all"))
        hits += int(np.argmax(posterior) == index[patient.pathology])
        total += 1
    accuracy = hits / total
    record_property("ddxplus_all_evidence_top1", accuracy)
    logger.info("DDXPlus subset, all evidences: top-1 %.4f (%d/%d)", accuracy, hits, total)
    print(f"DDXPlus subset, all evidences: posterior top-1 = {accuracy:.4f} ({hits}/{total})")
    assert total == 6933
    assert accuracy >= 0.95


def test_real_kb_loads_with_english_codes(real: Path) -> None:
    english = load_ddxplus_kb(real, real / "ddxplus_bed_stats_4.json", codes="en")
    french = load_ddxplus_kb(real, real / "ddxplus_bed_stats_4.json", codes="fr")
    assert len(english.pathologies) == 49 and len(english.evidences) == 223
    np.testing.assert_allclose(english.tables["E_91"], french.tables["fievre"])
    assert english.pathology_names == french.pathology_names


def test_real_stats_rebuilt_from_the_subset(real: Path) -> None:
    stats = compute_stats([real / "subset_test_patients.fr.csv"], _evidences(real))
    published = json.loads((real / "ddxplus_bed_stats_4.json").read_text(encoding="utf-8"))
    assert len(stats) == 19 and set(stats) <= set(published)
    assert sum(entry["prior"] for entry in stats.values()) == pytest.approx(1.0)
    for name, entry in stats.items():
        for code, value in entry["findings"].items():
            reference = published[name]["findings"].get(code)
            if reference is not None:
                assert isinstance(value, dict) == isinstance(reference, dict), (name, code)
