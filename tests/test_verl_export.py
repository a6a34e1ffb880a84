"""The verl parquet export: schema as verl reads it (datasets, pyarrow, pandas), round trips, CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import beyondmode.tasks
from beyondmode.cli import main
from beyondmode.integrations.verl import compute_score, export_verl
from beyondmode.integrations.verl.dataset import stable_fraction
from beyondmode.methods import method_format
from beyondmode.scoring import Scorer
from beyondmode.types import Candidate, Example

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def make_examples(count: int, *, multi_gold: bool = False, with_posterior: bool = True) -> list[Example]:
    examples = []
    for index in range(count):
        gold = (("influenza", "flu"), ("measles",)) if multi_gold else ((f"disease {index}", f"d{index}"),)
        posterior = {f"disease {index}": 0.7, "measles": 0.3} if with_posterior else None
        prompt = (
            {"role": "system", "content": "Propose distinct diagnoses."},
            {"role": "user", "content": f"case {index}"},
        )
        examples.append(Example(f"case-{index}", prompt, gold, metadata={"n": index}, posterior=posterior))
    return examples


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Example]]:
    out = tmp_path_factory.mktemp("verl")
    examples = make_examples(60)
    export_verl(
        examples,
        "multi_rlcr",
        3,
        out_dir=out,
        task="ddx_sim",
        task_options={"revealed": 3},
        test_fraction=0.2,
    )
    return out, examples


def test_columns_are_typed_as_verl_expects(exported: tuple[Path, list[Example]]) -> None:
    schema = pq.read_schema(exported[0] / "train.parquet")
    assert schema.names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert schema.field("data_source").type == pa.string()
    assert schema.field("ability").type == pa.string()
    assert schema.field("prompt").type == pa.list_(
        pa.struct([("role", pa.string()), ("content", pa.string())])
    )
    reward_model = schema.field("reward_model").type
    assert reward_model.field("style").type == pa.string()
    assert reward_model.field("ground_truth").type == pa.list_(pa.list_(pa.string()))
    extra_info = schema.field("extra_info").type
    assert extra_info.field("index").type == pa.int64()
    assert extra_info.field("split").type == pa.string()


def test_split_is_stable_and_complete(exported: tuple[Path, list[Example]]) -> None:
    out, examples = exported
    train = pq.read_table(out / "train.parquet").to_pylist()
    test = pq.read_table(out / "test.parquet").to_pylist()
    ids = {row["extra_info"]["beyondmode"]["example_id"]: row for row in train + test}
    assert set(ids) == {example.id for example in examples} and len(train) + len(test) == len(examples)
    assert 0 < len(test) < len(train)
    for row in test:
        assert stable_fraction(row["extra_info"]["beyondmode"]["example_id"]) < 0.2
    assert [row["extra_info"]["index"] for row in train] == list(range(len(train)))
    assert {row["extra_info"]["split"] for row in train} == {"train"}
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["rows"] == {"train": len(train), "test": len(test)} and manifest["method"] == "multi_rlcr"


def test_ground_truth_and_settings_round_trip_through_pyarrow(exported: tuple[Path, list[Example]]) -> None:
    out, examples = exported
    by_id = {example.id: example for example in examples}
    for row in pq.read_table(out / "train.parquet").to_pylist():
        record = row["extra_info"]["beyondmode"]
        example = by_id[record["example_id"]]
        assert row["reward_model"] == {"style": "rule", "ground_truth": [list(a) for a in example.gold]}
        assert row["prompt"] == [dict(message) for message in example.prompt]
        assert row["data_source"] == "beyondmode/ddx_sim" and row["ability"] == "multi_answer"
        assert {p["answer"]: p["probability"] for p in record["posterior"]} == example.posterior
        assert (record["method"], record["num_candidates"], record["reward_mode"]) == (
            "multi_rlcr",
            3,
            "label",
        )
        assert json.loads(record["task_options"]) == {"revealed": 3}


def test_datasets_reads_the_files_as_verl_does(exported: tuple[Path, list[Example]]) -> None:
    datasets = pytest.importorskip("datasets")
    out, examples = exported
    loaded = datasets.load_dataset(
        "parquet", data_files={"train": str(out / "train.parquet"), "test": str(out / "test.parquet")}
    )
    train = loaded["train"]
    assert train.num_rows + loaded["test"].num_rows == len(examples)
    features = train.features
    assert features["data_source"].dtype == "string"
    assert features["reward_model"]["ground_truth"].feature.feature.dtype == "string"
    row = train[0]
    gold = next(e.gold for e in examples if e.id == row["extra_info"]["beyondmode"]["example_id"])
    assert row["reward_model"]["ground_truth"] == [list(a) for a in gold]
    assert row["prompt"][0] == {"role": "system", "content": "Propose distinct diagnoses."}


def ideal_completion(example: Example) -> str:
    answer_format = method_format("multi_rlcr", 3)
    names = [*example.gold_names, "cold", "asthma", "covid"][:3]
    return answer_format.render(
        [Candidate(name, 0.9 if i == 0 else 0.05) for i, name in enumerate(names)], think="t"
    )


@pytest.mark.parametrize("reader", ["pyarrow", "pandas", "datasets"])
def test_rows_read_back_score_like_the_examples(exported: tuple[Path, list[Example]], reader: str) -> None:
    out, examples = exported
    rows = read_rows(out / "train.parquet", reader)
    by_id = {example.id: example for example in examples}
    for row in rows:
        example = by_id[str(row["extra_info"]["beyondmode"]["example_id"])]
        text = ideal_completion(example)
        result = compute_score(
            row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"]
        )
        assert result["score"] == pytest.approx(0.5 + 0.5 + 0.5 * (1 - (0.01 + 0.0025 + 0.0025) / 3))


def read_rows(path: Path, reader: str) -> list[dict[str, Any]]:
    if reader == "pyarrow":
        return pq.read_table(path).to_pylist()
    if reader == "pandas":  # older verl: pandas.read_parquet, nested lists become numpy arrays
        pandas = pytest.importorskip("pandas")
        return pandas.read_parquet(path).to_dict("records")
    datasets = pytest.importorskip("datasets")
    return list(datasets.load_dataset("parquet", data_files=str(path), split="train"))


def test_examples_without_posterior_and_test_examples(tmp_path: Path) -> None:
    train, test = make_examples(5, with_posterior=False), make_examples(8, multi_gold=True)[5:]
    export = export_verl(train, "rlvr", 3, out_dir=tmp_path, test_examples=test, multi_gold=True)
    assert (export.train_rows, export.test_rows) == (5, 3)
    rows = pq.read_table(export.train_path).to_pylist()
    assert rows[0]["extra_info"]["beyondmode"]["posterior"] == []
    assert rows[0]["extra_info"]["beyondmode"]["num_candidates"] == 1  # rlvr answers once
    assert pq.read_table(export.test_path).to_pylist()[0]["extra_info"]["split"] == "test"


# name, examples, keyword arguments, message fragment
EXPORT_ERRORS = [
    ("duplicate ids", make_examples(2) + make_examples(1), {}, "duplicate example id"),
    ("no gold", [Example("x", ({"role": "user", "content": "?"},), ())], {}, "no gold"),
    ("message without role", [Example("x", ({"content": "?"},), (("a",),))], {}, "role"),
    ("no examples", [], {}, "no training rows"),
    ("bad fraction", make_examples(2), {"test_fraction": 1.0}, "test_fraction"),
    ("unknown method", make_examples(2), {"method": "ppo"}, "unknown method"),
]


@pytest.mark.parametrize(
    ("examples", "kwargs", "fragment"), [c[1:] for c in EXPORT_ERRORS], ids=[c[0] for c in EXPORT_ERRORS]
)
def test_export_refuses_bad_input(
    tmp_path: Path, examples: list[Example], kwargs: dict[str, Any], fragment: str
) -> None:
    arguments = {"method": "multi_rlcr", **kwargs}
    with pytest.raises(ValueError, match=fragment):
        export_verl(examples, arguments.pop("method"), 3, out_dir=tmp_path, **arguments)
    assert not (tmp_path / "train.parquet").exists()


class FakeTask:
    """Stands in for a registry task until `beyondmode.tasks.get_task` lands on main."""

    name = "fake"
    grader = "exact_match"
    task_sentence = "Propose distinct diagnoses."
    multi_gold = True

    def __init__(self, **options: Any) -> None:
        self.options = options

    def examples(self, answer_format: Any) -> Any:
        offset = 100 if self.options.get("split") == "validation" else 0
        for example in make_examples(self.options.get("count", 10) + offset)[offset:]:
            yield Example(
                example.id,
                (*example.prompt[:1], {"role": "user", "content": answer_format.instructions()}),
                example.gold,
                posterior=example.posterior,
            )


def test_cli_exports_a_registry_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[dict[str, Any]] = []

    def get_task(name: str, **options: Any) -> FakeTask:
        calls.append({"name": name, **options})
        return FakeTask(**options)

    monkeypatch.setattr(beyondmode.tasks, "get_task", get_task, raising=False)
    code = main(
        [
            "export",
            "verl",
            "fake",
            "--out",
            str(tmp_path),
            "--method",
            "multi_rlvr",
            "--k",
            "2",
            "--option",
            "count=12",
            "--test-option",
            "split=validation",
            "--limit",
            "4",
            "--reward-override",
            "top1_weight=0.25",
        ]
    )
    assert code == 0
    assert calls == [{"name": "fake", "count": 12}, {"name": "fake", "count": 12, "split": "validation"}]
    train = pq.read_table(tmp_path / "train.parquet").to_pylist()
    test = pq.read_table(tmp_path / "test.parquet").to_pylist()
    assert (len(train), len(test)) == (4, 4)
    record = train[0]["extra_info"]["beyondmode"]
    assert (record["method"], record["num_candidates"], record["multi_gold"]) == ("multi_rlvr", 2, True)
    assert json.loads(record["reward_overrides"]) == {"top1_weight": 0.25}
    assert "<answer2>" in train[0]["prompt"][1]["content"]  # rendered for the exported format
    assert "train.parquet: 4 rows" in capsys.readouterr().out


def test_cli_without_registry_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(beyondmode.tasks, "get_task", raising=False)
    monkeypatch.setitem(sys.modules, "beyondmode.tasks.registry", None)  # importing it now fails
    with pytest.raises(SystemExit, match="no task registry"):
        main(["export", "verl", "ddx_sim", "--out", str(tmp_path)])


def test_cli_rejects_malformed_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(beyondmode.tasks, "get_task", lambda name, **o: FakeTask(**o), raising=False)
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        main(["export", "verl", "fake", "--out", str(tmp_path), "--option", "count"])


def test_empty_test_split_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    export = export_verl(make_examples(3), "rlvr", out_dir=tmp_path, test_fraction=0.0)
    assert export.test_rows == 0 and pq.read_table(export.test_path).num_rows == 0
    assert any("has no rows" in record.getMessage() for record in caplog.records)


def test_cli_exports_the_embedded_simulator_end_to_end(tmp_path: Path) -> None:
    """The real registry and ddx_sim (embedded, no data files): export with expected rewards, then the
    Bayes-optimal answer set scores through compute_score exactly as through Scorer.score."""
    code = main(["export", "verl", "ddx_sim", "--out", str(tmp_path), "--reward-mode", "expected",
                 "--option", "num_examples=30", "--option", "seed=3"])  # fmt: skip
    assert code == 0
    rows = pq.read_table(tmp_path / "train.parquet").to_pylist()
    assert rows and all(row["extra_info"]["beyondmode"]["posterior"] for row in rows)
    answer_format = method_format("multi_rlcr", 3)
    for row in rows:
        record = row["extra_info"]["beyondmode"]
        posterior = {p["answer"]: p["probability"] for p in record["posterior"]}
        best = sorted(posterior.items(), key=lambda item: -item[1])[:3]
        text = answer_format.render([Candidate(answer, round(q, 2)) for answer, q in best], think="t")
        gold = row["reward_model"]["ground_truth"]
        result = compute_score(row["data_source"], text, gold, row["extra_info"])
        reference = Scorer.for_method("multi_rlcr", 3, mode="expected").score(text, gold, posterior)
        assert result["score"] == reference.breakdown.total
        assert result["coverage"] == pytest.approx(min(1.0, sum(q for _, q in best)))


def test_cli_names_an_unknown_task(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown task 'no_such_task'"):
        main(["export", "verl", "no_such_task", "--out", str(tmp_path)])
