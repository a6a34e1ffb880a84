"""`beyondmode score` end to end: scored rows, malformed rows reported by line, summary, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beyondmode.cli import main

GOOD = "<think> t </think> <answer1> flu </answer1> <confidence1> 0.7 </confidence1> <answer2> cold </answer2> <confidence2> 0.2 </confidence2>"


def test_score_file_with_malformed_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "completion": GOOD, "gold": [["influenza", "flu"]]}),
                "{not json",
                json.dumps({"gold": ["x"]}),
                json.dumps({"completion": GOOD, "gold": "flu"}),
                json.dumps({"completion": "<answer1> flu", "gold": ["flu"]}),
            ]
        )
    )
    out = tmp_path / "out.jsonl"
    code = main(["score", str(source), "--method", "multi_rlcr", "--k", "2", "--out", str(out)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["a", 5]
    first = rows[0]
    assert first["format_ok"] and first["hits"] == [1.0, 0.0]
    assert first["total"] == pytest.approx(0.5 + 0.5 + 0.5 * (1 - (0.09 + 0.04) / 2))
    assert set(first["terms"]) == {
        "format",
        "coverage",
        "any_hit",
        "brier",
        "uniqueness",
        "top1",
        "sum_le_1",
        "listed",
    }
    assert rows[1]["format_ok"] is False and "missing_think" in rows[1]["violations"]
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "line 2: not valid JSON" in messages
    assert "line 3: field 'completion' missing" in messages
    assert "line 4: field 'gold' must be a list" in messages


def test_expected_mode_requires_posterior(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"completion": GOOD, "gold": ["flu"]}) + "\n")
    assert main(["score", str(source), "--k", "2", "--reward-mode", "expected"]) == 1
    assert "needs 'posterior'" in " ".join(r.getMessage() for r in caplog.records)


def test_missing_input_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(tmp_path / "nope.jsonl")]) == 2
    assert "input file not found: " in capsys.readouterr().err


PUBLISHED_MULTI = (
    "<think>\nSudden fever, dry cough, myalgia in winter.\n</think>\n"
    "<answer1>Influenza</answer1>\n<confidence1>0.6</confidence1>\n"
    "<answer2>COVID-19</answer2>\n<confidence2>0.3</confidence2>\n"
    "<analysis>Abrupt onset points to influenza; COVID-19 is not ruled out.</analysis>"
)


@pytest.mark.parametrize(
    ("flags", "format_ok"),
    [
        ([], True),  # the published Multi-RLCR layout is the preset's default
        (["--no-analysis"], False),
        (["--analysis", "--layout", "split"], False),  # interleaved text read with the split layout
    ],
)
def test_score_format_flags(tmp_path: Path, flags: list[str], format_ok: bool) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"completion": PUBLISHED_MULTI, "gold": ["influenza"]}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(source), "--k", "2", "--out", str(out), *flags]) == 0
    assert json.loads(out.read_text())["format_ok"] is format_ok


def test_score_think_optional(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    no_think = PUBLISHED_MULTI.split("</think>\n", 1)[1]
    source.write_text(json.dumps({"completion": no_think, "gold": ["influenza"]}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", str(source), "--k", "2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["violations"] == ["missing_think"]
    assert main(["score", str(source), "--k", "2", "--out", str(out), "--think", "optional"]) == 0
    assert json.loads(out.read_text())["format_ok"] is True
