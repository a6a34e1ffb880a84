"""The generic `qa` task: every file format, gold shapes, the seeded split, and errors that name the row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from beyondmode.grading.exact import normalize_answer
from beyondmode.methods import method_format
from beyondmode.scoring import Scorer
from beyondmode.tasks.qa import QATask, split_of
from beyondmode.tasks.registry import get_task
from beyondmode.tasks.rows import RowError
from beyondmode.types import Candidate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qa"
JSONL = FIXTURES / "capitals.jsonl"
FORMAT = method_format("multi_rlcr", 3)


def _rows() -> list[dict]:
    return [json.loads(line) for line in JSONL.read_text(encoding="utf-8").splitlines()]


def _gold(task: QATask) -> dict[str, tuple[tuple[str, ...], ...]]:
    return {e.metadata["source_id"]: e.gold for e in task.examples(FORMAT)}


def test_jsonl_gold_shapes_one_element_with_aliases() -> None:
    gold = _gold(get_task("qa", path=str(JSONL), id_column="id", aliases_column=None))
    assert gold["q1"] == (("Paris",),)
    assert gold["q2"] == (("Seine", "La Seine", "Bievre", "Bievre River"),)
    assert gold["q3"] == (("France", "Portugal", "Andorra", "Morocco"),)
    assert gold["q4"] == (("1989",),)


def test_jsonl_multi_gold_keeps_answers_apart() -> None:
    task = get_task("qa", path=str(JSONL), id_column="id", multi_gold=True)
    assert task.multi_gold
    gold = _gold(task)
    assert gold["q2"] == (("Seine", "La Seine"), ("Bievre", "Bievre River"))
    assert gold["q3"] == (("France",), ("Portugal",), ("Andorra",), ("Morocco",))


def test_aliases_column_extends_the_answer() -> None:
    path = FIXTURES / "capitals.jsonl"
    rows = [r for r in _rows() if "aliases" in r]
    assert rows, "fixture has an aliases row"
    task = QATask(path=str(path), id_column="id", aliases_column="aliases", limit=None, skip_bad_rows=True)
    gold = _gold(task)  # rows without the aliases column are skipped and counted
    assert gold == {"q5": (("Victor Hugo", "Hugo"),)}


def test_aliases_column_one_list_per_answer(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    row = {"question": "Two answers?", "answer": ["NYC", "LA"], "alias": [["New York City"], []]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    task = QATask(path=str(path), aliases_column="alias", multi_gold=True)
    assert [e.gold for e in task.examples(FORMAT)] == [(("NYC", "New York City"), ("LA",))]
    row["alias"] = [["New York City"]]
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(RowError, match=r"a.jsonl: row 1, field alias: has 1 entries for 2 answers"):
        list(task.examples(FORMAT))


def test_csv_json_list_cells_match_jsonl() -> None:
    csv_gold = _gold(QATask(path=str(FIXTURES / "capitals.csv"), id_column="id", multi_gold=True))
    jsonl_gold = _gold(QATask(path=str(JSONL), id_column="id", multi_gold=True))
    assert csv_gold == {key: jsonl_gold[key] for key in csv_gold}
    assert len(csv_gold) == 4


def test_csv_delimiter_option() -> None:
    task = QATask(
        path=str(FIXTURES / "capitals_delimited.csv"), answer_column="answers", answer_delimiter="|"
    )
    examples = list(task.examples(FORMAT))
    assert examples[0].gold == (("France", "Portugal", "Andorra", "Morocco"),)
    assert examples[0].metadata["row"] == 2  # CSV rows are line numbers (header = 1)
    assert examples[1].gold == (("Paris",),)


@pytest.mark.parametrize("layout", ["list", "data"])
def test_json_list_and_data_object(tmp_path: Path, layout: str) -> None:
    rows = _rows()
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(rows if layout == "list" else {"version": 1, "data": rows}), encoding="utf-8")
    assert _gold(QATask(path=str(path), id_column="id")) == _gold(QATask(path=str(JSONL), id_column="id"))


def test_parquet_and_datasets_folder(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    # parquet and Arrow need one type per column: q2's alias lists become a separate list-of-lists file
    rows = [
        {
            "id": r["id"],
            "question": r["question"],
            "answer": r["answer"] if isinstance(r["answer"], list) else [r["answer"]],
        }
        for r in _rows()
        if r["id"] in ("q1", "q3", "q6", "q7")
    ]
    expected = _gold(QATask(path=str(JSONL), id_column="id", multi_gold=True))
    expected = {key: expected[key] for key in ("q1", "q3", "q6", "q7")}
    dataset = datasets.Dataset.from_list(rows)
    dataset.to_parquet(str(tmp_path / "qa.parquet"))
    assert _gold(QATask(path=str(tmp_path / "qa.parquet"), id_column="id", multi_gold=True)) == expected
    dataset.save_to_disk(str(tmp_path / "saved"))
    assert _gold(QATask(path=str(tmp_path / "saved"), id_column="id", multi_gold=True)) == expected
    datasets.DatasetDict({"train": dataset, "validation": dataset}).save_to_disk(str(tmp_path / "dict"))
    with pytest.raises(ValueError, match=r"splits \['train', 'validation'\]: set qa option dataset_split"):
        list(QATask(path=str(tmp_path / "dict")).examples(FORMAT))
    chosen = QATask(path=str(tmp_path / "dict"), id_column="id", multi_gold=True, dataset_split="validation")
    assert _gold(chosen) == expected


def test_split_is_disjoint_deterministic_and_covers_the_file(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    lines = [json.dumps({"question": f"What is {i} plus {i}?", "answer": str(2 * i)}) for i in range(200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def ids(split: str, seed: int = 3) -> list[str]:
        task = get_task("qa", path=str(path), split=split, test_fraction=0.25, seed=seed)
        return [e.id for e in task.examples(FORMAT)]

    train, test = ids("train"), ids("test")
    assert set(train).isdisjoint(test)
    assert sorted(train + test) == sorted(ids("all"))
    assert ids("test") == test  # deterministic
    assert 25 <= len(test) <= 75  # about a quarter of 200
    assert ids("test", seed=4) != test  # the seed matters
    # row order does not matter: the same questions land on the same side
    path.write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    reversed_test = {
        e.metadata["question"]
        for e in get_task("qa", path=str(path), split="test", test_fraction=0.25, seed=3).examples(FORMAT)
    }
    assert reversed_test == {
        f"What is {i} plus {i}?" for i in range(200) if split_of(f"What is {i} plus {i}?", 3, 0.25) == "test"
    }


def test_task_sentence_goes_into_the_instructions() -> None:
    sentence = "You are a geography quiz master: give distinct short answers."
    example = next(iter(QATask(path=str(JSONL), task_sentence=sentence).examples(FORMAT)))
    assert sentence in example.prompt[0]["content"]
    assert example.prompt[1]["content"] == "Question: What is the capital of France?"


def test_ideal_response_gets_full_credit() -> None:
    task = QATask(path=str(JSONL), id_column="id", multi_gold=True)
    scorer = Scorer.for_method("multi_rlcr", 3, multi_gold=True)
    for example in task.examples(FORMAT):
        names = list(example.gold_names[:3])
        while len(names) < 3:
            names.append(f"filler {len(names)}")
        candidates = [Candidate(name, 1.0 if i < len(example.gold) else 0.0) for i, name in enumerate(names)]
        completion = FORMAT.render(candidates, think="recall")
        result = scorer.score(completion, example.gold)
        assert result.breakdown.terms["coverage"] == 1.0, (example.id, completion)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"question": "q?"}, "row 1, field answer: missing column"),
        ({"question": "", "answer": "a"}, "row 1, field question: must be a non-empty string"),
        ({"question": "q?", "answer": {"x": 1}}, r"row 1, field answer\[0\]: must be a string or a number"),
        ({"question": "q?", "answer": []}, "row 1, field answer: no answers"),
        ({"question": "q?", "answer": ["", " "]}, "row 1, field answer: every answer is empty"),
        ({"question": "q?", "answer": [[]]}, r"row 1, field answer\[0\]: an empty alias list"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path: Path, row: dict, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(RowError, match=message) as caught:
        list(QATask(path=str(path)).examples(FORMAT))
    assert str(path) in str(caught.value)


def test_renamed_columns_and_clear_option_errors(tmp_path: Path) -> None:
    path = tmp_path / "renamed.jsonl"
    path.write_text(json.dumps({"q": "Capital of Italy?", "a": ["Rome", "Roma"]}) + "\n", encoding="utf-8")
    assert [
        e.gold for e in QATask(path=str(path), question_column="q", answer_column="a").examples(FORMAT)
    ] == [(("Rome", "Roma"),)]
    with pytest.raises(RowError, match=r"field question: missing column \(row has \['a', 'q'\]\)"):
        list(QATask(path=str(path)).examples(FORMAT))
    with pytest.raises(ValueError, match="split must be one of"):
        QATask(path=str(path), split="validation")
    with pytest.raises(ValueError, match="test_fraction must be in"):
        QATask(path=str(path), test_fraction=1.5)
    with pytest.raises(FileNotFoundError, match="data file not found"):
        list(QATask(path=str(tmp_path / "nope.jsonl")).examples(FORMAT))
    with pytest.raises(ValueError, match=r"unsupported file type '.txt'"):
        (tmp_path / "x.txt").write_text("hi", encoding="utf-8")
        list(QATask(path=str(tmp_path / "x.txt")).examples(FORMAT))
    with pytest.raises(ValueError, match="bad options"):
        get_task("qa", path=str(path), answers_column="a")


def test_unmatchable_answers_are_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "band.jsonl"
    rows = [{"question": "Which band?", "answer": "The The"}, {"question": "Capital?", "answer": "Rome"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with caplog.at_level("WARNING"):
        examples = list(QATask(path=str(path)).examples(FORMAT))
    assert [e.gold for e in examples] == [(("Rome",),)]
    assert "left out 1 row(s) whose answers exact match can never hit" in caplog.text
    assert "row 1, field answer" in caplog.text


def test_bad_csv_json_cell_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('question,answer\nok?,yes\nbroken?,"[""a"", "\n', encoding="utf-8")
    with pytest.raises(RowError, match=r"bad.csv: row 3, field answer: looks like a JSON list"):
        list(QATask(path=str(path)).examples(FORMAT))


def test_data_command_writes_qa(tmp_path: Path) -> None:
    from beyondmode.cli import main

    out = tmp_path / "out"
    assert main(["data", "qa", "--out", str(out), "--set", f"path={JSONL}", "--set", "multi_gold=true"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["examples"] == 8
    assert manifest["counts"]["multi_gold_examples"] == 3  # q2, q3, q7
    rows = [json.loads(line) for line in (out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8
    assert rows[1]["gold"] == [["Seine", "La Seine"], ["Bievre", "Bievre River"]]


def test_real_hotpotqa_simplified_file(shared_data: Path) -> None:
    path = shared_data / "hotpotqa" / "hotpot_dev_v1_simplified.json"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    rows = json.loads(path.read_text(encoding="utf-8"))
    sides = {
        split: [e.id for e in get_task("qa", path=str(path), split=split, seed=0).examples(FORMAT)]
        for split in ("train", "test")
    }
    assert set(sides["train"]).isdisjoint(sides["test"])
    assert 0.08 * len(rows) < len(sides["test"]) < 0.12 * len(rows)
    # every row but those whose answer is articles only ("The The") is on exactly one side
    unmatchable = sum(1 for r in rows if not normalize_answer(r["answer"]))
    assert unmatchable == 2
    assert len(sides["train"]) + len(sides["test"]) == len(rows) - unmatchable
    first = next(iter(get_task("qa", path=str(path), limit=1).examples(FORMAT)))
    assert first.gold == ((rows[0]["answer"],),)


def test_usable_in_train_and_eval_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from beyondmode.cli import main
    from beyondmode.evaluate.job import load_job
    from beyondmode.tasks.registry import resolve_task

    train = tmp_path / "train.yaml"
    train.write_text(
        f"task: {{name: qa, options: {{path: '{JSONL}', multi_gold: true, split: train, test_fraction: 0.25}}}}\n"
        "trl: {num_generations: 4}\n",
        encoding="utf-8",
    )
    assert main(["train", str(train), f"output.dir={tmp_path / 'run'}", "--dry-run"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "qa" and 0 < summary["examples"] < 8
    evaluation = tmp_path / "eval.yaml"
    evaluation.write_text(
        f"model: tiny\ntask: qa\ntask_options: {{path: '{JSONL}', split: test, test_fraction: 0.25}}\n",
        encoding="utf-8",
    )
    job = load_job(evaluation)
    test_ids = {e.id for e in resolve_task(job.task, job.task_options).examples(FORMAT)}
    assert len(test_ids) == 8 - summary["examples"]
