"""AnswerFormat: rendering, parsing, every violation code, and the golden completions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beyondmode.formats import AnswerFormat, Layout, parse_confidence
from beyondmode.types import Candidate, Violation

MULTI = AnswerFormat(num_candidates=3)
SINGLE = AnswerFormat(num_candidates=1, with_confidence=True)
V = Violation

GOOD = (
    "<think> fever and cough </think>\n"
    "<answer1> influenza </answer1> <confidence1> 0.5 </confidence1>\n"
    "<answer2> common cold </answer2> <confidence2> 0.3 </confidence2>\n"
    "<answer3> covid-19 </answer3> <confidence3> 0.1 </confidence3>"
)


def test_well_formed_multi_answer_parses() -> None:
    parsed = MULTI.parse(GOOD)
    assert parsed.format_ok
    assert parsed.texts == ("influenza", "common cold", "covid-19")
    assert parsed.confidences == (0.5, 0.3, 0.1)
    assert parsed.think == "fever and cough"


@pytest.mark.parametrize(
    ("name", "fmt", "text", "expected"),
    [
        ("missing think", MULTI, GOOD.split("\n", 1)[1], {V.MISSING_THINK}),
        ("missing answer slot", MULTI, GOOD.replace("<answer3> covid-19 </answer3>", ""), {V.MISSING_ANSWER}),
        (
            "missing confidence",
            MULTI,
            GOOD.replace("<confidence2> 0.3 </confidence2>", ""),
            {V.MISSING_CONFIDENCE},
        ),
        ("extra slot", MULTI, GOOD + " <answer4> x </answer4>", {V.EXTRA_SLOT}),
        ("slot zero", MULTI, GOOD + " <answer0> x </answer0>", {V.EXTRA_SLOT}),
        ("duplicate slot", MULTI, GOOD + " <answer2> again </answer2>", {V.DUPLICATE_SLOT}),
        ("duplicate think", MULTI, "<think> a </think>" + GOOD, {V.DUPLICATE_SLOT}),
        ("unclosed at end", MULTI, GOOD + " <analysis> hmm", {V.UNCLOSED_TAG, V.UNEXPECTED_TAG}),
        ("closing a different tag", MULTI, GOOD.replace("</answer1>", "</answer2>"), {V.UNCLOSED_TAG}),
        ("closing tag without opening", MULTI, GOOD + " </answer3>", {V.UNOPENED_TAG}),
        (
            "nested tags",
            MULTI,
            GOOD.replace("<answer1> influenza </answer1>", "<answer1> flu <answer2> x </answer2> </answer1>"),
            {V.NESTED_TAG, V.DUPLICATE_SLOT, V.UNOPENED_TAG, V.OUT_OF_ORDER},
        ),
        ("unnumbered tag in multi format", MULTI, GOOD + " <answer> x </answer>", {V.UNEXPECTED_TAG}),
        ("numbered tag in single format", SINGLE, "<think> t </think> <answer1> x </answer1>", None),
        (
            "answers out of order",
            MULTI,
            GOOD.replace("answer1>", "answerX>")
            .replace("answer3>", "answer1>")
            .replace("answerX>", "answer3>"),
            {V.OUT_OF_ORDER},
        ),
        ("empty answer", MULTI, GOOD.replace("common cold", "  "), {V.EMPTY_ANSWER}),
        ("confidence not a number", MULTI, GOOD.replace("0.3", "high"), {V.CONFIDENCE_NOT_NUMBER}),
        ("confidence with words", MULTI, GOOD.replace("0.3", "0.3 maybe"), {V.CONFIDENCE_NOT_NUMBER}),
        ("confidence above 1", MULTI, GOOD.replace("0.3", "1.3"), {V.CONFIDENCE_OUT_OF_RANGE}),
        ("confidence above 100%", MULTI, GOOD.replace("0.3", "130%"), {V.CONFIDENCE_OUT_OF_RANGE}),
        ("negative confidence", MULTI, GOOD.replace("0.3", "-0.1"), {V.CONFIDENCE_OUT_OF_RANGE}),
        ("NaN confidence", MULTI, GOOD.replace("0.3", "nan"), {V.CONFIDENCE_NOT_FINITE}),
        ("infinite confidence", MULTI, GOOD.replace("0.3", "inf"), {V.CONFIDENCE_NOT_FINITE}),
        ("overflowing confidence", MULTI, GOOD.replace("0.3", "1e999"), {V.CONFIDENCE_NOT_FINITE}),
        ("text before tags", MULTI, "Sure! " + GOOD, {V.TEXT_OUTSIDE_TAGS}),
        ("text after tags", MULTI, GOOD + " Hope this helps.", {V.TEXT_OUTSIDE_TAGS}),
        ("text between tags", MULTI, GOOD.replace("</answer1>", "</answer1> because"), {V.TEXT_OUTSIDE_TAGS}),
        (
            "confidence tag when confidences are off",
            AnswerFormat(3, with_confidence=False),
            GOOD,
            {V.UNEXPECTED_TAG},
        ),
        ("analysis when analysis is off", MULTI, GOOD + " <analysis> unsure </analysis>", {V.UNEXPECTED_TAG}),
        ("empty text", MULTI, "", {V.MISSING_THINK, V.MISSING_ANSWER, V.MISSING_CONFIDENCE}),
    ],
)
def test_violation_codes(name: str, fmt: AnswerFormat, text: str, expected: set[Violation] | None) -> None:
    parsed = fmt.parse(text)
    if expected is None:
        expected = {V.UNEXPECTED_TAG, V.MISSING_ANSWER, V.MISSING_CONFIDENCE}
    assert set(parsed.violations) == expected, name
    assert not parsed.format_ok


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0.4", 0.4),
        (".4", 0.4),
        ("40%", 0.4),
        (" 40 % ", 0.4),
        ("1", 1.0),
        ("0", 0.0),
        ("4e-1", 0.4),
        ("100%", 1.0),
    ],
)
def test_confidence_spellings(raw: str, value: float) -> None:
    parsed_value, problem = parse_confidence(raw)
    assert problem is None
    assert parsed_value == pytest.approx(value)


def test_lenient_reading_keeps_recoverable_answers() -> None:
    parsed = MULTI.parse("Here you go: " + GOOD.replace("<confidence3> 0.1 </confidence3>", ""))
    assert not parsed.format_ok
    assert parsed.texts == ("influenza", "common cold", "covid-19")
    assert parsed.confidences == (0.5, 0.3, None)


def test_unclosed_answer_is_cut_at_the_next_tag() -> None:
    parsed = MULTI.parse(GOOD.replace(" </answer1>", ""))
    assert Violation.NESTED_TAG in parsed.violations
    assert parsed.texts[0] == "influenza"


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("with_confidence", [True, False])
def test_render_parse_round_trip(layout: Layout, k: int, with_confidence: bool) -> None:
    fmt = AnswerFormat(num_candidates=k, with_confidence=with_confidence, layout=layout, with_analysis=True)
    candidates = [
        Candidate(f"answer {i}", round(0.1 * (i + 1), 2) if with_confidence else None) for i in range(k)
    ]
    text = fmt.render(candidates, think="because", analysis="not sure")
    parsed = fmt.parse(text)
    assert parsed.format_ok, (text, parsed.violations)
    assert parsed.texts == tuple(c.text for c in candidates)
    assert parsed.confidences == tuple(c.confidence for c in candidates)
    assert parsed.analysis == "not sure"


def test_split_layout_expects_confidences_after_all_answers() -> None:
    split = AnswerFormat(num_candidates=2, layout=Layout.SPLIT)
    interleaved_text = AnswerFormat(num_candidates=2).render(
        [Candidate("a", 0.5), Candidate("b", 0.4)], think="t"
    )
    assert Violation.OUT_OF_ORDER in split.parse(interleaved_text).violations


def test_optional_think_and_text_outside_allowed() -> None:
    fmt = AnswerFormat(num_candidates=1, with_confidence=False, require_think=False, allow_text_outside=True)
    parsed = fmt.parse("The answer is <answer> Paris </answer>.")
    assert parsed.format_ok
    assert parsed.texts == ("Paris",)


def test_code_fence_inside_answer_is_unwrapped() -> None:
    fmt = AnswerFormat(num_candidates=1, with_confidence=False, require_think=False)
    parsed = fmt.parse("<answer>\n```python\ndef f(x):\n    return x\n```\n</answer>")
    assert parsed.texts == ("def f(x):\n    return x",)


@pytest.mark.parametrize(
    ("fmt", "must_mention"),
    [
        (MULTI, ["<think>", "<answer1>", "<answer3>", "<confidence3>", "3 distinct answers"]),
        (SINGLE, ["<answer>", "<confidence>"]),
        (
            AnswerFormat(num_candidates=2, with_confidence=False, with_analysis=True),
            ["<answer2>", "<analysis>"],
        ),
    ],
)
def test_instructions_describe_the_format(fmt: AnswerFormat, must_mention: list[str]) -> None:
    text = fmt.instructions("Propose distinct diagnoses.")
    assert text.startswith("Propose distinct diagnoses.")
    for fragment in must_mention:
        assert fragment in text
    if not fmt.with_confidence:
        assert "<confidence" not in text


def test_invalid_format_options_raise() -> None:
    with pytest.raises(ValueError, match="num_candidates"):
        AnswerFormat(num_candidates=0)
    with pytest.raises(ValueError, match="layout"):
        AnswerFormat(layout="diagonal")  # type: ignore[arg-type]


GOLDEN = Path(__file__).parent / "data" / "golden_completions.jsonl"


def _golden_rows() -> list[dict]:
    return [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("row", _golden_rows(), ids=lambda row: row["name"])
def test_golden_completions(row: dict) -> None:
    fmt = AnswerFormat(**row["format"])
    parsed = fmt.parse(row["completion"])
    assert [c.text for c in parsed.candidates] == row["texts"]
    assert [c.confidence for c in parsed.candidates] == row["confidences"]
    assert sorted(parsed.violations) == sorted(row["violations"])


# ------------------------------------------------------------------ the published formats (issue 12)
PUBLISHED_RLCR = (
    "<think> To find the year the Eiffel Tower was finished, I recall that it was built for the 1889 "
    "Exposition Universelle in Paris, to mark the centenary of the French Revolution. Construction "
    "began in 1887 and took about two years. </think>\n"
    "<answer> 1889 </answer>\n"
    "<analysis> The link to the 1889 World's Fair is well known and consistent with the construction "
    "timeline I recall, so I am fairly sure. A small risk is confusing completion with the opening "
    "date. </analysis>\n"
    "<confidence> 0.9 </confidence>"
)
PUBLISHED_MULTI_RLCR = (
    "<think>\nThe patient is 34, with sudden fever, dry cough, myalgia and headache during the winter "
    "season. Influenza fits best; COVID-19 has the same picture; a viral URTI is milder.\n</think>\n"
    "<answer1>Influenza</answer1>\n<confidence1>0.55</confidence1>\n"
    "<answer2>COVID-19</answer2>\n<confidence2>0.25</confidence2>\n"
    "<answer3>Viral pharyngitis</answer3>\n<confidence3>0.1</confidence3>\n"
    "<analysis>Myalgia and abrupt onset point to influenza; without a test I cannot rule out COVID-19, "
    "which is why the first two confidences leave room for each other.</analysis>"
)


@pytest.mark.parametrize(
    ("method", "k", "text", "texts", "confidences"),
    [
        ("rlcr", 1, PUBLISHED_RLCR, ["1889"], [0.9]),
        (
            "multi_rlcr",
            3,
            PUBLISHED_MULTI_RLCR,
            ["Influenza", "COVID-19", "Viral pharyngitis"],
            [0.55, 0.25, 0.1],
        ),
    ],
)
def test_presets_accept_the_published_layouts(method, k, text, texts, confidences) -> None:
    from beyondmode.methods import preset

    fmt, _ = preset(method, k)
    for parsed in (fmt.parse(text), fmt.parse_general(text)):  # the fast path and the general parser
        assert parsed.violations == (), parsed.violations
        assert list(parsed.texts) == texts and list(parsed.confidences) == confidences
        assert parsed.analysis and parsed.analysis.split()[0] in ("The", "Myalgia")
    # the same text with a "<" in the analysis goes through the general parser only
    tricky = text.replace("</analysis>", "(p < 0.05) </analysis>")
    assert fmt.parse(tricky).violations == ()


def test_rlvr_presets_keep_the_analysis_off_and_the_option_overrides() -> None:
    from beyondmode.methods import method_format

    assert not method_format("rlvr").with_analysis and not method_format("multi_rlvr").with_analysis
    assert not method_format("multi_rlcr", with_analysis=False).with_analysis
    parsed = method_format("multi_rlcr", 3, with_analysis=False).parse(PUBLISHED_MULTI_RLCR)
    assert parsed.violations == (Violation.UNEXPECTED_TAG,)


@pytest.mark.parametrize(
    ("name", "fmt", "text", "expected"),
    [
        (
            "rlcr analysis twice",
            AnswerFormat(1, with_analysis=True),
            PUBLISHED_RLCR + " <analysis> again </analysis>",
            {V.DUPLICATE_SLOT},
        ),
        (
            "analysis before the answer",
            AnswerFormat(1, with_analysis=True),
            "<think> t </think> <analysis> a </analysis> <answer> x </answer> <confidence> 0.2 </confidence>",
            {V.OUT_OF_ORDER},
        ),
        (
            "analysis between interleaved slots",
            AnswerFormat(2, with_analysis=True),
            "<think> t </think> <answer1> a </answer1> <analysis> z </analysis> <confidence1> 0.2 </confidence1>"
            " <answer2> b </answer2> <confidence2> 0.1 </confidence2>",
            {V.OUT_OF_ORDER},
        ),
        (
            "split layout: analysis between answers and confidences",
            AnswerFormat(2, with_analysis=True, layout=Layout.SPLIT),
            "<think> t </think> <answer1> a </answer1> <answer2> b </answer2> <analysis> z </analysis>"
            " <confidence1> 0.2 </confidence1> <confidence2> 0.1 </confidence2>",
            set(),
        ),
    ],
)
def test_analysis_positions(name: str, fmt: AnswerFormat, text: str, expected: set[Violation]) -> None:
    assert set(fmt.parse(text).violations) == expected, name
    assert fmt.parse(text) == fmt.parse_general(text)


def test_rlcr_render_puts_the_analysis_before_the_confidence() -> None:
    fmt = AnswerFormat(1, with_analysis=True)
    text = fmt.render([Candidate("1889", 0.9)], think="t", analysis="sure")
    assert text.index("<analysis>") < text.index("<confidence>")
    assert fmt.parse(text).format_ok
    assert "between the answer and the confidence" in fmt.instructions().lower()


# ------------------------------------------------------------------ never raise, ASCII slots (issue 12)
def test_slot_number_of_thousands_of_digits_is_an_extra_slot() -> None:
    for text in (
        "<answer" + "1" * 5000 + "> a </answer1>",
        "<think> t </think> <answer1> a </answer" + "1" * 5000 + ">",
        "<confidence" + "0" * 4999 + "1> 0.5 </confidence1>",
    ):
        parsed = MULTI.parse(text)
        assert Violation.EXTRA_SLOT in parsed.violations or Violation.UNCLOSED_TAG in parsed.violations
    assert Violation.EXTRA_SLOT in MULTI.parse("<answer" + "1" * 5000 + "> a </answer1>").violations
    assert Violation.EXTRA_SLOT in MULTI.parse(GOOD + " <answer12> x </answer12>").violations


@pytest.mark.parametrize(
    "digit", ["\u0661", "\u0967", "\uff11", "\U0001d7cf"]
)  # Arabic-Indic, Devanagari, ...
def test_slot_digits_are_ascii_only(digit: str) -> None:
    text = GOOD.replace("answer1>", f"answer{digit}>")
    parsed = MULTI.parse(text)
    assert parsed.texts == ("common cold", "covid-19")  # `<answer١>` is text, not slot 1
    assert Violation.MISSING_ANSWER in parsed.violations


_OLD_FENCE = re.compile(r"\A```[\w+.-]*[ \t]*\n(.*?)\n?[ \t]*```\Z", re.DOTALL)


@given(
    info=st.sampled_from(["", "python", "py ", "c++", "x.y-z", "bad info!"]),
    body=st.text(alphabet=" \t\nab`", max_size=12),
    tail=st.sampled_from(["```", "\n```", "\n \t```", " ```", "``", ""]),
)
@settings(max_examples=400, deadline=None)
def test_fence_unwrapping_reads_like_the_reference_regex(info: str, body: str, tail: str) -> None:
    """The linear `_unwrap_fence` gives what the (quadratic) lazy regex it replaced gave."""
    from beyondmode.formats import _unwrap_fence

    text = f"```{info}\n{body}{tail}"
    match = _OLD_FENCE.match(text)
    assert _unwrap_fence(text) == (match.group(1) if match else text)


def test_a_completion_over_max_chars_is_too_long_and_read_up_to_the_limit() -> None:
    from beyondmode.scoring import Scorer

    fmt = AnswerFormat(num_candidates=2)
    good = fmt.render([Candidate("flu", 0.6), Candidate("cold", 0.3)], think="fever")
    padded = good + " " * (fmt.max_chars - len(good))  # exactly at the limit: fine
    assert fmt.parse(padded).format_ok
    parsed = fmt.parse(padded + " ")
    assert parsed.violations == (Violation.TOO_LONG,)
    assert parsed.texts == ("flu", "cold") and parsed.raw == padded + " "
    # an answer that runs past the limit: read up to it, reported unclosed as well
    cut = AnswerFormat(num_candidates=2, max_chars=len(good) - 20).parse(good)
    assert Violation.TOO_LONG in cut.violations and not cut.format_ok
    assert AnswerFormat(num_candidates=2, max_chars=0).parse(padded + " " * 10**6).format_ok
    scorer = Scorer.for_method("multi_rlcr", num_candidates=2)
    assert scorer.score(padded, [["flu"]]).breakdown.total > 0
    assert scorer.score(padded + " ", [["flu"]]).breakdown.total == 0.0  # the format gate
    with pytest.raises(ValueError, match="max_chars"):
        AnswerFormat(max_chars=-1)
