"""Graders and answer-set grading: aliases, normalization, duplicates, re-hits, expected mode."""

from __future__ import annotations

import pytest

from beyondmode.grading import ExactMatchGrader, get_grader, grade_expected, grade_labels, normalize_answer

GOLD = (("influenza", "flu"), ("common cold",), ("covid-19", "covid"))


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Flu", "flu"),
        ("  an   apple ", "apple"),
        ("COVID-19!", "covid19"),  # punctuation is deleted, as the official QA scorers do
        ("Ménière’s disease", "menieres disease"),
        ("1,000", "1000"),
        ("U.S.", "us"),
        ("the U.S. Army", "us army"),
        ("Rock 'n' roll", "rock n roll"),
        ("O'Neill", "oneill"),
        ("Café-au-lait", "cafeaulait"),
        ("C++ / C#", "c c"),
        ("tab\tand\u00a0nbsp  and\u2003em space", "tab and nbsp and em space"),
        ("«Le Monde»", "le monde"),
        ("ﬁve", "five"),  # NFKD folds the ligature
        ("Theory", "theory"),  # "the" only as a whole word
        ("", ""),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


def _squad_normalize(text: str) -> str:
    """The official SQuAD v1.1 / HotpotQA `normalize_answer`, written out as the reference."""
    import re
    import string

    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


@pytest.mark.parametrize(
    "text", ["1,000", "U.S.", 'The Beatles\' "White Album"', "e-mail", "$5.00", "A.  B -- c", "50% (approx.)"]
)
def test_ascii_normalization_equals_the_official_scorer(text: str) -> None:
    assert normalize_answer(text) == _squad_normalize(text)


def test_every_ascii_character_takes_the_same_path_as_unicode() -> None:
    import unicodedata

    from beyondmode.grading.exact import _ASCII_DELETE, _UNICODE_DELETIONS

    for code in range(128):
        text = f"X{chr(code)}y"
        unicode_path = unicodedata.normalize("NFKD", text.casefold()).translate(_UNICODE_DELETIONS)
        assert text.lower().translate(_ASCII_DELETE) == unicode_path, repr(text)
        assert normalize_answer(text) == _squad_normalize(text), repr(text)


def test_long_texts_are_not_memoised() -> None:
    from beyondmode.grading.exact import _normalize_cached

    before = _normalize_cached.cache_info().currsize
    assert normalize_answer("U.S. " * 1000) == " ".join(["us"] * 1000)
    assert _normalize_cached.cache_info().currsize == before


@pytest.mark.parametrize(
    ("candidate", "index"),
    [
        ("Flu", 0),
        ("influenza.", 0),
        ("the common cold", 1),
        ("COVID19", 2),
        ("Covid 19", None),  # "covid-19" normalizes to "covid19" (punctuation deleted, as officially)
        ("measles", None),
        ("", None),
        ("!!", None),
    ],
)
def test_exact_match_with_aliases(candidate: str, index: int | None) -> None:
    assert ExactMatchGrader().match(candidate, GOLD) == index


@pytest.mark.parametrize(
    ("name", "texts", "hits", "matched", "distinct"),
    [
        ("all distinct hits", ["flu", "common cold", "covid"], (1, 1, 1), (0, 1, 2), True),
        ("case-only duplicate is a miss", ["flu", "FLU", "covid"], (1, 0, 1), (0, None, 2), False),
        (
            "punctuation duplicate is a miss",
            ["common cold", "Common cold.", "x"],
            (1, 0, 0),
            (1, None, None),
            False,
        ),
        (
            "alias hitting an already hit gold element",
            ["flu", "influenza", "covid"],
            (1, 0, 1),
            (0, None, 2),
            False,
        ),
        ("distinct misses stay distinct", ["a", "b", "c"], (0, 0, 0), (None, None, None), True),
        ("duplicate misses are not distinct", ["a", "a", "flu"], (0, 0, 1), (None, None, 0), False),
    ],
)
def test_grade_labels(name: str, texts: list[str], hits: tuple, matched: tuple, distinct: bool) -> None:
    grades = grade_labels(texts, GOLD, get_grader("exact_match"))
    assert grades.hits == tuple(float(h) for h in hits), name
    assert grades.matched == matched, name
    assert grades.distinct is distinct, name
    assert grades.num_gold == 3


def test_grade_expected_uses_posterior_and_zeroes_duplicates() -> None:
    posterior = {"influenza": 0.6, "common cold": 0.3, "covid-19": 0.1}
    grades = grade_expected(["Influenza", "influenza", "covid-19"], posterior, get_grader("exact_match"))
    assert grades.hits == (0.6, 0.0, 0.1)
    assert grades.matched == ("influenza", None, "covid-19")
    assert grades.num_gold == 1
    assert not grades.distinct


def test_unknown_grader_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="exact_match"):
        get_grader("telepathy")


def test_math_grader_equivalences() -> None:
    pytest.importorskip("math_verify")
    grader = get_grader("math")
    assert grader.match("\\frac{1}{2}", (("0.5",),)) == 0
    assert grader.match("2", (("3",), ("4/2",))) == 1
    assert grader.match("7", (("3",),)) is None


def test_math_grader_works_in_worker_threads() -> None:
    """math-verify's signal timeout fails off the main thread; the grader must still find equalities."""
    from concurrent.futures import ThreadPoolExecutor

    pytest.importorskip("math_verify")
    from beyondmode.grading.symbolic import MathGrader

    grader = MathGrader()
    pairs = [("\\frac{1}{2}", "0.5"), ("4/2", "2"), ("2^{3}", "8"), ("\\sqrt{4}", "2"), ("7", "3")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda pair: grader.match(pair[0], ((pair[1],),)), pairs))
    assert results == [0, 0, 0, 0, None]
    assert grader.failures == 0


def test_math_grader_failures_are_counted_and_logged_as_a_metric(monkeypatch, caplog) -> None:
    pytest.importorskip("math_verify")
    import logging

    from beyondmode.grading.symbolic import MathGrader
    from beyondmode.scoring import Scorer
    from beyondmode.train.trl_rewards import ScoreCache, TotalReward

    grader = MathGrader()

    def broken(*args, **kwargs):
        raise RecursionError("deep expression")

    monkeypatch.setattr(grader._math_verify, "verify", broken)
    base = Scorer.for_method("rlvr", grader="math")
    reward = TotalReward(ScoreCache(Scorer(base.answer_format, base.spec, grader)))
    logged: dict[str, float] = {}
    with caplog.at_level(logging.WARNING, logger="beyondmode.grading.symbolic"):
        reward(["<think> x </think> <answer> 1/2 </answer>"], [["0.5"]], log_metric=logged.__setitem__)
    assert logged["grading/failures"] == 1.0
    assert grader.failure_counts == {"RecursionError": 1}
    assert "math grader failure" in caplog.text

    def times_out(*args, **kwargs):  # what math-verify does on a timeout: log it and say "not equal"
        logging.getLogger("math_verify.grader").warning("Timeout during comparison")
        return False

    monkeypatch.setattr(grader._math_verify, "verify", times_out)
    assert grader.match("1/2", (("0.5",),)) is None
    assert grader.failure_counts["timeout"] == 1 and grader.failures == 2
    logging.getLogger("math_verify.grader").warning("Timeout during comparison")  # not while grading
    assert grader.failures == 2
