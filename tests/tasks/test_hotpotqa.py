"""HotpotQA: simplified and distractor formats, the Modified variant, bad rows, the real dev set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from beyondmode.formats import AnswerFormat
from beyondmode.tasks.hotpotqa import HotpotQATask, remove_supporting
from beyondmode.tasks.rows import RowError

FORMAT = AnswerFormat(num_candidates=3)


def test_simplified_format(fixtures: Path) -> None:
    examples = list(HotpotQATask(str(fixtures / "hotpotqa" / "simplified.json")).examples(FORMAT))
    assert [e.gold for e in examples] == [(("Barcelona",),), (("yes",),), (("1973",),)]
    assert examples[0].prompt[1]["content"] == "Question: Which city hosted the 1992 Summer Olympics?"
    assert examples[1].metadata["type"] == "comparison"


def test_distractor_format_puts_contexts_in_the_prompt(fixtures: Path) -> None:
    example = next(iter(HotpotQATask(str(fixtures / "hotpotqa" / "distractor.json")).examples(FORMAT)))
    user = example.prompt[1]["content"]
    assert user.startswith("Context:\n[The Hobbit] The Hobbit is")
    assert "[C. S. Lewis]" in user and user.endswith(
        "Question: In what year did the author of The Hobbit die?"
    )
    assert example.id == "hotpotqa-5a0000000000000000000001"
    without = next(
        iter(HotpotQATask(str(fixtures / "hotpotqa" / "distractor.json"), contexts=False).examples(FORMAT))
    )
    assert without.prompt[1]["content"].startswith("Question:")


def test_modified_removes_supporting_paragraphs_deterministically(fixtures: Path) -> None:
    path = str(fixtures / "hotpotqa" / "distractor.json")
    first = list(HotpotQATask(path, modified=True, seed=3).examples(FORMAT))
    again = list(HotpotQATask(path, modified=True, seed=3).examples(FORMAT))
    assert first == again
    for example in first:
        removed = example.metadata["removed_titles"]
        supporting = {title for title, _ in example.metadata["supporting_facts"]}
        assert set(removed) <= supporting and example.metadata["num_removed"] == len(removed)
        for title in removed:
            assert f"[{title}]" not in example.prompt[1]["content"]


def test_remove_supporting_draws_0_1_or_2_uniformly() -> None:
    context = (("A", ("a",)), ("B", ("b",)), ("C", ("c",)))
    facts = (("A", 0), ("B", 0))
    counts = Counter(
        len(remove_supporting(context, facts, np.random.default_rng([0, i]))[1]) for i in range(3000)
    )
    assert set(counts) == {0, 1, 2}
    assert all(abs(c / 3000 - 1 / 3) < 0.04 for c in counts.values())
    kept, removed = remove_supporting(context, facts, np.random.default_rng(1), max_removed=0)
    assert kept == context and removed == []


def test_modified_needs_contexts(fixtures: Path) -> None:
    with pytest.raises(RowError, match=r"simplified\.json: row 1, field context"):
        list(HotpotQATask(str(fixtures / "hotpotqa" / "simplified.json"), modified=True).examples(FORMAT))


GOOD = {"question": "q?", "answer": "Paris"}


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"question": "q?"}, "answer"),
        ({"question": "", "answer": "Paris"}, "question"),
        ({**GOOD, "context": [["T", "not a list"]]}, r"context\[0\]"),
        ({**GOOD, "context": "text"}, "context"),
        ({**GOOD, "supporting_facts": [["T", "0"]]}, "supporting_facts"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path: Path, row: dict, field: str) -> None:
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps([GOOD, row]))
    with pytest.raises(RowError, match=rf"hotpot.json: row 2, field {field}"):
        list(HotpotQATask(str(path)).examples(FORMAT))
    assert len(list(HotpotQATask(str(path), skip_bad_rows=True).examples(FORMAT))) == 1


def test_real_simplified_dev_loads_every_question(shared_data: Path) -> None:
    examples = list(
        HotpotQATask(str(shared_data / "hotpotqa" / "hotpot_dev_v1_simplified.json")).examples(FORMAT)
    )
    assert len(examples) == 7405
    assert Counter(e.metadata["type"] for e in examples).keys() == {"bridge", "comparison"}
