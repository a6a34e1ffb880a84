"""The posterior with every answer's aliases: label-independent expected grading and one serialization."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode.formats import AnswerFormat
from beyondmode.grading import get_grader, grade_expected
from beyondmode.integrations.verl.dataset import verl_row
from beyondmode.integrations.verl.reward import VerlSettings, compute_score
from beyondmode.posterior import Posterior, decode_posterior, encode_posterior
from beyondmode.scoring import Scorer
from beyondmode.tasks.ddx_kb import embedded_kb
from beyondmode.tasks.ddx_sim_task import DdxSimTask
from beyondmode.tasks.export import example_to_row, row_to_example
from beyondmode.train.dataset import example_row

KB = embedded_kb()
SPELLINGS = sorted({spelling for p in KB.pathologies for spelling in p.gold} | {"not a disease"})


def ddx_examples(count: int = 20) -> list:
    return list(DdxSimTask(num_examples=count, seed=3).examples(AnswerFormat(num_candidates=3)))


def test_ddx_sim_posterior_carries_every_pathology_alias() -> None:
    example = ddx_examples(1)[0]
    assert isinstance(example.posterior, Posterior)
    for pathology in KB.pathologies:
        assert example.posterior.aliases_of(pathology.name) == pathology.aliases


def test_alias_of_a_pathology_that_is_not_the_label_earns_its_probability() -> None:
    post = Posterior({"Influenza": 0.6, "Common cold": 0.4}, {"Common cold": ("URTI",)})
    grades = grade_expected(["URTI"], post, get_grader("exact_match"), (("Influenza", "flu"),))
    assert grades.hits == (0.4,)


@settings(max_examples=60, deadline=None)
@given(
    case=st.integers(0, 19),
    texts=st.lists(st.sampled_from(SPELLINGS), min_size=3, max_size=3),
    confidences=st.lists(st.floats(0, 1), min_size=3, max_size=3),
)
def test_expected_terms_do_not_depend_on_the_drawn_label(case: int, texts: list, confidences: list) -> None:
    example = EXAMPLES[case]
    scorer = Scorer.for_method("multi_rlcr", 3, mode="expected")
    body = " ".join(
        f"<answer{i}> {t} </answer{i}> <confidence{i}> {q:.3f} </confidence{i}>"
        for i, (t, q) in enumerate(zip(texts, confidences, strict=True), start=1)
    )
    completion = f"<think> x </think> {body}"
    # through the stored form too, as training reads it
    posterior = decode_posterior(example_row(example)["posterior"])
    terms = {
        pathology.name: scorer.score(completion, (pathology.gold,), posterior).breakdown.terms
        for pathology in KB.pathologies
    }
    first = next(iter(terms.values()))
    assert all(t == first for t in terms.values()), {k: v for k, v in terms.items() if v != first}


EXAMPLES = ddx_examples()


def test_round_trip_through_every_stored_form() -> None:
    example = EXAMPLES[0]
    post = example.posterior
    for stored in (
        example_row(example)["posterior"],  # training dataset column (JSON string)
        verl_row(example, VerlSettings("multi_rlcr"), split="train", index=0, data_source="d")["extra_info"][
            "beyondmode"
        ]["posterior"],  # verl record list
        example_to_row(example)["posterior"],  # `beyondmode data` jsonl
    ):
        decoded = decode_posterior(stored)
        assert decoded == post and decoded.aliases == post.aliases
    assert row_to_example(example_to_row(example)).posterior.aliases == post.aliases
    assert pickle.loads(pickle.dumps(post)).aliases == post.aliases


def test_decode_accepts_the_older_shapes_and_names_the_cell_on_error() -> None:
    assert decode_posterior(json.dumps({"a": 0.25, "b": 0.75})) == {"a": 0.25, "b": 0.75}
    records = np.array([{"answer": "a", "probability": np.float64(0.25)}], dtype=object)
    assert decode_posterior(records) == {"a": 0.25}
    assert decode_posterior(json.dumps([{"answer": "a", "probability": 1.0}])) == {"a": 1.0}
    for empty in ("", "null", None, [], {}):
        assert decode_posterior(empty) is None
    with pytest.raises(ValueError, match="cell 7"):
        decode_posterior([{"answer": "a"}], "cell 7")
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        decode_posterior({"a": 1.5})


def test_verl_reads_the_aliases_it_exported() -> None:
    example = EXAMPLES[0]
    settings_ = VerlSettings("multi_rlcr", reward_mode="expected")
    row = verl_row(example, settings_, split="train", index=0, data_source="d")
    other = next(p for p in KB.pathologies if p.aliases and p.name not in example.gold[0])
    completion = (
        f"<think> x </think> <answer1> {other.aliases[0]} </answer1> <confidence1> 0.5 </confidence1>"
        " <answer2> zz </answer2> <confidence2> 0.1 </confidence2>"
        " <answer3> yy </answer3> <confidence3> 0.1 </confidence3>"
    )
    result = compute_score("d", completion, row["reward_model"]["ground_truth"], row["extra_info"])
    assert result["any_hit"] == pytest.approx(example.posterior[other.name])


def test_encode_is_json_records() -> None:
    assert json.loads(encode_posterior(Posterior({"a": 1.0}, {"a": ("b",)}))) == [
        {"answer": "a", "probability": 1.0, "aliases": ["b"]}
    ]
