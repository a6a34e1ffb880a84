"""AmbigQA (AmbigNQ light): gold modes, interpretations, bad rows, the real dev set."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.ambigqa import AmbigQATask, merge_aliases
from beyondmode.tasks.rows import RowError

FORMAT = AnswerFormat(num_candidates=3)


def _examples(path: Path, **options) -> dict:
    return {e.id: e for e in AmbigQATask(str(path), **options).examples(FORMAT)}


def test_all_gold_is_one_element_per_interpretation(fixtures: Path) -> None:
    examples = _examples(fixtures / "ambigqa" / "dev_light.json")
    assert examples["ambigqa-1001"].gold == (("Tom Hanks", "Thomas Hanks"),)
    assert examples["ambigqa-1002"].gold == (("January 9, 2007", "9 January 2007"), ("June 29, 2007",))
    assert examples["ambigqa-1003"].gold == (("Canberra",), ("Melbourne",))
    assert examples["ambigqa-1004"].gold == (
        ("Dolly Parton",),
        ("Whitney Houston", "Whitney Elizabeth Houston"),
    )
    interpretations = examples["ambigqa-1002"].metadata["interpretations"]
    assert interpretations[1] == {
        "question": "When was the first iPhone released?",
        "answers": ["June 29, 2007"],
    }
    assert examples["ambigqa-1003"].metadata["gold_source"] == "both"
    assert examples["ambigqa-1001"].prompt[1]["content"].startswith("Question: Who played")


def test_single_gold_is_one_alias_set(fixtures: Path) -> None:
    examples = _examples(fixtures / "ambigqa" / "dev_light.json", gold="single")
    assert examples["ambigqa-1003"].gold == (("Canberra",),)
    assert examples["ambigqa-1002"].gold == (("January 9, 2007", "9 January 2007", "June 29, 2007"),)
    assert examples["ambigqa-1002"].metadata["gold_source"] == "multipleQAs"
    assert not AmbigQATask("x", gold="single").multi_gold


@pytest.mark.parametrize(
    ("elements", "merged"),
    [
        ([("a",), ("b",)], (("a",), ("b",))),
        ([("The Beatles",), ("beatles", "Fab Four")], (("The Beatles", "Fab Four"),)),
        ([("x", "y"), ("z",), ("Y", "z")], (("x", "y", "z"),)),
    ],
)
def test_merge_aliases(elements: list, merged: tuple) -> None:
    assert merge_aliases(elements) == merged


GOOD = {"id": "1", "question": "q?", "annotations": [{"type": "singleAnswer", "answer": ["Paris"]}]}


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"id": "2", "annotations": GOOD["annotations"]}, "question"),
        ({**GOOD, "annotations": []}, "annotations"),
        ({**GOOD, "annotations": [{"type": "maybe"}]}, r"annotations\[0\].type"),
        ({**GOOD, "annotations": [{"type": "singleAnswer", "answer": "a"}]}, r"annotations\[0\].answer"),
        (
            {**GOOD, "annotations": [{"type": "multipleQAs", "qaPairs": [{"question": "x", "answer": []}]}]},
            r"annotations\[0\].qaPairs\[0\].answer",
        ),
        ("not an object", r"\*"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path: Path, row: object, field: str) -> None:
    path = tmp_path / "ambig.json"
    path.write_text(json.dumps([GOOD, row]))
    with pytest.raises(RowError, match=rf"ambig.json: row 2, field {field}"):
        list(AmbigQATask(str(path)).examples(FORMAT))


def test_skip_bad_rows_counts(tmp_path: Path, caplog) -> None:
    path = tmp_path / "ambig.json"
    path.write_text(json.dumps([GOOD, {"id": "x"}, GOOD]))
    with caplog.at_level(logging.WARNING):
        assert len(list(AmbigQATask(str(path), skip_bad_rows=True).examples(FORMAT))) == 2
    assert "skipped 1 bad row" in caplog.text


def test_not_a_list_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ValueError, match=r"d\.json: expected a JSON list"):
        list(AmbigQATask(str(tmp_path / "d.json")).examples(FORMAT))
    with pytest.raises(FileNotFoundError, match=r"none\.json"):
        list(AmbigQATask(str(tmp_path / "none.json")).examples(FORMAT))


def test_real_dev_light_loads_every_question(shared_data: Path) -> None:
    examples = list(AmbigQATask(str(shared_data / "ambignq" / "dev_light.json")).examples(FORMAT))
    assert len(examples) == 2002
    assert len({e.id for e in examples}) == 2002
    multi = sum(1 for e in examples if len(e.gold) > 1)
    assert multi > 800  # about half of AmbigNQ dev is ambiguous
    single = list(
        AmbigQATask(str(shared_data / "ambignq" / "dev_light.json"), gold="single").examples(FORMAT)
    )
    assert len(single) == 2002 and all(len(e.gold) == 1 for e in single)
