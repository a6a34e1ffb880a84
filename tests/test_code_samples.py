"""Export of K-program generations as evalplus samples (function and `beyondmode export-evalplus`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beyondmode.cli import main
from beyondmode.code_samples import evalplus_samples, evalplus_task_id, export_evalplus
from beyondmode.formats import AnswerFormat

K2 = AnswerFormat(num_candidates=2)
COMPLETION = (
    "<think> two ways </think>\n"
    "<answer1>\n```python\ndef f(x):\n    return x + 1\n```\n</answer1> <confidence1> 0.7 </confidence1>\n"
    "<answer2>\ndef f(x):\n    return 1 + x\n</answer2> <confidence2> 0.2 </confidence2>"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(11, "Mbpp/11"), ("11", "Mbpp/11"), ("Mbpp/11", "Mbpp/11"), ("HumanEval/3", "HumanEval/3")],
)
def test_task_ids_in_evalplus_form(value: object, expected: str) -> None:
    assert evalplus_task_id(value) == expected


@pytest.mark.parametrize("value", [None, "", 1.5])
def test_bad_task_ids_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="task id"):
        evalplus_task_id(value)


def test_one_sample_per_candidate_in_slot_order() -> None:
    rows = [
        {"task_id": "HumanEval/0", "completion": COMPLETION},
        {"id": 12, "candidates": [{"text": "x = 1", "confidence": 0.5}, "Here:\n```python\nx = 2\n```"]},
    ]
    assert list(evalplus_samples(rows, K2)) == [
        {"task_id": "HumanEval/0", "solution": "def f(x):\n    return x + 1"},
        {"task_id": "HumanEval/0", "solution": "def f(x):\n    return 1 + x"},
        {"task_id": "Mbpp/12", "solution": "x = 1"},
        {"task_id": "Mbpp/12", "solution": "x = 2\n"},
    ]


def test_malformed_completion_exports_what_can_be_recovered() -> None:
    rows = [{"task_id": "HumanEval/1", "completion": "<answer1>x = 1</answer1> trailing <answer2>y"}]
    assert [s["solution"] for s in evalplus_samples(rows, K2)] == ["x = 1", "y"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"completion": "x"}, "row 1: task id"),
        ({"task_id": 1}, "row 1: row has neither"),
        ({"task_id": 1, "candidates": "x"}, "row 1: 'candidates' must be a list"),
    ],
)
def test_bad_rows_are_named(row: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(evalplus_samples([row], K2))


def test_export_file_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "generations.jsonl"
    source.write_text(json.dumps({"task_id": "HumanEval/0", "completion": COMPLETION}) + "\n\n")
    out = tmp_path / "out" / "samples.jsonl"
    assert export_evalplus(source, out, K2) == 2
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["task_id"] for row in written] == ["HumanEval/0", "HumanEval/0"]
    out.unlink()
    assert main(["export-evalplus", str(source), "--out", str(out), "--k", "2"]) == 0
    assert "wrote 2 samples" in capsys.readouterr().out
    assert [json.loads(line) for line in out.read_text().splitlines()] == written


def test_export_reports_bad_json_with_line(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"task_id": 1, "candidates": []}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        export_evalplus(source, tmp_path / "s.jsonl", K2)
    with pytest.raises(SystemExit, match="export-evalplus"):
        main(["export-evalplus", str(source), "--out", str(tmp_path / "s.jsonl")])
