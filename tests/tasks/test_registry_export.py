"""Task registry, row export (datasets, jsonl, parquet) and the `beyondmode data` command."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from beyondmode.formats import FORMAT_VERSION, AnswerFormat
from beyondmode.grading import get_grader
from beyondmode.tasks.base import build_prompt
from beyondmode.tasks.ddx_sim_task import DdxSimTask
from beyondmode.tasks.export import example_to_row, read_jsonl, row_to_example, to_dataset, write_parquet
from beyondmode.tasks.registry import TASKS, get_task, register_task
from beyondmode.types import Example

FORMAT = AnswerFormat(num_candidates=3)


def test_builtin_tasks_are_registered_and_yield_gradable_examples(fixtures: Path) -> None:
    assert {"ddx_sim", "ddxplus", "ambigqa", "hotpotqa"} <= set(TASKS)
    for task, name in (
        (get_task("ddx_sim", num_examples=2), "ddx_sim"),
        (get_task("hotpotqa", path=str(fixtures / "hotpotqa" / "simplified.json")), "hotpotqa"),
    ):
        assert task.name == name
        example = next(iter(task.examples(FORMAT)))
        assert example.grader == task.grader and get_grader(task.grader).name == task.grader
        assert example.gold and all(
            aliases and all(isinstance(a, str) for a in aliases) for aliases in example.gold
        )
        assert example.prompt[-1]["role"] == "user" and example.prompt[-1]["content"]
        assert get_grader(task.grader).match(example.gold[0][0], example.gold) == 0  # its gold gets credit


@pytest.mark.parametrize(
    ("name", "options", "error", "message"),
    [
        ("nope", {}, KeyError, "unknown task 'nope'"),
        ("ddx_sim", {"num_exemples": 3}, ValueError, "num_exemples"),
        ("ambigqa", {}, ValueError, "path"),
    ],
)
def test_get_task_errors(name: str, options: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        get_task(name, **options)


@dataclass(frozen=True)
class EchoTask:
    word: str = "hello"
    name: ClassVar[str] = "echo"
    grader: ClassVar[str] = "exact_match"
    task_sentence: ClassVar[str] = "Repeat the word."
    multi_gold: ClassVar[bool] = False

    def examples(self, answer_format: AnswerFormat):
        yield Example(
            "echo-0", build_prompt(answer_format.instructions(self.task_sentence), self.word), ((self.word,),)
        )


def test_register_task_is_open_and_guards_names() -> None:
    register_task("echo_test", EchoTask)
    try:
        assert get_task("echo_test", word="hi").word == "hi"
        with pytest.raises(ValueError, match="already registered"):
            register_task("echo_test", DdxSimTask)
        register_task("echo_test", DdxSimTask, replace=True)
        assert TASKS["echo_test"] is DdxSimTask
    finally:
        TASKS.pop("echo_test")


def test_rows_round_trip_through_jsonl_parquet_and_datasets(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    examples = list(DdxSimTask(num_examples=5).examples(FORMAT))
    rows = [example_to_row(e) for e in examples]
    assert [row_to_example(r) for r in rows] == examples
    write_parquet(rows, tmp_path / "d.parquet")
    assert [row_to_example(r) for r in pq.read_table(tmp_path / "d.parquet").to_pylist()] == examples
    dataset = to_dataset(examples)
    assert dataset.column_names == ["id", "prompt", "gold", "grader", "posterior", "metadata"]
    assert dataset[0]["prompt"][0]["role"] == "system"
    assert row_to_example(dataset[0]) == examples[0]


def test_data_command_writes_jsonl_parquet_and_manifest(tmp_path: Path, capsys) -> None:
    from beyondmode.cli import main

    out = tmp_path / "ddx"
    code = main(
        [
            "data",
            "ddx_sim",
            "--out",
            str(out),
            "--num-examples",
            "40",
            "--seed",
            "3",
            "--set",
            "num_findings=2-3",
            "--set",
            "gold=differential",
        ]
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["examples"] == 40 and manifest["seed"] == 3
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["options"]["num_findings"] == "2-3" and manifest["options"]["gold"] == "differential"
    rows = read_jsonl(out / "data.jsonl")
    from beyondmode.methods import method_format

    preset = method_format("multi_rlcr", 3)  # the command's default method; its prompt invites an analysis
    expected = list(
        DdxSimTask(num_examples=40, seed=3, num_findings="2-3", gold="differential").examples(preset)
    )
    assert [row_to_example(r) for r in rows] == expected
    assert (out / "data.parquet").stat().st_size > 0
    assert "examples" in capsys.readouterr().out


def test_data_command_on_a_real_format_fixture(tmp_path: Path, fixtures: Path) -> None:
    from beyondmode.cli import main

    path = fixtures / "ambigqa" / "dev_light.json"
    assert main(["data", "ambigqa", "--out", str(tmp_path), "--set", f"path={path}", "--method", "rlvr"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["examples"] == 4 and manifest["answer_format"]["num_candidates"] == 1
