"""Knowledge bases: the embedded one, the JSON format and its validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from beyondmode.tasks.ddx_kb import Evidence, EvidenceKind, embedded_kb, kb_from_mapping, load_kb, table_row


def test_embedded_kb_has_what_the_simulator_needs() -> None:
    kb = embedded_kb()
    kinds = {e.kind for e in kb.evidences}
    assert 15 <= len(kb.pathologies) <= 25
    assert kinds == {EvidenceKind.BINARY, EvidenceKind.CATEGORICAL, EvidenceKind.MULTI}
    assert any(e.parent is not None for e in kb.evidences)
    assert abs(kb.prior.sum() - 1) < 1e-12
    names = {p.name for p in kb.pathologies} | {a for p in kb.pathologies for a in p.aliases}
    assert {"Influenza", "COVID-19", "Pulmonary embolism", "GERD", "Migraine"} <= names


def test_embedded_kb_categorical_rows_are_distributions() -> None:
    kb = embedded_kb()
    for evidence in kb.evidences:
        if evidence.kind is EvidenceKind.CATEGORICAL:
            np.testing.assert_allclose(kb.tables[evidence.code].sum(axis=1), 1.0)


BASE = {
    "evidences": {
        "fever": {"kind": "binary"},
        "loc": {"kind": "categorical", "parent": "fever", "values": {"a": "A", "b": "B"}},
    },
    "pathologies": {"X": {"prior": 1, "likelihoods": {"fever": 0.5}}, "Y": {"prior": 3}},
}


def _with(path: list[str], value: object) -> dict:
    data = json.loads(json.dumps(BASE))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("no evidences", {"pathologies": {}}, "missing top-level key 'evidences'"),
        ("unknown kind", _with(["evidences", "fever", "kind"], "ordinal"), "unknown kind"),
        ("no prior", _with(["pathologies", "Y"], {}), "has no 'prior'"),
        ("zero prior", _with(["pathologies", "Y", "prior"], 0), "prior must be > 0"),
        (
            "unknown evidence",
            _with(["pathologies", "X", "likelihoods", "cough"], 0.3),
            "unknown evidence 'cough'",
        ),
        ("probability > 1", _with(["pathologies", "X", "likelihoods", "fever"], 1.5), "outside"),
        ("unknown value", _with(["pathologies", "X", "likelihoods", "loc"], {"c": 0.5}), "unknown values"),
        ("sum > 1", _with(["pathologies", "X", "likelihoods", "loc"], {"a": 0.8, "b": 0.7}), "sum to"),
        ("bad parent", _with(["evidences", "loc", "parent"], "nope"), "parent 'nope'"),
    ],
)
def test_bad_kb_is_rejected_with_a_clear_message(name: str, data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        kb_from_mapping(data, source="test.json")


def test_prior_is_normalised_and_unlinked_pairs_smoothed() -> None:
    kb = kb_from_mapping(BASE)
    np.testing.assert_allclose(kb.prior, [0.25, 0.75])
    assert kb.tables["fever"][1] == pytest.approx(0.01)
    np.testing.assert_allclose(kb.tables["loc"][1], [0.5, 0.5])


def test_load_kb_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(BASE))
    assert load_kb(path).pathology_names == ("X", "Y")
    path.write_text("{")
    with pytest.raises(ValueError, match=r"kb\.json"):
        load_kb(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        load_kb(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("kind", "default", "spec", "expected"),
    [
        (EvidenceKind.CATEGORICAL, "n", {"a": 0.5}, [0.49, 0.5, 0.01]),
        (EvidenceKind.CATEGORICAL, None, {"a": 0.5}, [0.01 / 0.52, 0.5 / 0.52, 0.01 / 0.52]),
        (EvidenceKind.CATEGORICAL, "n", None, [0.98, 0.01, 0.01]),
        (EvidenceKind.MULTI, "n", {"a": 0.5}, [0.0, 0.5, 0.01]),
    ],
)
def test_table_row(kind: EvidenceKind, default: str | None, spec: dict | None, expected: list[float]) -> None:
    evidence = Evidence("e", kind, "E", values=("n", "a", "b"), default=default)
    np.testing.assert_allclose(table_row(evidence, spec, 0.01, "here"), expected)


@pytest.mark.parametrize(
    ("evidence", "values", "text"),
    [
        (Evidence("f", EvidenceKind.BINARY, "Fever"), (), "Fever"),
        (Evidence("f", EvidenceKind.BINARY, "Do you have a fever?"), (), "Do you have a fever? Yes"),
        (
            Evidence("i", EvidenceKind.CATEGORICAL, "How intense is the pain?", values=("0", "7")),
            ("7",),
            "How intense is the pain? 7",
        ),
        (
            Evidence(
                "c",
                EvidenceKind.MULTI,
                "Characterize your pain:",
                values=("a", "b"),
                value_labels={"a": "sharp", "b": "burning"},
            ),
            ("a", "b"),
            "Characterize your pain: sharp, burning",
        ),
    ],
)
def test_evidence_render(evidence: Evidence, values: tuple[str, ...], text: str) -> None:
    assert evidence.render(values) == text
