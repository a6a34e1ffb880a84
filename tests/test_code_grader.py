"""The code grader: normalization (duplicates), program extraction, sandboxed matching, and rewards of K
programs through `Scorer` with grader "code"."""

from __future__ import annotations

import pytest

from beyondmode.formats import AnswerFormat
from beyondmode.grading import get_grader, grade_labels
from beyondmode.grading.code import CodeGrader, extract_program, normalize_program
from beyondmode.sandbox import Limits, Sandbox
from beyondmode.scoring import Scorer

TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"
GOLD = ((TESTS,),)
RIGHT = "def add(a, b):\n    return a + b\n"
RIGHT_OTHER = "def add(a, b):\n    return sum([a, b]) if a > -2 else 0\n"  # passes; differs off the tests
WRONG = "def add(a, b):\n    return a - b\n"
WRONG_OTHER = "def add(a, b):\n    return a * b\n"


@pytest.fixture(scope="module")
def grader() -> CodeGrader:
    return CodeGrader(Sandbox(Limits(timeout_s=3.0), workers=2))


# ---------------------------------------------------------------------------------- normalization
SAME_PROGRAM = [
    ("comments", "def f(x):\n    return x + 1  # add one\n", "def f(x):\n    # add one\n    return x + 1\n"),
    ("whitespace", "def f(x):\n    return x+1\n", "def f( x ):\n\n\n        return   x + 1"),
    ("docstring", 'def f(x):\n    """Add one."""\n    return x + 1\n', "def f(x):\n    return x + 1\n"),
    ("module docstring", '"""Module."""\nimport os\n', "import os\n"),
    ("class docstring", "class A:\n    'doc'\n    x = 1\n", "class A:\n    x = 1\n"),
    ("crlf", "def f(x):\r\n    return x + 1\r\n", "def f(x):\n    return x + 1\n"),
    ("quotes", "x = 'a'\n", 'x = "a"\n'),
    ("unparsable, spacing only", "def f(:\n   return", "def f(: return"),
    ("fenced after prose", "Here:\n```python\ndef f(x):\n    return x\n```", "def f(x):\n    return x\n"),
]
DIFFERENT_PROGRAM = [
    ("variable name", "def f(x):\n    return x + 1\n", "def f(y):\n    return y + 1\n"),
    ("constant", "def f(x):\n    return x + 1\n", "def f(x):\n    return x + 2\n"),
    ("string that is not a docstring", "x = 1\n'note'\n", "x = 1\n"),
    ("unparsable vs parsable", "def f(:", "def f(): pass"),
]


@pytest.mark.parametrize(("first", "second"), [pytest.param(a, b, id=n) for n, a, b in SAME_PROGRAM])
def test_same_program_after_normalization(grader: CodeGrader, first: str, second: str) -> None:
    assert grader.canonical(first) == grader.canonical(second)


@pytest.mark.parametrize(("first", "second"), [pytest.param(a, b, id=n) for n, a, b in DIFFERENT_PROGRAM])
def test_different_programs_stay_different(grader: CodeGrader, first: str, second: str) -> None:
    assert grader.canonical(first) != grader.canonical(second)


@pytest.mark.parametrize(
    "text",
    ["(" * 200 + ")" * 200, "x = " + "[" * 5000, "\x00", "def f():\n\treturn 1\n        return 2"],
)
def test_normalization_never_raises(text: str) -> None:
    assert normalize_program(text).startswith(("ast:", "text:"))


def test_extract_program_keeps_plain_code_and_takes_the_first_fence() -> None:
    assert extract_program(RIGHT) == RIGHT
    assert extract_program("Sure.\n```python\nx = 1\n```\nand\n```python\nx = 2\n```") == "x = 1\n"
    assert extract_program("no code here ```") == "no code here ```"


# ---------------------------------------------------------------------------------------- matching
def test_code_grader_is_registered() -> None:
    grader = get_grader("code")
    assert isinstance(grader, CodeGrader)
    assert grader.name == "code"


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [(RIGHT, 0), (RIGHT_OTHER, 0), (WRONG, None), ("", None), ("   ", None), ("def add(a, b) return", None)],
)
def test_match(grader: CodeGrader, candidate: str, expected: int | None) -> None:
    assert grader.match(candidate, GOLD) == expected


def test_match_finds_the_gold_element_and_alias_that_pass(grader: CodeGrader) -> None:
    gold = (("assert add(1, 1) == 3",), ("assert add(1, 1) == 0", "assert add(1, 1) == 2"))
    assert grader.match(RIGHT, gold) == 1
    assert grader.match(WRONG, gold) == 1
    assert grader.match(WRONG_OTHER, gold) is None


def test_match_many_runs_once_per_distinct_job_and_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    grader = CodeGrader(Sandbox(Limits(timeout_s=3.0), workers=2))
    batches: list[int] = []
    original = grader.sandbox.run_many
    monkeypatch.setattr(grader.sandbox, "run_many", lambda jobs: batches.append(len(jobs)) or original(jobs))
    candidates = [RIGHT, WRONG, RIGHT, RIGHT_OTHER, ""]
    assert grader.match_many(candidates, GOLD) == [0, None, 0, 0, None]
    assert batches == [3]
    assert grader.match_many(candidates, GOLD) == [0, None, 0, 0, None]
    assert grader.match(RIGHT, GOLD) == 0
    assert batches == [3]


def test_match_pairs_mixes_examples(grader: CodeGrader) -> None:
    other = (("assert add(2, 3) == -1",),)
    assert grader.match_pairs([(RIGHT, GOLD), (RIGHT, other), (WRONG, other)]) == [0, None, 0]


def test_code_grader_pickles(grader: CodeGrader) -> None:
    import pickle

    clone = pickle.loads(pickle.dumps(grader))
    assert clone.match(RIGHT, GOLD) == 0


# ----------------------------------------------------------------------------------------- rewards
K3 = AnswerFormat(num_candidates=3)


def completion(programs: list[str], confidences: list[float] | None = None) -> str:
    """A real-looking completion: reasoning, then each program in a fenced block inside its slot."""
    slots = []
    for slot, program in enumerate(programs, start=1):
        text = f"<answer{slot}>\n```python\n{program}```\n</answer{slot}>"
        if confidences is not None:
            text += f" <confidence{slot}> {confidences[slot - 1]} </confidence{slot}>"
        slots.append(text)
    return "<think>\nAdd the two numbers; if a < b or a > b it does not matter.\n</think>\n" + "\n".join(
        slots
    )


@pytest.mark.parametrize(
    ("programs", "hits", "coverage", "distinct"),
    [
        pytest.param(
            [WRONG, WRONG_OTHER, "def add(a, b):\n    return 0\n"], (0.0, 0.0, 0.0), 0.0, True, id="0 pass"
        ),
        pytest.param([WRONG, RIGHT, WRONG_OTHER], (0.0, 1.0, 0.0), 1.0, True, id="1 pass"),
        pytest.param([RIGHT, WRONG, RIGHT_OTHER], (1.0, 0.0, 1.0), 1.0, True, id="2 pass"),
        pytest.param(
            [RIGHT, "def add(a, b):\n    # the sum\n    return a+b\n", WRONG],
            (1.0, 0.0, 0.0),
            1.0,
            False,
            id="duplicate by normalization",
        ),
    ],
)
def test_k_programs_through_the_scorer(
    programs: list[str], hits: tuple[float, ...], coverage: float, distinct: bool
) -> None:
    scorer = Scorer.for_method("multi_rlvr", 3, multi_gold=True, grader="code")
    scored = scorer.score(completion(programs), GOLD)
    assert scored.parsed.format_ok, scored.parsed.violations
    assert scored.grades.hits == hits
    assert scored.grades.distinct is distinct
    assert scored.breakdown.terms["coverage"] == coverage
    assert scored.breakdown.terms["any_hit"] == coverage
    uniqueness = 1.0 if distinct else 0.0
    assert scored.breakdown.terms["uniqueness"] == uniqueness
    assert scored.breakdown.total == pytest.approx(0.5 + 0.5 * coverage * uniqueness)


@pytest.mark.parametrize(
    ("programs", "confidences", "brier"),
    [
        pytest.param([RIGHT, WRONG, WRONG_OTHER], [1.0, 0.0, 0.0], 1.0, id="perfectly calibrated"),
        pytest.param([RIGHT, WRONG, WRONG_OTHER], [0.0, 1.0, 1.0], 0.0, id="perfectly wrong"),
        pytest.param(
            [RIGHT, WRONG, RIGHT_OTHER], [0.8, 0.1, 0.5], 1 - (0.04 + 0.01 + 0.25) / 3, id="two pass"
        ),
    ],
)
def test_brier_with_confidences(programs: list[str], confidences: list[float], brier: float) -> None:
    scorer = Scorer.for_method("multi_rlcr", 3, multi_gold=True, grader="code")
    scored = scorer.score(completion(programs, confidences), GOLD)
    assert scored.parsed.format_ok, scored.parsed.violations
    assert scored.parsed.texts[0] == programs[0].rstrip("\n")  # the fence is unwrapped
    assert scored.breakdown.terms["brier"] == pytest.approx(brier)
    assert scored.breakdown.terms["format"] == 1.0
    assert scored.breakdown.total == pytest.approx(0.5 + 0.5 * 1.0 + 0.5 * brier)


def test_fenced_slots_with_comparison_operators_parse() -> None:
    program = (
        'def add(a, b):\n    """>>> add(1, 2)\n    3\n    """\n    return a + b if a <b or a>b else 2 * a\n'
    )
    parsed = K3.parse(completion([program, WRONG, WRONG_OTHER], [0.6, 0.2, 0.1]))
    assert parsed.format_ok, parsed.violations
    assert parsed.texts == tuple(text.rstrip("\n") for text in (program, WRONG, WRONG_OTHER))
    assert grade_labels(parsed.texts, GOLD, get_grader("code")).hits == (1.0, 0.0, 0.0)


def test_ground_truth_string_works_as_verl_passes_it() -> None:
    """verl hands `ground_truth` as a string: the test program; `[[ground_truth]]` is the gold."""
    scorer = Scorer.for_method("multi_rlvr", 3, multi_gold=True, grader="code")
    as_tuple = scorer.score(completion([WRONG, RIGHT, WRONG_OTHER]), GOLD)
    as_list = scorer.score(completion([WRONG, RIGHT, WRONG_OTHER]), [[TESTS]])
    assert as_list.breakdown == as_tuple.breakdown
    assert as_list.breakdown.terms["coverage"] == 1.0


# --------------------------------------------------------------------------------------- totality
@pytest.mark.parametrize(
    "program",
    [
        pytest.param("x = " + "+".join(["1"] * 1000) + "\n", id="1+1+... x1000"),
        pytest.param("x = " + "**".join(["2"] * 1000) + "\n", id="2**2**... x1000"),
        pytest.param("x = " + "-" * 5000 + "1\n", id="- x5000"),
        pytest.param("x = " + "not " * 3000 + "1\n", id="not x3000"),
    ],
)
def test_canonical_is_total_on_deep_expressions(program: str) -> None:
    key = CodeGrader(Sandbox(Limits(timeout_s=3.0))).canonical(program)
    assert key.startswith(("ast:", "text:"))


# ------------------------------------------------------------------------------ behavioural sameness
IS_EVEN_TESTS = "assert is_even(2) is True\nassert is_even(7) is False\n"
IS_EVEN = "def is_even(n):\n    return n % 2 == 0\n"
IS_EVEN_RENAMED = [
    "def is_even(number):\n    remainder = number % 2\n    return remainder == 0\n",
    "def is_even(k):\n    return not (k % 2)\n",
    "def _parity(value):\n    return value % 2\n\ndef is_even(v):\n    return _parity(v) == 0\n",
]
IS_EVEN_ON_THE_TESTS_ONLY = "def is_even(n):\n    return n in (2, 4)\n"  # passes, differs on probes


def test_renamed_copies_are_one_answer(grader: CodeGrader) -> None:
    gold = ((IS_EVEN_TESTS,),)
    keys = {grader.answer_key(program, gold) for program in [IS_EVEN, *IS_EVEN_RENAMED]}
    assert len(keys) == 1, keys
    assert keys.pop().startswith("behaviour:passed:")
    assert len({grader.canonical(program) for program in [IS_EVEN, *IS_EVEN_RENAMED]}) == 4  # the old key


def test_correct_programs_that_differ_on_probes_are_two_answers(grader: CodeGrader) -> None:
    gold = ((IS_EVEN_TESTS,),)
    assert grader.match_many([IS_EVEN, IS_EVEN_ON_THE_TESTS_ONLY], gold) == [0, 0]
    assert grader.answer_key(IS_EVEN, gold) != grader.answer_key(IS_EVEN_ON_THE_TESTS_ONLY, gold)


def test_failing_programs_are_compared_by_behaviour_too(grader: CodeGrader) -> None:
    assert grader.answer_key(WRONG, GOLD) == grader.answer_key(
        WRONG.replace("a, b", "x, y").replace("a - b", "x - y"), GOLD
    )
    assert grader.answer_key(WRONG, GOLD) != grader.answer_key(WRONG_OTHER, GOLD)
    assert grader.answer_key(WRONG, GOLD) != grader.answer_key(RIGHT, GOLD)


def test_programs_that_never_run_the_tests_keep_the_text_key(grader: CodeGrader) -> None:
    broken = ["def add(a, b) return a", "def add(a, b) return b"]
    assert [grader.answer_key(program, GOLD) for program in broken] == [
        grader.canonical(program) for program in broken
    ]
    assert grader.answer_key(broken[0], GOLD) != grader.answer_key(broken[1], GOLD)


def test_fingerprints_do_not_depend_on_the_runner(tmp_path) -> None:
    """Fresh interpreter or fork server, bwrap or plain: the same program gets the same fingerprint."""
    import os

    os.environ.setdefault("BEYONDMODE_SANDBOX_ALLOW_ROOT", "1")
    fingerprints = set()
    for mode in ("auto", "plain"):
        for fork_server in (False, True):
            with Sandbox(Limits(timeout_s=3.0), requested_mode=mode, fork_server=fork_server) as sandbox:
                fingerprints.add(sandbox.run(IS_EVEN, IS_EVEN_TESTS).fingerprint)
    assert len(fingerprints) == 1 and None not in fingerprints


def test_renamed_copies_earn_no_uniqueness_through_the_scorer() -> None:
    scorer = Scorer.for_method("multi_rlcr", 3, multi_gold=True, grader="code")
    scored = scorer.score(completion([IS_EVEN, *IS_EVEN_RENAMED[:2]], [1.0, 1.0, 1.0]), ((IS_EVEN_TESTS,),))
    assert scored.grades.distinct is False
    assert scored.breakdown.terms["uniqueness"] == 0.0


# ------------------------------------------------------------------------------------- batching
def test_score_file_runs_the_programs_of_many_rows_in_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from beyondmode.methods import method_format, method_spec
    from beyondmode.score_file import score_lines

    grader = CodeGrader(Sandbox(Limits(timeout_s=3.0), workers=2))
    batches: list[int] = []
    original = grader.sandbox.run_many
    monkeypatch.setattr(grader.sandbox, "run_many", lambda jobs: batches.append(len(jobs)) or original(jobs))
    scorer = Scorer(method_format("multi_rlvr", 3), method_spec("multi_rlvr", multi_gold=True), grader)
    generations = [[RIGHT, WRONG, WRONG_OTHER], [WRONG, RIGHT_OTHER, RIGHT], [WRONG_OTHER, WRONG, RIGHT]]
    lines = [json.dumps({"completion": completion(programs), "gold": [TESTS]}) for programs in generations]
    rows = list(score_lines(lines, scorer))
    assert batches == [4]  # the 4 distinct programs of 3 rows, in one parallel batch
    one_by_one = [scorer.score(completion(programs), GOLD) for programs in generations]
    assert [row["hits"] for row in rows] == [list(s.grades.hits) for s in one_by_one]
    assert [row["hits"] for row in rows] == [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]


class CountingSandbox(Sandbox):
    """A real sandbox that records the size of every `run_many` batch."""

    def __init__(self) -> None:
        super().__init__(Limits(timeout_s=3.0), workers=2)
        self.batches: list[int] = []

    def run_many(self, jobs):  # type: ignore[no-untyped-def]
        self.batches.append(len(jobs))
        return super().run_many(jobs)


def _k2(first: str, second: str) -> str:
    return f"<think> t </think> <answer1> {first} </answer1> <answer2> {second} </answer2>"


BATCH = [
    _k2(RIGHT, WRONG),
    _k2(WRONG_OTHER, RIGHT_OTHER),
    _k2(RIGHT, "def add(a, b): return 0"),
    _k2("", WRONG),
]


def test_trl_reward_runs_a_batch_of_programs_in_one_sandbox_batch() -> None:
    from beyondmode.train.trl_rewards import ScoreCache, TotalReward

    sandbox = CountingSandbox()
    scorer = Scorer.for_method("multi_rlvr", num_candidates=2, grader="code")
    scorer = Scorer(scorer.answer_format, scorer.spec, CodeGrader(sandbox), scorer.mode)
    rewards = TotalReward(ScoreCache(scorer))(BATCH, [[[TESTS]]] * len(BATCH))
    assert rewards == [1.0, 1.0, 1.0, 0.0]
    assert sandbox.batches == [5]  # 5 distinct non-empty programs, one batch; scoring reads the memo
    sandbox.close()


def test_verl_batch_runs_its_programs_in_one_sandbox_batch() -> None:
    from beyondmode.grading import register_grader
    from beyondmode.integrations.verl import reward as verl_reward

    sandbox = CountingSandbox()
    register_grader("code", lambda: CodeGrader(sandbox))
    verl_reward._cached_scorer.cache_clear()
    try:
        settings = {"method": "multi_rlvr", "num_candidates": 2, "grader": "code"}
        results = verl_reward.compute_score_batch(
            ["code/test"] * len(BATCH), BATCH, [[[TESTS]]] * len(BATCH), [None] * len(BATCH), **settings
        )
    finally:
        register_grader("code", CodeGrader)
        verl_reward._cached_scorer.cache_clear()
        sandbox.close()
    assert [r["coverage"] for r in results] == [1.0, 1.0, 1.0, 0.0]
    assert sandbox.batches == [5]
